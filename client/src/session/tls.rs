//! Trust for `wss://`: the platform's web roots (Mozilla's, as shipped in
//! `webpki-roots`) plus, optionally, the certificates of a CA file, for
//! teams whose servers carry a certificate of their own CA. Plain `ws://`
//! URLs need none of this.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use tokio_rustls::rustls::{self, ClientConfig, RootCertStore};
use tokio_tungstenite::Connector;

/// Which certificate authorities a client trusts.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Trust {
    /// PEM file with more CA certificates to trust (besides the web roots).
    pub ca_file: Option<PathBuf>,
}

/// Why the trust settings cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("cannot read the CA file {path}: {source}")]
    Read { path: PathBuf, source: std::io::Error },
    #[error("the CA file {path} holds no PEM certificate (-----BEGIN CERTIFICATE-----)")]
    Empty { path: PathBuf },
    #[error("the CA file {path} holds a certificate that cannot be used: {message}")]
    Bad { path: PathBuf, message: String },
}

impl Trust {
    /// With a CA file.
    pub fn with_ca_file(ca_file: Option<PathBuf>) -> Trust {
        Trust { ca_file }
    }

    /// The TLS connector for `wss://` URLs.
    pub fn connector(&self) -> Result<Connector, TlsError> {
        let mut roots = RootCertStore { roots: webpki_roots::TLS_SERVER_ROOTS.to_vec() };
        if let Some(path) = &self.ca_file {
            add_ca_file(&mut roots, path)?;
        }
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let config = ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| TlsError::Bad { path: PathBuf::new(), message: e.to_string() })?
            .with_root_certificates(roots)
            .with_no_client_auth();
        Ok(Connector::Rustls(Arc::new(config)))
    }
}

fn add_ca_file(roots: &mut RootCertStore, path: &Path) -> Result<(), TlsError> {
    let file = std::fs::File::open(path).map_err(|source| TlsError::Read { path: path.to_path_buf(), source })?;
    let certs = rustls_pemfile::certs(&mut std::io::BufReader::new(file))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|source| TlsError::Read { path: path.to_path_buf(), source })?;
    if certs.is_empty() {
        return Err(TlsError::Empty { path: path.to_path_buf() });
    }
    for cert in certs {
        roots.add(cert).map_err(|e| TlsError::Bad { path: path.to_path_buf(), message: e.to_string() })?;
    }
    Ok(())
}

/// Whether a connection error is the TLS handshake refusing the server
/// (an untrusted or mismatched certificate): retrying cannot help.
pub fn is_tls_refusal(err: &tokio_tungstenite::tungstenite::Error) -> bool {
    use tokio_tungstenite::tungstenite::Error;
    match err {
        Error::Tls(_) => true,
        Error::Io(io) => io.get_ref().is_some_and(|inner| inner.downcast_ref::<rustls::Error>().is_some()),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_or_empty_ca_file_is_a_clear_error() {
        let t = Trust::with_ca_file(Some("/nonexistent/ca.pem".into()));
        assert!(matches!(t.connector(), Err(TlsError::Read { .. })));
        let dir = tempfile::tempdir().expect("temp dir");
        let empty = dir.path().join("ca.pem");
        std::fs::write(&empty, "not a certificate\n").expect("write");
        let t = Trust::with_ca_file(Some(empty));
        assert!(matches!(t.connector(), Err(TlsError::Empty { .. })));
        assert!(Trust::default().connector().is_ok());
    }
}

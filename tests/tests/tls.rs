//! `wss://` end to end: the test makes its own certificate authority and a
//! server certificate signed by it, starts `trustroom-server serve
//! --tls-cert/--tls-key`, and checks that the client trusts the server only
//! when told about the CA (`--ca-file`, `TRUSTROOM_CA_FILE` or `ca_file` in
//! the config file), and that an agent's session connects over `wss://`.
// Test code: a failed expectation is the verdict (the lints bind product code).
#![allow(clippy::expect_used, clippy::panic)]

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use anyhow::{Context, Result, ensure};
use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, KeyPair, KeyUsagePurpose};
use tokio::time::Instant;
use trustroom_e2e::{T, client_bin, free_port, isolated_command, run_process, server_bin};
use trustroom_server::demo::{self, DemoSeed};
use trustroom_server::storage;

/// The PEM files of a test CA and of a server certificate it signed.
struct Pki {
    ca: PathBuf,
    cert: PathBuf,
    key: PathBuf,
    /// A CA that signed nothing here (trusting it must not help).
    other_ca: PathBuf,
}

fn make_ca(name: &str) -> Result<(rcgen::Certificate, KeyPair)> {
    let mut params = CertificateParams::new(Vec::<String>::new())?;
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.distinguished_name.push(DnType::CommonName, name);
    params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    let key = KeyPair::generate()?;
    let cert = params.self_signed(&key)?;
    Ok((cert, key))
}

fn make_pki(dir: &Path) -> Result<Pki> {
    let (ca, ca_key) = make_ca("Trustroom test CA")?;
    let mut params = CertificateParams::new(vec!["localhost".to_string(), "127.0.0.1".to_string()])?;
    params.distinguished_name.push(DnType::CommonName, "trustroom test server");
    let key = KeyPair::generate()?;
    let cert = params.signed_by(&key, &ca, &ca_key)?;
    let (other, _) = make_ca("Some other CA")?;
    let pki = Pki {
        ca: dir.join("ca.pem"),
        cert: dir.join("server.pem"),
        key: dir.join("server.key"),
        other_ca: dir.join("other-ca.pem"),
    };
    std::fs::write(&pki.ca, ca.pem())?;
    std::fs::write(&pki.cert, cert.pem())?;
    std::fs::write(&pki.key, key.serialize_pem())?;
    std::fs::write(&pki.other_ca, other.pem())?;
    Ok(pki)
}

/// `trustroom-server serve` over TLS on a seeded SQLite file.
struct TlsServer {
    url: String,
    seed: DemoSeed,
    _child: tokio::process::Child,
}

impl TlsServer {
    async fn start(home: &Path, pki: &Pki) -> Result<TlsServer> {
        let db = format!("sqlite://{}", home.join("tls.db").display());
        let store = storage::open(&db).await.context("creating the database")?;
        let seed = demo::seed(&store).await.context("seeding the demo room")?;
        drop(store);
        let port = free_port()?;
        let log = home.join("server.log");
        let mut cmd = isolated_command(&server_bin()?, home);
        cmd.args(["--db", &db, "serve", "--listen", &format!("127.0.0.1:{port}")])
            .arg("--tls-cert")
            .arg(&pki.cert)
            .arg("--tls-key")
            .arg(&pki.key)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log)?)
            .kill_on_drop(true);
        let child = cmd.spawn().context("starting trustroom-server serve")?;
        let deadline = Instant::now() + T;
        while tokio::net::TcpStream::connect(("127.0.0.1", port)).await.is_err() {
            let text = std::fs::read_to_string(&log).unwrap_or_default();
            ensure!(Instant::now() < deadline, "the TLS server did not listen within {T:?}: {text}");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        Ok(TlsServer { url: format!("wss://127.0.0.1:{port}"), seed, _child: child })
    }

    fn token(&self, role: &str) -> Result<String> {
        Ok(self.seed.member(role).with_context(|| format!("no demo member {role}"))?.token.clone())
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cli_trusts_a_wss_server_only_with_its_ca() -> Result<()> {
    // Built before the server starts.
    let client = client_bin()?;
    let home = tempfile::tempdir()?;
    let pki = make_pki(home.path())?;
    let server = TlsServer::start(home.path(), &pki).await?;
    let token = server.token("owner")?;
    let env = [("TRUSTROOM_TOKEN", token.as_str())];
    let ca = pki.ca.display().to_string();

    // With the CA file as a flag: the rooms are listed.
    let run = run_process(&client, &["--url", &server.url, "--ca-file", &ca, "rooms"], home.path(), &env).await?;
    ensure!(run.success(), "rooms over wss:// with --ca-file: {run:?}");
    ensure!(run.stdout.contains(&server.seed.title), "the demo room is listed: {run:?}");

    // From the environment, and from the config file.
    let with_env = [("TRUSTROOM_TOKEN", token.as_str()), ("TRUSTROOM_CA_FILE", ca.as_str())];
    let run = run_process(&client, &["--url", &server.url, "--json", "rooms"], home.path(), &with_env).await?;
    ensure!(run.success(), "rooms over wss:// with TRUSTROOM_CA_FILE: {run:?}");
    let config = home.path().join("trustroom.toml");
    std::fs::write(&config, format!("url = {:?}\nca_file = {ca:?}\n", server.url))?;
    let config = config.display().to_string();
    let run = run_process(&client, &["--config", &config, "show", &server.seed.title], home.path(), &env).await?;
    ensure!(run.success(), "show over wss:// with ca_file in the config: {run:?}");
    let run = run_process(&client, &["--config", &config, "config", "show"], home.path(), &env).await?;
    ensure!(run.stdout.contains(&format!("ca_file: {ca}  (from config file)")), "config show names it: {run:?}");

    // Without it, or with a CA that did not sign the server's certificate:
    // a clear error, exit 3 (cannot connect), at once (no retrying).
    for extra in [vec![], vec!["--ca-file", pki.other_ca.to_str().context("path")?]] {
        let mut args = vec!["--url", server.url.as_str(), "--timeout", "60"];
        args.extend(extra.iter().copied());
        args.push("rooms");
        let started = Instant::now();
        let run = run_process(&client, &args, home.path(), &env).await?;
        ensure!(run.code == Some(3), "an untrusted certificate exits 3: {run:?}");
        ensure!(run.stderr.starts_with("error[cannot_connect]:"), "{run:?}");
        ensure!(run.stderr.contains("certificate is not trusted") && run.stderr.contains("--ca-file"), "{run:?}");
        ensure!(started.elapsed() < Duration::from_secs(60), "a certificate refusal is not retried until --timeout");
    }

    // A CA file that is not there is a configuration error (exit 2).
    let missing = home.path().join("missing.pem").display().to_string();
    let run = run_process(&client, &["--url", &server.url, "--ca-file", &missing, "rooms"], home.path(), &env).await?;
    ensure!(run.code == Some(2) && run.stderr.contains("cannot read the CA file"), "{run:?}");
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_agent_session_connects_over_wss() -> Result<()> {
    let client = client_bin()?;
    let home = tempfile::tempdir()?;
    let pki = make_pki(home.path())?;
    let server = TlsServer::start(home.path(), &pki).await?;
    let token = server.token("agent/objection-normaliser")?;
    let room = server.seed.room.to_string();
    let args = ["agent", "objection-normaliser", "--once", "--room", room.as_str(), "--url", server.url.as_str()];
    let with_ca = [("TRUSTROOM_TOKEN", token.as_str()), ("TRUSTROOM_CA_FILE", pki.ca.to_str().context("path")?)];
    let run = run_process(&client, &args, home.path(), &with_ca).await?;
    ensure!(run.success(), "the agent joins over wss:// with the CA: {run:?}");

    let run = run_process(&client, &args, home.path(), &[("TRUSTROOM_TOKEN", token.as_str())]).await?;
    ensure!(run.code == Some(3), "without the CA the agent stops at once, exit 3: {run:?}");
    ensure!(run.stderr.contains("certificate is not trusted"), "{run:?}");
    Ok(())
}

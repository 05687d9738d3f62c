//! The server's Ed25519 signing key: generated once (on the first start of
//! `serve`/`demo`, or at the first release, whichever comes first), stored
//! in the database's `server_keys` table, and used to sign release
//! manifests. `trustroom-server key show` prints the public key that
//! downstream reviewers verify bundles with.

use ed25519_dalek::SigningKey;
use trustroom_shared::manifest::public_key_hex;

use crate::clock::now_ms;
use crate::storage::{KeyRecord, Store};

/// Name of the manifest signing key in `server_keys`.
pub const MANIFEST_KEY: &str = "manifest-signing";

/// The algorithm recorded with the key.
pub const ALGORITHM: &str = "ed25519";

/// The server's signing key.
#[derive(Clone)]
pub struct ServerKey {
    key: SigningKey,
    pub created_ms: i64,
}

impl std::fmt::Debug for ServerKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServerKey").field("public_key", &self.public_hex()).finish_non_exhaustive()
    }
}

impl ServerKey {
    /// The Ed25519 key (for `manifest::sign_manifest`).
    pub fn signing(&self) -> &SigningKey {
        &self.key
    }

    /// Hex of the 32-byte public key.
    pub fn public_hex(&self) -> String {
        public_key_hex(&self.key)
    }

    /// First 16 hex digits of SHA-256 of the public key, for logs.
    pub fn fingerprint(&self) -> String {
        let h = trustroom_shared::canonical::sha256_hex(&self.key.verifying_key().to_bytes());
        h[..16].to_string()
    }

    fn from_record(record: &KeyRecord) -> anyhow::Result<ServerKey> {
        anyhow::ensure!(record.algorithm == ALGORITHM, "unsupported key algorithm {:?}", record.algorithm);
        let secret: [u8; 32] = hex::decode(&record.secret_key)
            .ok()
            .and_then(|b| b.try_into().ok())
            .ok_or_else(|| anyhow::anyhow!("the stored signing key is not 32 bytes of hex"))?;
        let key = SigningKey::from_bytes(&secret);
        anyhow::ensure!(
            public_key_hex(&key) == record.public_key,
            "the stored signing key does not match its stored public key"
        );
        Ok(ServerKey { key, created_ms: record.created_ms })
    }
}

/// The server's key, generating and storing it when the database has none.
pub async fn server_key(store: &Store) -> anyhow::Result<ServerKey> {
    if let Some(record) = store.stored_key(MANIFEST_KEY).await? {
        return ServerKey::from_record(&record);
    }
    let secret: [u8; 32] = rand::random();
    let key = SigningKey::from_bytes(&secret);
    let candidate = KeyRecord {
        name: MANIFEST_KEY.to_string(),
        algorithm: ALGORITHM.to_string(),
        public_key: public_key_hex(&key),
        secret_key: hex::encode(secret),
        created_ms: now_ms(),
    };
    let stored = store.signing_key(&candidate).await?;
    ServerKey::from_record(&stored)
}

/// The stored key, without creating one.
pub async fn existing_key(store: &Store) -> anyhow::Result<Option<ServerKey>> {
    store.stored_key(MANIFEST_KEY).await?.as_ref().map(ServerKey::from_record).transpose()
}

//! Verifying and exporting a room's audit chain.

use anyhow::Context as _;
use trustroom_shared::audit::{AuditEntry, ChainBreak, verify_chain};
use trustroom_shared::merkle::{self, SignedCheckpoint};

use crate::storage::Store;

/// Result of verifying one chain.
#[derive(Debug)]
pub struct Verification {
    pub entries: usize,
    pub head: Option<String>,
    pub first_break: Option<ChainBreak>,
}

/// Verifies the chain `chain` (a room id, or `server`) in storage order.
pub async fn verify(store: &Store, chain: &str) -> anyhow::Result<Verification> {
    let entries = store.audit_chain(chain).await?;
    let first_break = verify_chain(&entries).err();
    Ok(Verification { entries: entries.len(), head: entries.last().map(|e| e.hash.clone()), first_break })
}

/// The chain as JSON lines, in seq order.
pub async fn export(store: &Store, chain: &str) -> anyhow::Result<Vec<AuditEntry>> {
    Ok(store.audit_chain(chain).await?)
}

/// The outcome of `audit prove-consistency`.
#[derive(Debug, serde::Serialize)]
pub struct Consistency {
    /// Whether the log now extends the old checkpoint (its first `old.size`
    /// entries are exactly the ones the old checkpoint signed).
    pub consistent: bool,
    pub old: SignedCheckpoint,
    /// The log now, signed.
    pub new: SignedCheckpoint,
    /// The consistency proof from `old` to `new` (hex, RFC 6962), computed
    /// from the log as stored: it verifies only if the log only grew.
    pub proof: Vec<String>,
    /// Why not, when not.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub problem: Option<String>,
}

/// The room's log now, as a signed checkpoint.
pub async fn checkpoint(store: &Store, room: &str) -> anyhow::Result<SignedCheckpoint> {
    let key = crate::signing::server_key(store).await?;
    let leaves = merkle::leaves(&store.audit_chain(room).await?);
    Ok(merkle::sign_checkpoint(merkle::Checkpoint::new(merkle::origin(room), &leaves), key.signing()))
}

/// Proves that the room's log as stored extends `old` (a checkpoint signed
/// by this server's key, e.g. from a release bundle), and verifies the
/// proof as a downstream reviewer would: with the old and new roots only.
pub async fn prove_consistency(store: &Store, room: &str, old: SignedCheckpoint) -> anyhow::Result<Consistency> {
    let key = crate::signing::server_key(store).await?;
    let entries = store.audit_chain(room).await?;
    let leaves = merkle::leaves(&entries);
    let new = merkle::sign_checkpoint(merkle::Checkpoint::new(merkle::origin(room), &leaves), key.signing());
    let m = old.checkpoint.size as usize;
    let proof = merkle::consistency_proof(m, &leaves);
    let problem = if !merkle::checkpoint_signed(&old, &key.public_hex()) {
        Some("the old checkpoint is not signed by this server's key".to_string())
    } else if old.checkpoint.origin != merkle::origin(room) {
        Some(format!("the old checkpoint is of {}, not of {}", old.checkpoint.origin, merkle::origin(room)))
    } else if m > leaves.len() {
        Some(format!(
            "the log has {} entries, fewer than the {m} the old checkpoint signed: entries were dropped",
            leaves.len()
        ))
    } else {
        let (Some(old_root), Some(new_root)) = (old.checkpoint.root_hash(), new.checkpoint.root_hash()) else {
            anyhow::bail!("a checkpoint root is not 32 bytes of base64");
        };
        (!merkle::verify_consistency(m as u64, leaves.len() as u64, &old_root, &new_root, &proof)).then(|| {
            format!(
                "the first {m} entries of the log are not the ones the old checkpoint signed: entries were altered, \
                 dropped or reordered"
            )
        })
    };
    Ok(Consistency { consistent: problem.is_none(), old, new, proof: merkle::hashes_to_hex(&proof), problem })
}

/// The signed checkpoint a release bundle's event carries.
pub fn bundle_checkpoint(bundle_text: &str) -> anyhow::Result<SignedCheckpoint> {
    let v: serde_json::Value = serde_json::from_str(bundle_text).context("the bundle is not JSON")?;
    let cp = v["release"]["event"]["checkpoint"].clone();
    anyhow::ensure!(!cp.is_null(), "the bundle's release event carries no audit checkpoint");
    serde_json::from_value(cp).context("the bundle's audit checkpoint does not parse")
}

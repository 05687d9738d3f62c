//! Verifying and exporting a room's audit chain.

use trustroom_shared::audit::{AuditEntry, ChainBreak, verify_chain};

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

//! The tamper-evident audit chain: each entry carries the SHA-256 of the
//! one before it; its own hash covers its fields and that link.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::canonical::{canonical_json, sha256_hex};

/// Hash standing before the first entry of every room's chain.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// One audit entry.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditEntry {
    /// Position in the room's chain, from 1, contiguous.
    pub seq: u64,
    pub room: String,
    pub at_ms: i64,
    /// User id or `system`/`admin`.
    pub actor: String,
    /// e.g. `change.section_edited`, `annex.view`, `refused`, `member.added`.
    pub kind: String,
    /// Room revision at the time (after the change, for changes).
    pub revision: u64,
    pub detail: Value,
    pub prev_hash: String,
    pub hash: String,
}

#[derive(Serialize)]
struct Hashed<'a> {
    seq: u64,
    room: &'a str,
    at_ms: i64,
    actor: &'a str,
    kind: &'a str,
    revision: u64,
    detail: &'a Value,
    prev_hash: &'a str,
}

/// The hash an entry must carry.
pub fn entry_hash(e: &AuditEntry) -> String {
    sha256_hex(&canonical_json(&Hashed {
        seq: e.seq,
        room: &e.room,
        at_ms: e.at_ms,
        actor: &e.actor,
        kind: &e.kind,
        revision: e.revision,
        detail: &e.detail,
        prev_hash: &e.prev_hash,
    }))
}

/// Builds the next entry after `prev` (or the genesis).
pub fn next_entry(
    prev: Option<(u64, &str)>,
    room: &str,
    at_ms: i64,
    actor: &str,
    kind: &str,
    revision: u64,
    detail: Value,
) -> AuditEntry {
    let (seq, prev_hash) = match prev {
        Some((seq, hash)) => (seq + 1, hash.to_string()),
        None => (1, GENESIS.to_string()),
    };
    let mut e = AuditEntry {
        seq,
        room: room.to_string(),
        at_ms,
        actor: actor.to_string(),
        kind: kind.to_string(),
        revision,
        detail,
        prev_hash,
        hash: String::new(),
    };
    e.hash = entry_hash(&e);
    e
}

/// Where a chain breaks.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
pub enum ChainBreak {
    #[error("entry at position {position} has seq {found}, expected {expected} (deleted or reordered)")]
    Sequence { position: usize, expected: u64, found: u64 },
    #[error("entry seq {seq}: prev_hash does not match the hash of the entry before it")]
    Link { seq: u64 },
    #[error("entry seq {seq}: content does not match its hash (altered)")]
    Content { seq: u64 },
}

/// Verifies a chain in storage order; returns the first break.
pub fn verify_chain(entries: &[AuditEntry]) -> Result<(), ChainBreak> {
    let mut prev_hash = GENESIS.to_string();
    for (i, e) in entries.iter().enumerate() {
        let expected = i as u64 + 1;
        if e.seq != expected {
            return Err(ChainBreak::Sequence { position: i + 1, expected, found: e.seq });
        }
        if e.prev_hash != prev_hash {
            return Err(ChainBreak::Link { seq: e.seq });
        }
        if entry_hash(e) != e.hash {
            return Err(ChainBreak::Content { seq: e.seq });
        }
        prev_hash = e.hash.clone();
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chain(n: usize) -> Vec<AuditEntry> {
        let mut out: Vec<AuditEntry> = Vec::new();
        for i in 0..n {
            let prev = out.last().map(|e| (e.seq, e.hash.as_str()));
            let e = next_entry(prev, "r", i as i64, "u", "k", i as u64, serde_json::json!({"i": i}));
            out.push(e);
        }
        out
    }

    #[test]
    fn detects_alter_delete_reorder() {
        let good = chain(5);
        assert_eq!(verify_chain(&good), Ok(()));
        let mut altered = good.clone();
        altered[2].detail = serde_json::json!({"i": 99});
        assert_eq!(verify_chain(&altered), Err(ChainBreak::Content { seq: 3 }));
        let mut deleted = good.clone();
        deleted.remove(2);
        assert!(matches!(verify_chain(&deleted), Err(ChainBreak::Sequence { position: 3, .. })));
        let mut reordered = good.clone();
        reordered.swap(1, 2);
        assert!(matches!(verify_chain(&reordered), Err(ChainBreak::Sequence { position: 2, .. })));
    }
}

//! Retention purge, the rules both backends share: every stored copy of a
//! room's annex content, salts, sensitive patterns and promotion passages
//! is scrubbed (`trustroom_shared::access::scrub_json`), then the database
//! is compacted so the bytes are gone from the files, not only from
//! queries (each backend's `purge.rs`). Metadata, content hashes, the audit
//! chain and manifests are not touched.

use serde::Serialize;
use serde_json::Value;
use trustroom_shared::access::scrub_json;
use trustroom_shared::restricted::Redaction;

use super::rows::Columns;
use super::{StorageError, StorageResult};

/// What a purge rewrote.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct PurgeReport {
    pub revisions: usize,
    pub snapshots: usize,
    pub admin_commands: usize,
    /// Whether the database was compacted and the WAL truncated.
    pub compacted: bool,
}

/// `text` (stored JSON) with annex content scrubbed and, with a
/// `redaction`, every declared pattern masked; `None` when unchanged.
fn scrubbed(text: &str, redaction: &Redaction) -> StorageResult<Option<String>> {
    let mut v: Value = serde_json::from_str(text).map_err(|e| StorageError::Corrupt(format!("stored JSON: {e}")))?;
    // Patterns first (annex records still hold them), then the content scrub.
    let masked = redaction.apply(&mut v);
    if !scrub_json(&mut v) && !masked {
        return Ok(None);
    }
    serde_json::to_string(&v).map(Some).map_err(|e| StorageError::Corrupt(format!("encode: {e}")))
}

/// The rows whose stored JSON (column `text`) the scrub changes, as (the
/// row's `key` column, the new text), for the backend to write back.
pub(super) fn scrubbed_rows<R: Columns>(
    rows: &[R],
    key: &str,
    text: &str,
    redaction: &Redaction,
) -> StorageResult<Vec<(i64, String)>> {
    let mut changed = Vec::new();
    for row in rows {
        if let Some(new) = scrubbed(row.text(text)?, redaction)? {
            changed.push((row.int(key)?, new));
        }
    }
    Ok(changed)
}

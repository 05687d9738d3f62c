//! Retention: when annex content is due for purging, the purge record, and
//! scrubbing a state, a stored change or stored JSON.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::change::Change;
use crate::ids::AnnexId;
use crate::release::ReleaseState;
use crate::room::RoomState;

use super::DAY_MS;

/// The retention purge, once it ran.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Purge {
    pub at_ms: i64,
    /// When retention made it due (release/escalation + retention period).
    pub due_ms: i64,
    /// Annexes whose content (and sensitive patterns) were removed.
    pub annexes: Vec<AnnexId>,
    /// Promotion passages removed from the server's records.
    pub passages: usize,
}

/// When retention makes the room's annex content due for purging.
pub fn retention_due_at(state: &RoomState) -> Option<i64> {
    if state.access.purged.is_some() {
        return None;
    }
    let since = match &state.release {
        ReleaseState::Released { at_ms, .. } | ReleaseState::Escalated { at_ms, .. } => *at_ms,
        _ => return None,
    };
    let period = i64::from(state.access.policy.retention_days).saturating_mul(DAY_MS as i64);
    Some(since.saturating_add(period))
}

/// The salt a purged annex keeps instead of its real one: the server's
/// records say the content was there (and its boundary was checked) but is
/// gone. Never sent to clients (salts are redacted).
pub const PURGED_SALT: &str = "purged";

/// Whether the server purged this annex's content under retention.
pub fn is_purged(annex: &crate::annex::Annex) -> bool {
    annex.salt.as_deref() == Some(PURGED_SALT)
}

/// Removes annex content, salts and sensitive patterns, and promotion
/// passages from a state. Returns what was removed.
pub fn scrub_state(state: &mut RoomState) -> (Vec<AnnexId>, usize) {
    let mut annexes = Vec::new();
    for a in state.annexes.values_mut() {
        if a.content.is_some() || !is_purged(a) || !a.sensitive.is_empty() {
            annexes.push(a.id);
        }
        a.content = None;
        a.salt = Some(PURGED_SALT.into());
        a.sensitive.clear();
    }
    let mut passages = 0;
    for p in state.access.promotions.values_mut() {
        if p.passage.take().is_some() {
            passages += 1;
        }
    }
    // Restricted source records follow their annex.
    for s in state.evidence.sources.values_mut().filter(|s| s.annex.is_some()) {
        for v in &mut s.versions {
            v.text = None;
        }
    }
    (annexes, passages)
}

/// [`scrub_state`] for one stored change.
pub fn scrub_change(change: &mut Change) {
    match change {
        Change::AnnexAdded { annex } => {
            annex.content = None;
            annex.salt = Some(PURGED_SALT.into());
            annex.sensitive.clear();
        }
        Change::PromotionRequested { promotion } => promotion.passage = None,
        Change::SourceRecorded { annex: Some(_), version, .. } => version.text = None,
        _ => {}
    }
}

/// Scrubs any stored JSON (a revision body, a snapshot, a queued admin
/// command): every annex-shaped object loses `content`, `salt` and
/// `sensitive`; every promotion-shaped object loses `passage`. Returns
/// whether anything changed.
pub fn scrub_json(value: &mut Value) -> bool {
    let mut changed = false;
    match value {
        Value::Object(map) => {
            let is_annex = map.contains_key("content_hash") && map.contains_key("classification");
            if is_annex {
                changed |= map.remove("content").is_some();
                if map.get("salt").and_then(Value::as_str) != Some(PURGED_SALT) {
                    map.insert("salt".into(), Value::String(PURGED_SALT.into()));
                    changed = true;
                }
                if map.get("sensitive").and_then(Value::as_array).is_some_and(|a| !a.is_empty()) {
                    map.insert("sensitive".into(), Value::Array(Vec::new()));
                    changed = true;
                }
            }
            if map.contains_key("passage_chars") {
                changed |= map.remove("passage").is_some();
            }
            // A restricted source record follows its annex: its text goes
            // (a registered record, or the change that recorded it).
            if map.get("annex").is_some_and(|a| a.is_string()) {
                if let Some(Value::Array(versions)) = map.get_mut("versions") {
                    for v in versions.iter_mut().filter_map(Value::as_object_mut) {
                        changed |= v.remove("text").is_some();
                    }
                }
                if let Some(Value::Object(version)) = map.get_mut("version")
                    && version.contains_key("text_chars")
                {
                    changed |= version.remove("text").is_some();
                }
            }
            for v in map.values_mut() {
                changed |= scrub_json(v);
            }
        }
        Value::Array(items) => {
            for v in items {
                changed |= scrub_json(v);
            }
        }
        _ => {}
    }
    changed
}

//! The room's audit chain: entries appended to a batch, hash-chained; and
//! the entries kept while storage refuses writes (deferred, then handed
//! over to the room's next actor if this one stops first).

use std::collections::HashMap;
use std::sync::Arc;

use serde_json::{Value, json};
use trustroom_shared::audit::{AuditEntry, next_entry};
use trustroom_shared::protocol::ErrorCode;
use trustroom_shared::{RoomId, UserId};

use super::{Answer, Batch, Refusal, Room};

/// Audit entries kept in memory while storage refuses writes, at most.
const MAX_DEFERRED_AUDIT: usize = 10_000;

/// Audit entries a room actor could not store before it stopped (a reload
/// failed after a failed commit): the room's next actor chains them in.
#[derive(Debug, Default)]
pub struct UnstoredAudit {
    entries: Vec<AuditEntry>,
    /// Entries dropped beyond `MAX_DEFERRED_AUDIT` (recorded as a count).
    dropped: u64,
}

/// Where stopping actors leave their unstored audit entries, by room.
pub type AuditHandover = Arc<std::sync::Mutex<HashMap<RoomId, UnstoredAudit>>>;

impl Room {
    /// Takes over the audit entries a previous actor of this room could not
    /// store (they are chained into its first batch), and leaves its own
    /// there if it stops before storing them.
    pub fn with_handover(&mut self, handover: AuditHandover) {
        if let Some(left) = handover.lock().ok().and_then(|mut h| h.remove(&self.id)) {
            tracing::info!(room = %self.id, entries = left.entries.len(), "audit entries of the room's previous actor taken over");
            self.deferred_audit.extend(left.entries);
            self.dropped_audit += left.dropped;
        }
        self.handover = Some(handover);
    }

    /// Before the actor stops: on a graceful shutdown, one last try to store
    /// the audit entries storage refused earlier; whatever is still unstored
    /// is left for the room's next actor (before the handle closes, so that
    /// actor cannot open without it).
    pub(super) async fn settle_deferred_audit(&mut self, shutting_down: bool) {
        if self.deferred_audit.is_empty() && self.dropped_audit == 0 {
            return;
        }
        if shutting_down && !self.broken && self.lease_lost.is_none() {
            let mut batch = Batch::default();
            self.requeue_deferred_audit(&mut batch);
            self.flush(batch).await;
            if self.deferred_audit.is_empty() && self.dropped_audit == 0 {
                return;
            }
        }
        let left = UnstoredAudit {
            entries: std::mem::take(&mut self.deferred_audit),
            dropped: std::mem::take(&mut self.dropped_audit),
        };
        let count = left.entries.len() as u64 + left.dropped;
        match self.handover.as_ref().and_then(|h| h.lock().ok()) {
            Some(mut h) => {
                let kept = h.entry(self.id).or_default();
                kept.entries.extend(left.entries);
                kept.dropped += left.dropped;
                tracing::warn!(room = %self.id, count, "audit entries not stored yet; kept for the room's next actor");
            }
            None => tracing::error!(room = %self.id, count, "audit entries could not be stored and are lost"),
        }
    }

    /// Keeps the audit entries of a batch that could not be stored, except
    /// those of changes and annex views (which were refused).
    pub(super) fn defer_audit(&mut self, entries: Vec<AuditEntry>) {
        for e in entries {
            if e.kind.starts_with("change.") || e.kind == "annex.view" {
                continue;
            }
            if self.deferred_audit.len() >= MAX_DEFERRED_AUDIT {
                self.dropped_audit += 1;
            } else {
                self.deferred_audit.push(e);
            }
        }
    }

    /// Re-chains deferred audit entries onto the current head, into `batch`.
    pub(super) fn requeue_deferred_audit(&mut self, batch: &mut Batch) {
        let deferred = std::mem::take(&mut self.deferred_audit);
        for e in deferred {
            let revision = e.revision.min(self.state.revision);
            self.audit_at(batch, e.at_ms, &e.actor, &e.kind, revision, e.detail);
        }
        if self.dropped_audit > 0 {
            let dropped = std::mem::take(&mut self.dropped_audit);
            let detail = json!({"dropped": dropped, "reason": "storage refused writes"});
            self.audit(batch, "server", "audit.dropped", detail);
        }
    }

    /// Appends an audit entry to the batch (hash-chained to the previous).
    pub(super) fn audit(&mut self, batch: &mut Batch, actor: &str, kind: &str, detail: Value) {
        let revision = self.state.revision;
        let at_ms = self.now();
        self.audit_at(batch, at_ms, actor, kind, revision, detail);
    }

    pub(super) fn audit_at(
        &mut self,
        batch: &mut Batch,
        at_ms: i64,
        actor: &str,
        kind: &str,
        revision: u64,
        detail: Value,
    ) {
        let prev = batch.commit.audit.last().map(|e| (e.seq, e.hash.clone())).or_else(|| self.audit_head.clone());
        let entry: AuditEntry = next_entry(
            prev.as_ref().map(|(s, h)| (*s, h.as_str())),
            &self.id.to_string(),
            at_ms,
            actor,
            kind,
            revision,
            detail,
        );
        batch.commit.audit.push(entry);
    }

    /// The room's audit chain as stored, followed by the entries this batch
    /// will commit: the log as a reader sees it once the batch is stored
    /// (the access history export, the room's metrics).
    pub(super) async fn audit_chain_through(&self, batch: &Batch) -> Result<Vec<AuditEntry>, Refusal> {
        let mut chain = self
            .store
            .audit_chain(&self.id.to_string())
            .await
            .map_err(|e| (ErrorCode::Unavailable, format!("cannot read the audit log right now: {e}")))?;
        chain.extend(batch.commit.audit.iter().cloned());
        Ok(chain)
    }

    /// Records a refusal in the audit log and returns it.
    pub(super) fn refuse(&mut self, batch: &mut Batch, user: UserId, what: &str, refusal: Refusal) -> Answer {
        self.audit(
            batch,
            &user.to_string(),
            "refused",
            json!({"request": what, "code": refusal.0.as_str(), "message": refusal.1}),
        );
        Err(refusal)
    }
}

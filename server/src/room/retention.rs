//! Retention in the room actor: the purge of annex content, the storage
//! scrub after it is committed, and the administrative retention run.

use serde_json::json;
use trustroom_shared::access::{self as acc, Purge};
use trustroom_shared::audit::next_entry;
use trustroom_shared::change::Change;
use trustroom_shared::ids::AnnexId;
use trustroom_shared::restricted::{Matcher, Redaction};

use super::access::when;
use super::requests::to_value;
use super::{ADMIN_ACTOR, Batch, Room};

impl Room {
    /// Purges annex content (and promotion passages) from the room: a
    /// `content_purged` change; storage is scrubbed after it is committed.
    pub(super) fn purge(&mut self, batch: &mut Batch, now: i64) -> Option<u64> {
        let due = acc::retention_due_at(&self.state)?;
        let annexes: Vec<AnnexId> = self
            .state
            .annexes
            .values()
            .filter(|a| a.content.is_some() || !a.sensitive.is_empty() || !acc::is_purged(a))
            .map(|a| a.id)
            .collect();
        let passages = self.state.access.promotions.values().filter(|p| p.passage.is_some()).count();
        let purge = Purge { at_ms: now, due_ms: due, annexes: annexes.clone(), passages };
        let detail = json!({
            "annexes": annexes, "annex_codes": annexes.iter().map(|a| self.annex_code(*a)).collect::<Vec<_>>(),
            "passages": passages, "due_ms": due, "retention_days": self.state.access.policy.retention_days,
            "release": self.state.release.name(),
        });
        // Text that predates its pattern (masked for unentitled members
        // until now) must not outlive the patterns: mask it for everyone,
        // char for char, in memory now and in storage after the commit.
        let redaction = Redaction {
            matcher: Matcher::new(self.state.annexes.values()),
            keep: acc::promoted_passages(&self.state).into_iter().map(|(_, p)| p.to_string()).collect(),
        };
        self.redact_in_memory(&redaction);
        self.access.redaction = redaction;
        let rev = match self.commit_change(batch, ADMIN_ACTOR, None, Change::ContentPurged { purge }, detail) {
            Ok(rev) => rev,
            Err((code, message)) => {
                tracing::error!(room = %self.id, "retention purge refused ({code}): {message}");
                return None;
            }
        };
        for r in self.history.iter_mut().chain(batch.commit.revisions.iter_mut()) {
            acc::scrub_change(&mut r.change);
        }
        self.access.purge_pending = true;
        Some(rev)
    }

    /// Masks every occurrence of a declared pattern (outside promoted
    /// passages) in the room's state and the revisions it keeps in memory.
    fn redact_in_memory(&mut self, redaction: &Redaction) {
        if redaction.matcher.is_empty() {
            return;
        }
        let Ok(mut v) = serde_json::to_value(&self.state) else { return };
        if redaction.apply(&mut v) {
            match serde_json::from_value(v) {
                Ok(state) => self.state = state,
                Err(e) => tracing::error!(room = %self.id, "retention: masked state unreadable ({e}); kept as it was"),
            }
        }
        for r in self.history.iter_mut() {
            let Ok(mut v) = serde_json::to_value(&r.change) else { continue };
            if redaction.apply(&mut v)
                && let Ok(change) = serde_json::from_value(v)
            {
                r.change = change;
            }
        }
    }

    /// The administrative retention run for this room.
    pub(super) fn retention_admin(&mut self, batch: &mut Batch, force: bool) -> Result<String, String> {
        let now = self.now();
        if let Some(p) = &self.state.access.purged {
            if force {
                self.access.purge_pending = true;
                return Ok(format!("room {}: purged at {}; scrubbing storage again", self.id, when(p.at_ms)));
            }
            return Ok(format!("room {}: annex content already purged at {}", self.id, when(p.at_ms)));
        }
        let Some(due) = acc::retention_due_at(&self.state) else {
            return Ok(format!("room {}: not released or escalated; nothing to purge", self.id));
        };
        if now < due {
            return Ok(format!("room {}: retention ends {}; nothing to purge yet", self.id, when(due)));
        }
        match self.purge(batch, now) {
            Some(rev) => Ok(format!("room {}: annex content purged (rev {rev})", self.id)),
            None => Err(format!("room {}: the purge could not be recorded", self.id)),
        }
    }

    /// After a batch is stored: scrub storage when a purge was committed.
    pub(super) async fn after_commit(&mut self) {
        if !self.access.purge_pending {
            return;
        }
        self.access.purge_pending = false;
        if self.state.access.purged.is_none() {
            return;
        }
        match self.store.purge_content(self.id, &self.access.redaction).await {
            Ok(report) => {
                tracing::info!(room = %self.id, ?report, "annex content purged from storage");
                let prev = self.audit_head.clone();
                let entry = next_entry(
                    prev.as_ref().map(|(s, h)| (*s, h.as_str())),
                    &self.id.to_string(),
                    self.now(),
                    "system",
                    "retention.storage_scrubbed",
                    self.state.revision,
                    to_value(&report),
                );
                match self.store.append_audit(std::slice::from_ref(&entry)).await {
                    Ok(()) => self.audit_head = Some((entry.seq, entry.hash)),
                    Err(e) => tracing::error!(room = %self.id, "cannot audit the storage scrub: {e}"),
                }
            }
            Err(e) => {
                tracing::error!(room = %self.id, "retention: scrubbing storage failed: {e}; `trustroom-server retention run --force` retries");
            }
        }
    }
}

//! Sequencing and group commit: a change becomes the next revision in
//! memory, a batch of them is stored in one transaction, and only then
//! acknowledged and broadcast; a failed commit rebuilds from storage.

use serde_json::Value;
use trustroom_shared::UserId;
use trustroom_shared::change::{Change, Revision, apply};
use trustroom_shared::protocol::ErrorCode;

use super::{ADMIN_ACTOR, Batch, Refusal, Room, replay};
use crate::metrics::METRICS;
use crate::storage::StorageError;

impl Room {
    /// Commits the batch, then acknowledges and broadcasts. On a storage
    /// failure the in-memory state is rebuilt from storage and every
    /// request of the batch is refused: nothing is half-applied.
    pub(super) async fn flush(&mut self, mut batch: Batch) {
        // Departures end access; room checks are re-evaluated (access.rs).
        self.derive(&mut batch);
        if !batch.commit.revisions.is_empty() || !batch.commit.audit.is_empty() {
            if self.state.revision >= self.snapshot_revision + self.config.snapshot_every
                && !batch.commit.revisions.is_empty()
            {
                batch.commit.snapshot = Some(self.state.clone());
            }
            batch.commit.fence = self.fence.clone();
            let started = std::time::Instant::now();
            let committed = self.store.commit(self.id, &batch.commit).await;
            METRICS.commit(started.elapsed(), committed.is_ok(), batch.commit.revisions.len());
            if let Err(e) = committed {
                tracing::error!(room = %self.id, "commit failed: {e}");
                let fenced = matches!(e, StorageError::Fenced(_));
                let code = if e.is_unavailable() || fenced { ErrorCode::Unavailable } else { ErrorCode::Internal };
                let message = format!("the change could not be stored ({e}); nothing was applied");
                if fenced {
                    // Another node sequences the room now: stop at once,
                    // answer everything, tell the clients to go there.
                    self.lease_lost = Some("another node took the room over".into());
                    for (tx, _) in batch.join_replies.into_iter().chain(batch.replies) {
                        let _ = tx.send(Err(self.lease_refusal()));
                    }
                    for (tx, _) in batch.admin_replies {
                        let _ = tx.send(Err(message.clone()));
                    }
                    return;
                }
                if let Err(reload) = self.reload().await {
                    // Memory may now hold revisions storage does not: stop
                    // this actor; the next request reopens the room from
                    // storage.
                    tracing::error!(room = %self.id, "reload after failed commit failed: {reload}; closing the room");
                    self.broken = true;
                }
                // Reads go on: joiners received committed state and stay;
                // their audit entries, and those of refusals already
                // answered, are kept and stored with the next batch that
                // can be. Changes and annex views are refused.
                self.defer_audit(batch.commit.audit);
                for (tx, answer) in batch.join_replies {
                    let _ = tx.send(answer);
                }
                for (tx, answer) in batch.replies {
                    let refused = match answer {
                        Ok(_) => Err((code, message.clone())),
                        other => other,
                    };
                    let _ = tx.send(refused);
                }
                for (tx, _) in batch.admin_replies {
                    let _ = tx.send(Err(message.clone()));
                }
                return;
            }
            if let Some(s) = &batch.commit.snapshot {
                self.snapshot_revision = s.revision;
            }
            if let Some(last) = batch.commit.audit.last() {
                self.audit_head = Some((last.seq, last.hash.clone()));
            }
        }
        // A committed retention purge: scrub storage too (access.rs).
        self.after_commit().await;
        // Each event is serialized once and the bytes shared by every
        // recipient; their writers flush what is queued in one write.
        // (filtered per recipient where a frame matches declared patterns: egress.rs).
        for rev in &batch.commit.revisions {
            self.broadcast_revision(rev);
        }
        let changed = !batch.commit.revisions.is_empty();
        if !batch.commit.revisions.is_empty() {
            METRICS.broadcast(batch.commit.revisions.len(), batch.commit.revisions.len() * self.subscribers.len());
        }
        for (user, reason) in batch.removals {
            self.cut_off(user, &reason);
        }
        for (tx, answer) in batch.join_replies {
            let _ = tx.send(answer);
        }
        for (tx, answer) in batch.replies {
            let _ = tx.send(answer);
        }
        for (tx, result) in batch.admin_replies {
            let _ = tx.send(result);
        }
        // Downstream lanes hear of their releases' status (downstream.rs).
        if changed {
            self.push_lane_status().await;
        }
    }

    /// Rebuilds state from storage after a failed commit.
    pub(super) async fn reload(&mut self) -> anyhow::Result<()> {
        let loaded = self.store.load_room(self.id).await?.ok_or_else(|| anyhow::anyhow!("room vanished"))?;
        self.state = replay(&loaded).map_err(|e| anyhow::anyhow!(e))?;
        self.history = loaded.tail.into_iter().collect();
        while self.history.len() > self.config.history_window {
            self.history.pop_front();
        }
        self.client_seqs = loaded.client_seqs.into_iter().collect();
        self.audit_head = loaded.audit_head;
        Ok(())
    }

    /// Applies a change as the next revision and queues it for commit.
    pub(super) fn commit_change(
        &mut self,
        batch: &mut Batch,
        author: UserId,
        client: Option<trustroom_shared::change::ClientStamp>,
        change: Change,
        audit_detail: Value,
    ) -> Result<u64, Refusal> {
        let rev = Revision { revision: self.state.revision + 1, author, at_ms: self.now(), client, change };
        apply(&mut self.state, &rev).map_err(|e| match e {
            trustroom_shared::change::ApplyError::NotFound(m) => (ErrorCode::NotFound, format!("{m} not found")),
            trustroom_shared::change::ApplyError::Conflict(m) => (ErrorCode::Conflict, m),
            other => (ErrorCode::Invalid, other.to_string()),
        })?;
        if let Some(stamp) = client {
            let e = self.client_seqs.entry(stamp.client).or_insert(0);
            *e = (*e).max(stamp.seq);
        }
        let actor = if author == ADMIN_ACTOR { "admin".to_string() } else { author.to_string() };
        let kind = format!("change.{}", rev.change.kind_name());
        self.audit(batch, &actor, &kind, audit_detail);
        self.history.push_back(rev.clone());
        if self.history.len() > self.config.history_window {
            self.history.pop_front();
        }
        batch.commit.revisions.push(rev);
        Ok(self.state.revision)
    }
}

//! One room = one task that owns its state (an actor). Connections send it
//! commands over a bounded channel; it sequences every change, commits each
//! batch of changes in one transaction (group commit) and only then
//! acknowledges and broadcasts them.

mod access;
mod break_glass;
mod clock;
mod egress;
mod gate;
mod grants;
mod promotion;
mod release;
mod requests;
mod retention;
mod suggestions;

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;

use serde_json::{Value, json};
use tokio::sync::{mpsc, oneshot};
use trustroom_shared::audit::{AuditEntry, next_entry};
use trustroom_shared::change::{Change, Revision, apply};
use trustroom_shared::protocol::{ErrorCode, Presence, Request, ServerFrame};
use trustroom_shared::room::RoomState;
use trustroom_shared::view::snapshot_for;
use trustroom_shared::{ClientId, RoomId, UserId};

use crate::admin::AdminCommand;
use crate::cluster::LeaseTerm;
use crate::config::ServerConfig;
use crate::metrics::METRICS;
use crate::outbox::{ConnInfo, Frame, encode};
use crate::storage::{CommitBatch, Fence, LoadedRoom, StorageError, Store};

/// A refusal: stable code + message.
pub type Refusal = (ErrorCode, String);

/// The answer to a request.
pub type Answer = Result<Value, Refusal>;

/// Author id used for administrative changes.
pub const ADMIN_ACTOR: UserId = UserId(uuid::Uuid::nil());

/// Commands a room accepts.
pub enum RoomCmd {
    Join {
        conn: ConnInfo,
        since: Option<u64>,
        reply: oneshot::Sender<Answer>,
    },
    Request {
        conn: ConnInfo,
        request: Request,
        reply: oneshot::Sender<Answer>,
    },
    Leave {
        conn_id: u64,
    },
    Admin {
        command: AdminCommand,
        reply: oneshot::Sender<Result<String, String>>,
    },
    /// A user's token was revoked: cut their connections off.
    UserRevoked {
        user: UserId,
    },
    /// This node no longer holds the room's lease: stop sequencing, tell
    /// the clients to reconnect (cluster.rs).
    LeaseLost {
        reason: String,
    },
    Shutdown {
        done: oneshot::Sender<()>,
    },
}

/// Handle used to talk to a room.
pub type RoomHandle = mpsc::Sender<RoomCmd>;

struct Subscriber {
    conn: ConnInfo,
}

/// An administrative command's reply channel and its result.
type AdminReply = (oneshot::Sender<Result<String, String>>, Result<String, String>);

/// What a batch has produced but not yet committed.
#[derive(Default)]
struct Batch {
    commit: CommitBatch,
    /// Replies that may only be sent once the batch is durable.
    replies: Vec<(oneshot::Sender<Answer>, Answer)>,
    admin_replies: Vec<AdminReply>,
    /// Connections to cut off after commit (removed members).
    removals: Vec<(UserId, String)>,
    /// Answers to joins: sent even when the batch cannot be stored (the
    /// joiner got committed state; its audit entry is deferred).
    join_replies: Vec<(oneshot::Sender<Answer>, Answer)>,
}

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

impl Batch {
    fn is_empty(&self) -> bool {
        self.commit.revisions.is_empty()
            && self.commit.audit.is_empty()
            && self.replies.is_empty()
            && self.admin_replies.is_empty()
            && self.join_replies.is_empty()
    }
}

/// The room actor.
pub struct Room {
    id: RoomId,
    state: RoomState,
    store: Store,
    config: Arc<ServerConfig>,
    /// Recent revisions (for transforms and catch-up), oldest first.
    history: VecDeque<Revision>,
    /// Beside each entry of `history`: its section edit, parsed once (an
    /// incoming edit is transformed against every edit since its base; at
    /// thousands of edits per second re-parsing them each time dominated).
    edit_ops: VecDeque<Option<ParsedEdit>>,
    subscribers: HashMap<u64, Subscriber>,
    presence: HashMap<ClientId, Presence>,
    /// Highest applied request seq per client.
    client_seqs: HashMap<ClientId, u64>,
    audit_head: Option<(u64, String)>,
    /// Revision of the newest stored snapshot.
    snapshot_revision: u64,
    /// Set when memory and storage may disagree: the actor stops.
    broken: bool,
    /// Audit entries of reads and refusals that happened while storage
    /// refused writes; re-chained into the next batch that is stored.
    deferred_audit: Vec<AuditEntry>,
    /// Deferred entries dropped beyond `MAX_DEFERRED_AUDIT`.
    dropped_audit: u64,
    /// Where deferred entries go if this actor stops before storing them.
    handover: Option<AuditHandover>,
    /// Access governance bookkeeping: the timer, check caches (access.rs).
    access: access::AccessRuntime,
    /// The ingress gate's matcher and probe budgets (gate.rs).
    gate: gate::Gate,
    /// With several nodes: the lease this actor sequences under (every
    /// commit carries it) and the node's lease term (nothing is served
    /// once it ran out). `None` on a single-node store.
    fence: Option<Fence>,
    term: Option<Arc<LeaseTerm>>,
    /// Set when the lease was lost: the actor stops and its clients are
    /// told to reconnect (to the room's new node).
    lease_lost: Option<String>,
}

/// A section edit's operation, parsed (`Err` when the stored op is unreadable).
type ParsedEdit = (trustroom_shared::SectionId, Result<trustroom_shared::ot::TextOp, String>);

fn parse_edit(rev: &Revision) -> Option<ParsedEdit> {
    match &rev.change {
        Change::SectionEdited { section, op } => {
            let unlimited = trustroom_shared::ot::OpLimits { max_components: usize::MAX, max_text_chars: usize::MAX };
            Some((*section, trustroom_shared::ot::TextOp::from_wire(op, unlimited).map_err(|e| e.to_string())))
        }
        _ => None,
    }
}

/// Rebuilds a room's state from what storage holds.
pub fn replay(loaded: &LoadedRoom) -> Result<RoomState, String> {
    let mut state = match &loaded.snapshot {
        Some(s) => s.clone(),
        None => RoomState::new(loaded.record.id, loaded.record.title.clone(), loaded.record.created_ms),
    };
    for rev in &loaded.tail {
        apply(&mut state, rev).map_err(|e| format!("revision {}: {e}", rev.revision))?;
    }
    Ok(state)
}

impl Room {
    /// Opens a room from storage. `None` when it does not exist.
    pub async fn open(id: RoomId, store: Store, config: Arc<ServerConfig>) -> anyhow::Result<Option<Room>> {
        let Some(loaded) = store.load_room(id).await? else {
            return Ok(None);
        };
        let state = replay(&loaded).map_err(|e| anyhow::anyhow!("room {id} cannot be replayed: {e}"))?;
        let snapshot_revision = loaded.snapshot.as_ref().map_or(0, |s| s.revision);
        let keep = loaded.tail.len().saturating_sub(config.history_window);
        let mut history: VecDeque<Revision> = loaded.tail.into_iter().skip(keep).collect();
        // Keep a full window of history (also from before the snapshot) so
        // clients reconnecting after a restart can still be transformed and
        // caught up.
        let missing = config.history_window.saturating_sub(history.len()) as u64;
        if missing > 0 && snapshot_revision > 0 {
            let from = snapshot_revision.saturating_sub(missing);
            let older = store.revisions_between(id, from, snapshot_revision).await?;
            for rev in older.into_iter().rev() {
                history.push_front(rev);
            }
        }
        let edit_ops = history.iter().map(parse_edit).collect();
        Ok(Some(Room {
            id,
            state,
            store,
            config,
            history,
            edit_ops,
            subscribers: HashMap::new(),
            presence: HashMap::new(),
            client_seqs: loaded.client_seqs.into_iter().collect(),
            audit_head: loaded.audit_head,
            snapshot_revision,
            broken: false,
            deferred_audit: Vec::new(),
            dropped_audit: 0,
            handover: None,
            access: access::AccessRuntime::opened(),
            gate: gate::Gate::default(),
            fence: None,
            term: None,
            lease_lost: None,
        }))
    }

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

    /// Sequences under a lease: commits carry `fence`, and the actor stops
    /// once `term` runs out without renewal.
    pub fn under_lease(&mut self, fence: Fence, term: Arc<LeaseTerm>) {
        self.fence = Some(fence);
        self.term = Some(term);
    }

    /// Why this actor must stop sequencing, if it must.
    fn lease_check(&mut self) -> bool {
        if self.lease_lost.is_none() && self.term.as_ref().is_some_and(|t| t.expired()) {
            self.lease_lost = Some("this node could not renew its lease in time".into());
        }
        self.lease_lost.is_some()
    }

    /// The refusal for requests that reach a room after its lease was lost.
    fn lease_refusal(&self) -> Refusal {
        (
            ErrorCode::Unavailable,
            "this server node no longer sequences the room; nothing was applied: reconnect and join again".into(),
        )
    }

    pub fn revision(&self) -> u64 {
        self.state.revision
    }

    /// Runs the actor until shutdown or until every handle is dropped.
    pub async fn run(mut self, mut rx: mpsc::Receiver<RoomCmd>) {
        METRICS.room(1);
        self.serve(&mut rx).await;
        METRICS.room(-1);
    }

    async fn serve(&mut self, rx: &mut mpsc::Receiver<RoomCmd>) {
        let mut shutdown_done: Option<oneshot::Sender<()>> = None;
        while shutdown_done.is_none() && !self.broken && self.lease_lost.is_none() {
            // Commands, or the room's own deadlines on its clock (grant
            // expiry, break-glass end, retention): see access.rs.
            let wake = self.wait_next(rx).await;
            // A node paused or cut off past its lease serves nothing more:
            // another node may sequence the room by now.
            if self.lease_check() {
                if let access::Wake::Command(cmd) = wake {
                    self.refuse_unserved(cmd, &mut shutdown_done);
                }
                break;
            }
            let first = match wake {
                access::Wake::Command(cmd) => cmd,
                access::Wake::Deadline => {
                    self.on_deadline().await;
                    continue;
                }
                access::Wake::Closed => break,
            };
            let mut batch = Batch::default();
            self.requeue_deferred_audit(&mut batch);
            let mut next = Some(first);
            let mut handled = 0usize;
            while let Some(cmd) = next.take() {
                handled += 1;
                match cmd {
                    RoomCmd::Shutdown { done } => {
                        shutdown_done = Some(done);
                        break;
                    }
                    RoomCmd::Join { conn, since, reply } => {
                        // A joiner must only ever see committed state.
                        if !batch.is_empty() {
                            self.flush(std::mem::take(&mut batch)).await;
                        }
                        self.join(conn, since, reply, &mut batch);
                    }
                    RoomCmd::Request { conn, request, reply } => {
                        let discloses = request.spec().discloses;
                        let answer = self.request(&conn, request, &mut batch).await;
                        // Every answer is filtered for its recipient (egress.rs),
                        // except annex detail its handler authorised and audited.
                        let answer = match answer {
                            Ok(v) if discloses => Ok(v),
                            other => self.egress_answer(conn.user, other),
                        };
                        batch.replies.push((reply, answer));
                    }
                    RoomCmd::Leave { conn_id } => self.leave(conn_id),
                    RoomCmd::Admin { command, reply } => {
                        let result = self.admin(command, &mut batch);
                        batch.admin_replies.push((reply, result));
                    }
                    RoomCmd::UserRevoked { user } => {
                        batch.removals.push((user, "your token was revoked".into()));
                    }
                    RoomCmd::LeaseLost { reason } => {
                        // What is batched still goes to storage: the fence
                        // refuses it if another node took over, and lets it
                        // land if none did (then it is acknowledged).
                        self.lease_lost = Some(reason);
                        break;
                    }
                }
                if handled < self.config.batch_max {
                    next = rx.try_recv().ok();
                }
            }
            self.flush(batch).await;
        }
        self.settle_deferred_audit(shutdown_done.is_some()).await;
        // Drain: answer whatever is still queued so nobody waits forever.
        rx.close();
        while let Ok(cmd) = rx.try_recv() {
            self.refuse_unserved(cmd, &mut shutdown_done);
        }
        if let Some(reason) = &self.lease_lost {
            tracing::warn!(room = %self.id, "stopped sequencing the room: {reason}");
            for sub in self.subscribers.values() {
                sub.conn.out.close_now(
                    ErrorCode::Moved,
                    format!(
                        "this server node no longer sequences room {} ({reason}); reconnect and join again",
                        self.id
                    ),
                );
            }
        } else if self.broken {
            for sub in self.subscribers.values() {
                sub.conn.out.close_now(
                    ErrorCode::Unavailable,
                    format!("room {} was closed after a storage error; reconnect to reopen it from storage", self.id),
                );
            }
        } else {
            for sub in self.subscribers.values() {
                sub.conn.out.close_now(ErrorCode::Unavailable, "the server is shutting down; reconnect later");
            }
        }
        if let Some(done) = shutdown_done {
            let _ = done.send(());
        }
    }

    /// Before the actor stops: on a graceful shutdown, one last try to store
    /// the audit entries storage refused earlier; whatever is still unstored
    /// is left for the room's next actor (before the handle closes, so that
    /// actor cannot open without it).
    async fn settle_deferred_audit(&mut self, shutting_down: bool) {
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

    /// Answers a command the actor will not serve (it is stopping).
    fn refuse_unserved(&self, cmd: RoomCmd, shutdown_done: &mut Option<oneshot::Sender<()>>) {
        let refusal = if self.lease_lost.is_some() {
            self.lease_refusal()
        } else if self.broken {
            (
                ErrorCode::Unavailable,
                "the room was closed after a storage error; nothing was applied: join again".into(),
            )
        } else {
            (ErrorCode::Unavailable, "the server is shutting down".into())
        };
        match cmd {
            RoomCmd::Join { reply, .. } | RoomCmd::Request { reply, .. } => {
                let _ = reply.send(Err(refusal));
            }
            RoomCmd::Admin { reply, .. } => {
                let _ = reply.send(Err(refusal.1));
            }
            RoomCmd::Shutdown { done } => match shutdown_done {
                None => *shutdown_done = Some(done),
                Some(_) => {
                    let _ = done.send(());
                }
            },
            RoomCmd::Leave { .. } | RoomCmd::UserRevoked { .. } | RoomCmd::LeaseLost { .. } => {}
        }
    }

    /// Commits the batch, then acknowledges and broadcasts. On a storage
    /// failure the in-memory state is rebuilt from storage and every
    /// request of the batch is refused: nothing is half-applied.
    async fn flush(&mut self, mut batch: Batch) {
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
    }

    /// Keeps the audit entries of a batch that could not be stored, except
    /// those of changes and annex views (which were refused).
    fn defer_audit(&mut self, entries: Vec<AuditEntry>) {
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
    fn requeue_deferred_audit(&mut self, batch: &mut Batch) {
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

    /// Rebuilds state from storage after a failed commit.
    async fn reload(&mut self) -> anyhow::Result<()> {
        let loaded = self.store.load_room(self.id).await?.ok_or_else(|| anyhow::anyhow!("room vanished"))?;
        self.state = replay(&loaded).map_err(|e| anyhow::anyhow!(e))?;
        self.history = loaded.tail.into_iter().collect();
        while self.history.len() > self.config.history_window {
            self.history.pop_front();
        }
        self.edit_ops = self.history.iter().map(parse_edit).collect();
        self.client_seqs = loaded.client_seqs.into_iter().collect();
        self.audit_head = loaded.audit_head;
        Ok(())
    }

    /// Sends a frame to every subscriber (except `skip`); a subscriber whose
    /// queue is full is disconnected (it resyncs when it returns).
    fn broadcast(&mut self, frame: &Frame, skip: Option<u64>) {
        self.broadcast_to(|id| (Some(id) != skip).then(|| frame.clone()));
    }

    /// Sends each subscriber its own frame (egress.rs filters per recipient).
    fn broadcast_each(&mut self, frame_for: impl Fn(u64) -> Frame) {
        self.broadcast_to(|id| Some(frame_for(id)));
    }

    fn broadcast_to(&mut self, frame_for: impl Fn(u64) -> Option<Frame>) {
        let mut stalled = Vec::new();
        for (id, sub) in &self.subscribers {
            let Some(frame) = frame_for(*id) else { continue };
            if !sub.conn.out.try_frame(frame) {
                stalled.push(*id);
            }
        }
        for id in stalled {
            if let Some(sub) = self.subscribers.remove(&id) {
                if sub.conn.out.is_closed() {
                    // Gone already; its Leave is on the way.
                    self.presence.remove(&sub.conn.client);
                    continue;
                }
                tracing::warn!(room = %self.id, conn = id, "subscriber stalled; disconnecting");
                METRICS.stalled();
                sub.conn.out.close_now(ErrorCode::TooLarge, "you fell too far behind; reconnect and resync");
                self.presence.remove(&sub.conn.client);
            }
        }
    }

    fn cut_off(&mut self, user: UserId, reason: &str) {
        let ids: Vec<u64> = self.subscribers.iter().filter(|(_, s)| s.conn.user == user).map(|(id, _)| *id).collect();
        for id in ids {
            if let Some(sub) = self.subscribers.remove(&id) {
                let frame = encode(&ServerFrame::Removed { room: self.id, reason: reason.to_string() });
                if !sub.conn.out.try_frame(frame) {
                    sub.conn.out.close_now(ErrorCode::NotFound, reason.to_string());
                }
                self.presence.remove(&sub.conn.client);
                let gone = encode(&ServerFrame::PresenceGone { room: self.id, client: sub.conn.client });
                self.broadcast(&gone, None);
            }
        }
    }

    /// Appends an audit entry to the batch (hash-chained to the previous).
    fn audit(&mut self, batch: &mut Batch, actor: &str, kind: &str, detail: Value) {
        let revision = self.state.revision;
        let at_ms = self.now();
        self.audit_at(batch, at_ms, actor, kind, revision, detail);
    }

    fn audit_at(&mut self, batch: &mut Batch, at_ms: i64, actor: &str, kind: &str, revision: u64, detail: Value) {
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

    /// Records a refusal in the audit log and returns it.
    fn refuse(&mut self, batch: &mut Batch, user: UserId, what: &str, refusal: Refusal) -> Answer {
        self.audit(
            batch,
            &user.to_string(),
            "refused",
            json!({"request": what, "code": refusal.0.as_str(), "message": refusal.1}),
        );
        Err(refusal)
    }

    /// Applies a change as the next revision and queues it for commit.
    fn commit_change(
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
        self.edit_ops.push_back(parse_edit(&rev));
        self.history.push_back(rev.clone());
        if self.history.len() > self.config.history_window {
            self.history.pop_front();
            self.edit_ops.pop_front();
        }
        batch.commit.revisions.push(rev);
        Ok(self.state.revision)
    }

    fn join(&mut self, conn: ConnInfo, since: Option<u64>, reply: oneshot::Sender<Answer>, batch: &mut Batch) {
        let user = conn.user;
        if self.state.member(user).is_none() {
            let answer = self.refuse(batch, user, "join", crate::hub::room_not_found());
            batch.replies.push((reply, answer));
            return;
        }
        let oldest_kept = self.history.front().map_or(self.state.revision + 1, |r| r.revision);
        // Catch up with events when we still hold them all and they fit the
        // connection's queue comfortably; otherwise send a snapshot.
        let catch_up = since.filter(|s| {
            *s <= self.state.revision
                && *s + 1 >= oldest_kept
                && (self.state.revision - *s) as usize <= self.config.outbox_frames / 2
        });
        let delivered = match catch_up {
            Some(s) => {
                let missed: Vec<Revision> = self.history.iter().filter(|r| r.revision > s).cloned().collect();
                missed.iter().all(|rev| {
                    let frame =
                        self.egress_frame(user, &ServerFrame::Event { room: self.id, rev: Box::new(rev.redacted()) });
                    conn.out.try_frame(frame)
                })
            }
            None => {
                let applied = self.client_seqs.get(&conn.client).copied();
                let presence: Vec<Presence> = self.presence.values().cloned().collect();
                match snapshot_for(&self.state, user, applied, presence) {
                    Some(snapshot) => {
                        let frame = self
                            .egress_frame(user, &ServerFrame::Snapshot { room: self.id, snapshot: Box::new(snapshot) });
                        conn.out.try_frame(frame)
                    }
                    None => false,
                }
            }
        };
        if !delivered {
            conn.out.close_now(ErrorCode::TooLarge, "your connection cannot take the room's state; reconnect");
            batch.replies.push((reply, Err((ErrorCode::Unavailable, "could not deliver the room state".into()))));
            return;
        }
        self.audit(batch, &user.to_string(), "room.join", json!({"since": since, "catch_up": catch_up.is_some()}));
        self.subscribers.insert(conn.conn_id, Subscriber { conn });
        batch.join_replies.push((reply, Ok(json!({"revision": self.state.revision}))));
    }

    fn leave(&mut self, conn_id: u64) {
        if let Some(sub) = self.subscribers.remove(&conn_id)
            && self.presence.remove(&sub.conn.client).is_some()
        {
            let gone = encode(&ServerFrame::PresenceGone { room: self.id, client: sub.conn.client });
            self.broadcast(&gone, None);
        }
    }
}

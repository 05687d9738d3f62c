//! One room = one task that owns its state (an actor). Connections send it
//! commands over a bounded channel; it sequences every change, commits each
//! batch of changes in one transaction (group commit) and only then
//! acknowledges and broadcasts them.

mod access;
mod actor;
mod audit;
mod break_glass;
mod broadcast;
mod clock;
mod commit;
mod downstream;
mod egress;
mod evidence;
mod gate;
mod grants;
mod holds;
mod join;
mod promotion;
mod release;
mod release_status;
mod requests;
mod retention;
mod source;
mod suggestions;

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;

use serde_json::Value;
use tokio::sync::{mpsc, oneshot};
use trustroom_shared::audit::AuditEntry;
use trustroom_shared::change::{Revision, apply};
use trustroom_shared::protocol::{ErrorCode, Presence, Request};
use trustroom_shared::room::RoomState;
use trustroom_shared::{ClientId, RoomId, UserId};

use crate::admin::AdminCommand;
use crate::cluster::LeaseTerm;
use crate::config::ServerConfig;
use crate::metrics::METRICS;
use crate::outbox::ConnInfo;
use crate::storage::{CommitBatch, Fence, LoadedRoom, Store};

pub use audit::{AuditHandover, UnstoredAudit};

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
    subscribers: HashMap<u64, Subscriber>,
    /// Downstream members' connections told of their lane's release
    /// status (downstream.rs); never subscribers.
    lane_watchers: HashMap<u64, downstream::LaneWatcher>,
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
        Ok(Some(Room {
            id,
            state,
            store,
            config,
            history,
            subscribers: HashMap::new(),
            lane_watchers: HashMap::new(),
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
}

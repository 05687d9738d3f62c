//! The `server` audit chain: refusals that concern no existing room
//! (unknown rooms, bad tokens, malformed frames). One task owns the chain's
//! appends; callers hand it their entry and wait for it to be stored, so no
//! lock is held across a database round trip, and whatever queued up while
//! one append was in flight is chained and stored with the next one.

use std::sync::OnceLock;

use serde_json::Value;
use tokio::sync::{mpsc, oneshot};
use trustroom_shared::audit::{AuditEntry, next_entry};

use crate::clock::now_ms;
use crate::storage::{StorageError, Store};

/// Name of the audit chain for server-level refusals.
pub const SERVER_CHAIN: &str = "server";

/// Refusals waiting for the chain's task, at most.
const QUEUE: usize = 1024;

/// Refusals chained and stored in one append, at most.
const MAX_PER_APPEND: usize = 256;

/// Tries at appending when other nodes keep moving the chain on.
const ATTEMPTS: u32 = 30;

/// One entry to chain: who, what, and the caller waiting for it.
struct Pending {
    actor: String,
    payload: Value,
    stored: oneshot::Sender<()>,
}

/// The handle to the chain's task (started on first use, so a hub can be
/// built outside a runtime; it ends when the hub is dropped).
pub struct ServerChain {
    store: Store,
    queue: OnceLock<mpsc::Sender<Pending>>,
}

impl ServerChain {
    pub fn new(store: Store) -> ServerChain {
        ServerChain { store, queue: OnceLock::new() }
    }

    /// Appends a `refused` entry by `actor` and returns once it is stored
    /// (or storing it failed, which is logged: a refusal stands either way).
    pub async fn refused(&self, actor: String, payload: Value) {
        let queue = self.queue.get_or_init(|| {
            let (tx, rx) = mpsc::channel(QUEUE);
            tokio::spawn(run(self.store.clone(), rx));
            tx
        });
        let (stored, wait) = oneshot::channel();
        if queue.send(Pending { actor, payload, stored }).await.is_err() {
            tracing::error!("the server audit chain's task has stopped; a refusal is not recorded");
            return;
        }
        let _ = wait.await;
    }
}

/// The chain's task: appends what is queued, in order, until every handle
/// is gone.
async fn run(store: Store, mut queue: mpsc::Receiver<Pending>) {
    let mut batch = Vec::new();
    while queue.recv_many(&mut batch, MAX_PER_APPEND).await > 0 {
        append(&store, &batch).await;
        for pending in batch.drain(..) {
            let _ = pending.stored.send(());
        }
    }
}

/// Chains `batch` onto the stored head and appends it in one transaction.
/// With several nodes on one database another node may append between our
/// read of the head and our insert: the (chain, seq) key refuses ours, so
/// read the new head and chain onto it again.
async fn append(store: &Store, batch: &[Pending]) {
    for attempt in 1..=ATTEMPTS {
        let head = match store.audit_head(SERVER_CHAIN).await {
            Ok(h) => h,
            Err(e) => {
                tracing::error!("cannot read the server audit head: {e}");
                return;
            }
        };
        let entries = chain(head, batch);
        match store.append_audit(&entries).await {
            Ok(()) => return,
            Err(StorageError::Database(sqlx::Error::Database(db)))
                if db.is_unique_violation() && attempt < ATTEMPTS =>
            {
                tracing::debug!("server audit chain moved on (another node appended); retrying");
                // A little jitter so two nodes do not collide in lockstep.
                tokio::time::sleep(std::time::Duration::from_micros(rand::random_range(200..3_200))).await;
            }
            Err(e) => {
                tracing::error!("cannot append to the server audit chain: {e}");
                return;
            }
        }
    }
}

/// The entries of `batch`, each chained onto the one before, the first
/// onto `head`.
fn chain(head: Option<(u64, String)>, batch: &[Pending]) -> Vec<AuditEntry> {
    let mut entries: Vec<AuditEntry> = Vec::with_capacity(batch.len());
    let at = now_ms();
    for pending in batch {
        let prev = match entries.last() {
            Some(e) => Some((e.seq, e.hash.as_str())),
            None => head.as_ref().map(|(s, h)| (*s, h.as_str())),
        };
        let entry = next_entry(prev, SERVER_CHAIN, at, &pending.actor, "refused", 0, pending.payload.clone());
        entries.push(entry);
    }
    entries
}

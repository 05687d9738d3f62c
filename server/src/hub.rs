//! The registry of live rooms: opens a room's actor on first use and hands
//! out its handle. Also holds the `server` audit chain for refusals that
//! concern no existing room.
//!
//! With several nodes on one database a room is opened only under its
//! lease (storage/lease.rs, cluster.rs): a room another live node holds is
//! answered with where it lives ([`Located::Moved`]) instead.

use std::collections::HashMap;
use std::sync::Arc;

use serde_json::Value;
use tokio::sync::{Mutex, mpsc, oneshot};
use tokio::task::JoinSet;
use trustroom_shared::audit::next_entry;
use trustroom_shared::protocol::ErrorCode;
use trustroom_shared::{RoomId, UserId};

use crate::clock::now_ms;
use crate::cluster::LeaseTerm;
use crate::config::ServerConfig;
use crate::outbox::Outbox;
use crate::room::{AuditHandover, Refusal, Room, RoomCmd, RoomHandle};
use crate::storage::{Acquired, Fence, StorageError, Store};

/// The one answer for "no such room" and "not a member": same code, same
/// bytes, so a non-member learns nothing about whether the room exists.
pub fn room_not_found() -> Refusal {
    (ErrorCode::NotFound, "room not found".into())
}

/// Name of the audit chain for server-level refusals.
pub const SERVER_CHAIN: &str = "server";

pub struct Hub {
    store: Store,
    config: Arc<ServerConfig>,
    rooms: Mutex<HashMap<RoomId, RoomHandle>>,
    tasks: Mutex<JoinSet<()>>,
    server_audit: Mutex<()>,
    /// Open connections by id, with their user, to cut off revoked users.
    connections: std::sync::Mutex<HashMap<u64, (UserId, Outbox)>>,
    /// This node's id and advertised URL (cluster.rs).
    node: String,
    url: String,
    /// The lease epoch of every room this node sequences.
    leases: std::sync::Mutex<HashMap<RoomId, i64>>,
    /// Until when this node's leases are good, as far as it knows.
    term: Arc<LeaseTerm>,
    /// Audit entries a stopped room actor could not store, for the next.
    audit_handover: AuditHandover,
}

/// Where a room is sequenced, seen from this node.
pub enum Located {
    /// Here: the live handle.
    Open(RoomHandle),
    /// No such room.
    NotFound,
    /// Another live node holds the room's lease; clients go to `url`
    /// (empty: an administrative tool holds it for a moment).
    Moved { node: String, url: String },
}

impl Hub {
    /// A hub for this node: `config.node_id` (default a fresh `node-<uuid>`)
    /// reachable at `config.advertise_url` (default none: only tools run
    /// without one, and their rooms are never advertised).
    pub fn new(store: Store, config: Arc<ServerConfig>) -> Arc<Hub> {
        let node = config.node_id.clone().unwrap_or_else(|| format!("node-{}", uuid::Uuid::now_v7()));
        let url = config.advertise_url.clone().unwrap_or_default();
        let term = LeaseTerm::new(config.lease);
        Arc::new(Hub {
            store,
            config,
            rooms: Mutex::new(HashMap::new()),
            tasks: Mutex::new(JoinSet::new()),
            server_audit: Mutex::new(()),
            connections: std::sync::Mutex::new(HashMap::new()),
            node,
            url,
            leases: std::sync::Mutex::new(HashMap::new()),
            term,
            audit_handover: AuditHandover::default(),
        })
    }

    /// This node's id (leases, heartbeats).
    pub fn node_id(&self) -> &str {
        &self.node
    }

    /// The URL this node advertises to clients.
    pub fn advertise_url(&self) -> &str {
        &self.url
    }

    /// Until when this node's leases hold, as far as it knows.
    pub fn lease_term(&self) -> &Arc<LeaseTerm> {
        &self.term
    }

    /// (room, epoch) of every lease this node holds.
    pub fn held_leases(&self) -> Vec<(RoomId, i64)> {
        self.leases.lock().map(|l| l.iter().map(|(r, e)| (*r, *e)).collect()).unwrap_or_default()
    }

    /// The handle of a room open on this node, without opening it.
    pub async fn open_handle(&self, id: RoomId) -> Option<RoomHandle> {
        self.rooms.lock().await.get(&id).filter(|h| !h.is_closed()).cloned()
    }

    /// This node lost a room's lease: the room stops sequencing, tells its
    /// clients to reconnect, and is reopened only under a new lease.
    /// Nothing happens when the room was reopened under another epoch since.
    pub async fn lease_lost(&self, id: RoomId, epoch: i64, reason: &str) {
        let mut rooms = self.rooms.lock().await;
        let ours = match self.leases.lock() {
            Ok(mut l) if l.get(&id) == Some(&epoch) => l.remove(&id).is_some(),
            _ => false,
        };
        if !ours {
            return;
        }
        let handle = rooms.remove(&id);
        drop(rooms);
        if let Some(h) = handle {
            let _ = h.send(RoomCmd::LeaseLost { reason: reason.to_string() }).await;
        }
    }

    pub fn store(&self) -> &Store {
        &self.store
    }

    pub fn config(&self) -> &Arc<ServerConfig> {
        &self.config
    }

    /// The live handle of a room, opening it if needed; `None` if no such
    /// room, or when another node sequences it.
    pub async fn room(&self, id: RoomId) -> anyhow::Result<Option<RoomHandle>> {
        Ok(match self.locate(id).await? {
            Located::Open(h) => Some(h),
            Located::NotFound | Located::Moved { .. } => None,
        })
    }

    /// Where a room is sequenced: here (opened under a fresh lease if it
    /// was not open yet), nowhere, or on another live node.
    pub async fn locate(&self, id: RoomId) -> anyhow::Result<Located> {
        let mut rooms = self.rooms.lock().await;
        if let Some(h) = rooms.get(&id)
            && !h.is_closed()
        {
            return Ok(Located::Open(h.clone()));
        }
        // Not open, or its actor stopped: a new actor needs a new lease.
        if let Ok(mut l) = self.leases.lock() {
            l.remove(&id);
        }
        let shared = self.store.shared_by_nodes();
        if shared && self.store.room(id).await?.is_none() {
            return Ok(Located::NotFound);
        }
        let lease_ms = self.config.lease.as_millis() as i64;
        let lease = match self.store.acquire_lease(id, &self.node, &self.url, lease_ms).await? {
            Acquired::Granted(lease) => lease,
            Acquired::HeldBy(lease) => return Ok(Located::Moved { node: lease.node, url: lease.url }),
        };
        let mut room = match Room::open(id, self.store.clone(), self.config.clone()).await {
            Ok(Some(room)) => room,
            other => {
                let _ = self.store.release_lease(id, &self.node, lease.epoch).await;
                other?;
                return Ok(Located::NotFound);
            }
        };
        room.with_handover(self.audit_handover.clone());
        if shared {
            room.under_lease(Fence { node: self.node.clone(), epoch: lease.epoch }, self.term.clone());
            tracing::info!(room = %id, epoch = lease.epoch, "sequencing the room here (lease acquired)");
        }
        let (tx, rx) = mpsc::channel(self.config.room_queue);
        self.tasks.lock().await.spawn(room.run(rx));
        rooms.insert(id, tx.clone());
        if let Ok(mut l) = self.leases.lock() {
            l.insert(id, lease.epoch);
        }
        Ok(Located::Open(tx))
    }

    pub fn register_connection(&self, conn_id: u64, user: UserId, out: Outbox) {
        if let Ok(mut c) = self.connections.lock() {
            c.insert(conn_id, (user, out));
        }
    }

    pub fn unregister_connection(&self, conn_id: u64) {
        if let Ok(mut c) = self.connections.lock() {
            c.remove(&conn_id);
        }
    }

    /// Number of open connections.
    pub fn connection_count(&self) -> usize {
        self.connections.lock().map(|c| c.len()).unwrap_or(0)
    }

    /// Closes every connection of a revoked user.
    pub async fn revoke_user(&self, user: UserId) {
        let outs: Vec<Outbox> = match self.connections.lock() {
            Ok(c) => c.values().filter(|(u, _)| *u == user).map(|(_, o)| o.clone()).collect(),
            Err(_) => Vec::new(),
        };
        for (_, room) in self.open_rooms().await {
            let _ = room.send(RoomCmd::UserRevoked { user }).await;
        }
        for out in outs {
            out.close_now(ErrorCode::Unauthenticated, "your token was revoked");
        }
    }

    /// Handles of the rooms open right now.
    pub async fn open_rooms(&self) -> Vec<(RoomId, RoomHandle)> {
        self.rooms.lock().await.iter().map(|(id, h)| (*id, h.clone())).collect()
    }

    /// Records a server-level refusal (unknown room, bad token…).
    pub async fn audit_refusal(&self, actor: Option<UserId>, what: &str, refusal: &Refusal, detail: Value) {
        let _guard = self.server_audit.lock().await;
        let actor = actor.map_or_else(|| "anonymous".to_string(), |u| u.to_string());
        let payload =
            serde_json::json!({"request": what, "code": refusal.0.as_str(), "message": refusal.1, "detail": detail});
        // The lock orders appends within this node; with several nodes on one
        // database another node may append between our read of the head and
        // our insert. The (chain, seq) key refuses the second insert, so read
        // the new head and chain onto it again.
        const ATTEMPTS: u32 = 30;
        for attempt in 1..=ATTEMPTS {
            let head = match self.store.audit_head(SERVER_CHAIN).await {
                Ok(h) => h,
                Err(e) => {
                    tracing::error!("cannot read the server audit head: {e}");
                    return;
                }
            };
            let entry = next_entry(
                head.as_ref().map(|(s, h)| (*s, h.as_str())),
                SERVER_CHAIN,
                now_ms(),
                &actor,
                "refused",
                0,
                payload.clone(),
            );
            match self.store.append_audit(&[entry]).await {
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

    /// Closes the connections of users whose token was revoked, as another
    /// node (or an admin tool) recorded it: with several nodes a revocation
    /// is applied by one node from the queue, and every other node finds it
    /// here. Returns how many connections were closed.
    pub async fn sweep_revoked(&self) -> anyhow::Result<usize> {
        let connected: std::collections::HashSet<UserId> = match self.connections.lock() {
            Ok(c) => c.values().map(|(u, _)| *u).collect(),
            Err(_) => return Ok(0),
        };
        if connected.is_empty() {
            return Ok(0);
        }
        let revoked: Vec<UserId> = self
            .store
            .list_users()
            .await?
            .into_iter()
            .filter(|u| u.revoked_ms.is_some() && connected.contains(&u.id))
            .map(|u| u.id)
            .collect();
        let mut closed = 0;
        for user in revoked {
            closed += self.connections.lock().map(|c| c.values().filter(|(u, _)| *u == user).count()).unwrap_or(0);
            self.revoke_user(user).await;
        }
        Ok(closed)
    }

    /// Stops every room after it committed what it had; waits for them;
    /// then releases their leases so other nodes can take them at once.
    pub async fn shutdown(&self) {
        let handles: Vec<RoomHandle> = self.rooms.lock().await.drain().map(|(_, h)| h).collect();
        for h in handles {
            let (done, wait) = oneshot::channel();
            if h.send(RoomCmd::Shutdown { done }).await.is_ok() {
                let _ = wait.await;
            }
        }
        let mut tasks = self.tasks.lock().await;
        while tasks.join_next().await.is_some() {}
        let held: Vec<(RoomId, i64)> = self.leases.lock().map(|mut l| l.drain().collect()).unwrap_or_default();
        for (room, epoch) in held {
            if let Err(e) = self.store.release_lease(room, &self.node, epoch).await {
                tracing::warn!(%room, "cannot release the lease: {e}");
            }
        }
    }
}

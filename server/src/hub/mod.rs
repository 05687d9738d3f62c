//! The registry of live rooms: opens a room's actor on first use and hands
//! out its handle (rooms.rs), knows this node's connections (to cut off
//! revoked users) and leases, and records refusals that concern no
//! existing room on the `server` audit chain (server_chain.rs).
//!
//! Nothing here holds a lock across an `.await`: the maps sit behind std
//! mutexes taken only to read or change an entry.

mod rooms;
mod server_chain;

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use serde_json::Value;
use tokio::sync::oneshot;
use tokio::task::JoinSet;
use trustroom_shared::protocol::ErrorCode;
use trustroom_shared::{RoomId, UserId};

use crate::cluster::LeaseTerm;
use crate::config::ServerConfig;
use crate::outbox::Outbox;
use crate::room::{AuditHandover, Refusal, RoomCmd, RoomHandle};
use crate::storage::Store;

pub use rooms::Located;
pub use server_chain::SERVER_CHAIN;

use rooms::Rooms;
use server_chain::ServerChain;

/// The one answer for "no such room" and "not a member": same code, same
/// bytes, so a non-member learns nothing about whether the room exists.
pub fn room_not_found() -> Refusal {
    (ErrorCode::NotFound, "room not found".into())
}

pub struct Hub {
    store: Store,
    config: Arc<ServerConfig>,
    rooms: Mutex<Rooms>,
    tasks: Mutex<JoinSet<()>>,
    server_chain: ServerChain,
    /// Open connections by id, with their user, to cut off revoked users.
    connections: Mutex<HashMap<u64, (UserId, Outbox)>>,
    /// This node's id and advertised URL (cluster.rs).
    node: String,
    url: String,
    /// The lease epoch of every room this node sequences.
    leases: Mutex<HashMap<RoomId, i64>>,
    /// Until when this node's leases are good, as far as it knows.
    term: Arc<LeaseTerm>,
    /// Audit entries a stopped room actor could not store, for the next.
    audit_handover: AuditHandover,
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
            server_chain: ServerChain::new(store.clone()),
            store,
            config,
            rooms: Mutex::new(Rooms::default()),
            tasks: Mutex::new(JoinSet::new()),
            connections: Mutex::new(HashMap::new()),
            node,
            url,
            leases: Mutex::new(HashMap::new()),
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
    pub fn open_handle(&self, id: RoomId) -> Option<RoomHandle> {
        self.rooms().handle(id)
    }

    /// Handles of the rooms open right now.
    pub fn open_rooms(&self) -> Vec<(RoomId, RoomHandle)> {
        self.rooms().handles()
    }

    /// This node lost a room's lease: the room stops sequencing, tells its
    /// clients to reconnect, and is reopened only under a new lease.
    /// Nothing happens when the room was reopened under another epoch since.
    pub async fn lease_lost(&self, id: RoomId, epoch: i64, reason: &str) {
        let handle = {
            let mut rooms = self.rooms();
            let ours = match self.leases.lock() {
                Ok(mut l) if l.get(&id) == Some(&epoch) => l.remove(&id).is_some(),
                _ => false,
            };
            if !ours {
                return;
            }
            rooms.take(id)
        };
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
        for (_, room) in self.open_rooms() {
            let _ = room.send(RoomCmd::UserRevoked { user }).await;
        }
        for out in outs {
            out.close_now(ErrorCode::Unauthenticated, "your token was revoked");
        }
    }

    /// Records a server-level refusal (unknown room, bad token…); returns
    /// once it is stored.
    pub async fn audit_refusal(&self, actor: Option<UserId>, what: &str, refusal: &Refusal, detail: Value) {
        let actor = actor.map_or_else(|| "anonymous".to_string(), |u| u.to_string());
        let payload =
            serde_json::json!({"request": what, "code": refusal.0.as_str(), "message": refusal.1, "detail": detail});
        self.server_chain.refused(actor, payload).await;
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

    /// Stops every room after it committed what it had (no room opens any
    /// more); waits for them; then releases their leases so other nodes can
    /// take them at once.
    pub async fn shutdown(&self) {
        let handles = self.rooms().close();
        for h in handles {
            let (done, wait) = oneshot::channel();
            if h.send(RoomCmd::Shutdown { done }).await.is_ok() {
                let _ = wait.await;
            }
        }
        let mut tasks = std::mem::take(&mut *self.tasks.lock().unwrap_or_else(PoisonError::into_inner));
        while tasks.join_next().await.is_some() {}
        let held: Vec<(RoomId, i64)> = self.leases.lock().map(|mut l| l.drain().collect()).unwrap_or_default();
        for (room, epoch) in held {
            if let Err(e) = self.store.release_lease(room, &self.node, epoch).await {
                tracing::warn!(%room, "cannot release the lease: {e}");
            }
        }
    }
}

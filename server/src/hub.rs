//! The registry of live rooms: opens a room's actor on first use and hands
//! out its handle. Also holds the `server` audit chain for refusals that
//! concern no existing room.

use std::collections::HashMap;
use std::sync::Arc;

use serde_json::Value;
use tokio::sync::{Mutex, mpsc, oneshot};
use tokio::task::JoinSet;
use trustroom_shared::audit::next_entry;
use trustroom_shared::protocol::ErrorCode;
use trustroom_shared::{RoomId, UserId};

use crate::clock::now_ms;
use crate::config::ServerConfig;
use crate::outbox::Outbox;
use crate::room::{Refusal, Room, RoomCmd, RoomHandle};
use crate::storage::Store;

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
}

impl Hub {
    pub fn new(store: Store, config: Arc<ServerConfig>) -> Arc<Hub> {
        Arc::new(Hub {
            store,
            config,
            rooms: Mutex::new(HashMap::new()),
            tasks: Mutex::new(JoinSet::new()),
            server_audit: Mutex::new(()),
            connections: std::sync::Mutex::new(HashMap::new()),
        })
    }

    pub fn store(&self) -> &Store {
        &self.store
    }

    pub fn config(&self) -> &Arc<ServerConfig> {
        &self.config
    }

    /// The live handle of a room, opening it if needed; `None` if no such room.
    pub async fn room(&self, id: RoomId) -> anyhow::Result<Option<RoomHandle>> {
        let mut rooms = self.rooms.lock().await;
        if let Some(h) = rooms.get(&id)
            && !h.is_closed()
        {
            return Ok(Some(h.clone()));
        }
        let Some(room) = Room::open(id, self.store.clone(), self.config.clone()).await? else {
            return Ok(None);
        };
        let (tx, rx) = mpsc::channel(self.config.room_queue);
        self.tasks.lock().await.spawn(room.run(rx));
        rooms.insert(id, tx.clone());
        Ok(Some(tx))
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
        let head = match self.store.audit_head(SERVER_CHAIN).await {
            Ok(h) => h,
            Err(e) => {
                tracing::error!("cannot read the server audit head: {e}");
                return;
            }
        };
        let actor = actor.map_or_else(|| "anonymous".to_string(), |u| u.to_string());
        let entry = next_entry(
            head.as_ref().map(|(s, h)| (*s, h.as_str())),
            SERVER_CHAIN,
            now_ms(),
            &actor,
            "refused",
            0,
            serde_json::json!({"request": what, "code": refusal.0.as_str(), "message": refusal.1, "detail": detail}),
        );
        if let Err(e) = self.store.append_audit(&[entry]).await {
            tracing::error!("cannot append to the server audit chain: {e}");
        }
    }

    /// Stops every room after it committed what it had; waits for them.
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
    }
}

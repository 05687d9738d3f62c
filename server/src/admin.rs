//! Administrative operations: users, rooms, members, annexes.
//!
//! Users and new rooms are written directly. Changes to an existing room
//! (members, annexes) must be sequenced by the room's single actor: they go
//! through the `admin_queue` table, which a running server drains within a
//! fraction of a second (so they take effect in live rooms at once). When
//! no server is running, the command drains the queue itself with the same
//! room code.
//!
//! With several server nodes on one database, every node drains the queue
//! but applies a room's command only when it sequences the room (it holds,
//! or can take, the room's lease): the owner applies it, the others leave
//! it pending. Revocations are applied by whichever node drains them first;
//! every node also closes revoked users' connections on its own
//! (`Hub::sweep_revoked`).

use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::json;
use tokio::sync::oneshot;
use trustroom_shared::annex::Annex;
use trustroom_shared::audit::{AuditEntry, next_entry};
use trustroom_shared::change::{Change, Revision, apply};
use trustroom_shared::role::Role;
use trustroom_shared::room::{Member, RoomState};
use trustroom_shared::{AnnexId, RoomId, UserId};

use crate::auth::{new_token, token_hash};
use crate::clock::now_ms;
use crate::config::ServerConfig;
use crate::hub::{Hub, Located};
use crate::room::{ADMIN_ACTOR, RoomCmd};
use crate::storage::{CommitBatch, RoomRecord, Store, UserRecord};

/// A change to a live room requested by an administrator.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "command", rename_all = "snake_case")]
pub enum AdminCommand {
    AddMember {
        member: Member,
    },
    RemoveMember {
        user: UserId,
    },
    AddAnnex {
        annex: Box<Annex>,
    },
    /// Server-wide (queued with the nil room id): cut a revoked user off.
    RevokeUser {
        user: UserId,
    },
    /// Record an operator action (e.g. an `export`) in the room's audit chain.
    Audit {
        kind: String,
        detail: serde_json::Value,
    },
    /// Set the room's break-glass list (members who may invoke break-glass).
    SetBreakGlass {
        users: Vec<UserId>,
    },
    /// Purge the room's annex content if its retention period is over
    /// (`force`: scrub storage again for an already purged room).
    RunRetention {
        #[serde(default)]
        force: bool,
    },
}

/// A new annex as an administrator describes it.
#[derive(Debug, Clone)]
pub struct NewAnnex {
    pub title: String,
    pub classification: String,
    pub content: String,
    pub sensitive: Vec<String>,
    /// Names of users on the need-to-know list.
    pub allow: Vec<String>,
}

/// Creates a user; returns its id and the token (shown once, stored hashed).
pub async fn add_user(store: &Store, name: &str) -> anyhow::Result<(UserId, String)> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 100 || name.chars().any(char::is_control) {
        anyhow::bail!("a user name must be 1–100 printable characters");
    }
    let token = new_token();
    let id = UserId::new();
    store
        .create_user(&UserRecord {
            id,
            name: name.to_string(),
            token_hash: token_hash(&token),
            created_ms: now_ms(),
            revoked_ms: None,
        })
        .await?;
    Ok((id, token))
}

async fn user_named(store: &Store, name: &str) -> anyhow::Result<UserRecord> {
    store.user_by_name(name).await?.ok_or_else(|| anyhow::anyhow!("no user named {name:?}"))
}

/// Accumulates the first revisions of a new room, chained audit included.
pub struct RoomBuilder {
    pub state: RoomState,
    batch: CommitBatch,
}

impl RoomBuilder {
    pub fn new(title: &str) -> Self {
        let state = RoomState::new(RoomId::new(), title.to_string(), now_ms());
        let mut b = RoomBuilder { state, batch: CommitBatch::default() };
        b.audit("admin", "room.created", json!({"title": title}));
        b
    }

    fn audit(&mut self, actor: &str, kind: &str, detail: serde_json::Value) {
        let prev = self.batch.audit.last().map(|e: &AuditEntry| (e.seq, e.hash.clone()));
        let entry = next_entry(
            prev.as_ref().map(|(s, h)| (*s, h.as_str())),
            &self.state.id.to_string(),
            now_ms(),
            actor,
            kind,
            self.state.revision,
            detail,
        );
        self.batch.audit.push(entry);
    }

    /// Applies a change as the next revision by `author`.
    pub fn change(&mut self, author: UserId, change: Change) -> anyhow::Result<u64> {
        let rev = Revision { revision: self.state.revision + 1, author, at_ms: now_ms(), client: None, change };
        apply(&mut self.state, &rev)?;
        let actor = if author == ADMIN_ACTOR { "admin".to_string() } else { author.to_string() };
        let kind = format!("change.{}", rev.change.kind_name());
        let detail = json!({"revision": rev.revision});
        self.batch.revisions.push(rev);
        self.audit(&actor, &kind, detail);
        Ok(self.state.revision)
    }

    /// Writes the room.
    pub async fn create(self, store: &Store) -> anyhow::Result<RoomState> {
        let record =
            RoomRecord { id: self.state.id, title: self.state.title.clone(), created_ms: self.state.created_ms };
        store.create_room(&record, &self.batch).await?;
        Ok(self.state)
    }
}

/// Creates a room owned by `owner_name`.
pub async fn create_room(store: &Store, title: &str, owner_name: &str) -> anyhow::Result<RoomId> {
    let title = title.trim();
    if title.is_empty() || title.chars().count() > 200 {
        anyhow::bail!("a room title must be 1–200 characters");
    }
    let owner = user_named(store, owner_name).await?;
    let mut b = RoomBuilder::new(title);
    b.change(
        ADMIN_ACTOR,
        Change::MemberAdded { member: Member { user: owner.id, name: owner.name, role: Role::Owner } },
    )?;
    Ok(b.create(store).await?.id)
}

/// Builds an annex record from an administrator's description.
pub async fn build_annex(store: &Store, new: NewAnnex) -> anyhow::Result<Annex> {
    let mut need_to_know = Vec::new();
    for name in &new.allow {
        need_to_know.push(user_named(store, name).await?.id);
    }
    let content = trustroom_shared::ot::normalize_newlines(&new.content);
    let salt = crate::auth::new_token();
    Ok(Annex {
        id: AnnexId::new(),
        code: String::new(),
        title: new.title,
        classification: new.classification,
        need_to_know,
        sensitive_count: new.sensitive.len(),
        sensitive: new.sensitive,
        content_hash: Annex::salted_hash(&salt, &content),
        salt: Some(salt),
        content: Some(content),
        at_ms: now_ms(),
    })
}

/// Resolves a room by id or exact title.
pub async fn resolve_room(store: &Store, room: &str) -> anyhow::Result<RoomId> {
    if let Ok(id) = room.parse::<RoomId>()
        && store.room(id).await?.is_some()
    {
        return Ok(id);
    }
    let matches: Vec<RoomId> =
        store.list_rooms().await?.into_iter().filter(|r| r.title == room).map(|r| r.id).collect();
    match matches.as_slice() {
        [one] => Ok(*one),
        [] => anyhow::bail!("no room {room:?}"),
        _ => anyhow::bail!("several rooms are titled {room:?}; use the id"),
    }
}

/// Queues a command for a room and waits until it is applied — by the
/// running server, or here when none runs.
pub async fn run_admin(store: &Store, room: RoomId, command: AdminCommand) -> anyhow::Result<String> {
    let text = serde_json::to_string(&command)?;
    let id = store.enqueue_admin(room, &text, now_ms()).await?;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    loop {
        // No live server: apply it here (again after a pause, for a room a
        // node that just died still holds under an unexpired lease).
        let live = store.latest_heartbeat().await?.is_some_and(|hb| now_ms() - hb < 3_000);
        if !live {
            let config =
                ServerConfig { node_id: Some(format!("admin-{}", uuid::Uuid::now_v7())), ..ServerConfig::default() };
            let hub = Hub::new(store.clone(), Arc::new(config));
            drain_queue(&hub).await?;
            hub.shutdown().await;
        }
        if let Some(result) = store.admin_result(id).await? {
            let v: serde_json::Value = serde_json::from_str(&result)?;
            if let Some(ok) = v.get("ok").and_then(|o| o.as_str()) {
                return Ok(ok.to_string());
            }
            anyhow::bail!("{}", v.get("error").and_then(|e| e.as_str()).unwrap_or("failed"));
        }
        if tokio::time::Instant::now() > deadline {
            anyhow::bail!("the running server did not apply the command within 15 s (queued as #{id})");
        }
        tokio::time::sleep(Duration::from_millis(if live { 50 } else { 250 })).await;
    }
}

/// Applies every queued admin command through the rooms' actors.
/// Returns how many it applied; a room another node sequences is left to
/// that node.
pub async fn drain_queue(hub: &Hub) -> anyhow::Result<usize> {
    let pending = hub.store().pending_admin().await?;
    let mut n = 0;
    for q in pending {
        let result = match serde_json::from_str::<AdminCommand>(&q.command) {
            Err(e) => Err(format!("unreadable command: {e}")),
            Ok(AdminCommand::RevokeUser { user }) => {
                hub.revoke_user(user).await;
                Ok(format!("user {user} revoked; open connections closed"))
            }
            Ok(command) => match hub.locate(q.room).await? {
                Located::Moved { node, .. } => {
                    tracing::debug!(room = %q.room, %node, "admin command #{} left to the room's node", q.id);
                    continue;
                }
                Located::NotFound => Err(format!("no room {}", q.room)),
                Located::Open(room) => {
                    let (reply, wait) = oneshot::channel();
                    if room.send(RoomCmd::Admin { command, reply }).await.is_err() {
                        Err("the room is shutting down".to_string())
                    } else {
                        wait.await.unwrap_or_else(|_| Err("the room stopped".to_string()))
                    }
                }
            },
        };
        let json = match result {
            Ok(msg) => json!({"ok": msg}),
            Err(msg) => json!({"error": msg}),
        };
        hub.store().finish_admin(q.id, &json.to_string(), now_ms()).await?;
        n += 1;
    }
    Ok(n)
}

/// Adds a member (by user name) to a room.
pub async fn add_member(store: &Store, room: RoomId, user_name: &str, role: Role) -> anyhow::Result<String> {
    let user = user_named(store, user_name).await?;
    run_admin(store, room, AdminCommand::AddMember { member: Member { user: user.id, name: user.name, role } }).await
}

/// Removes a member (by user name) from a room; their connections are cut off.
pub async fn remove_member(store: &Store, room: RoomId, user_name: &str) -> anyhow::Result<String> {
    let user = user_named(store, user_name).await?;
    run_admin(store, room, AdminCommand::RemoveMember { user: user.id }).await
}

/// Adds an annex to a room.
pub async fn add_annex(store: &Store, room: RoomId, new: NewAnnex) -> anyhow::Result<String> {
    let annex = build_annex(store, new).await?;
    run_admin(store, room, AdminCommand::AddAnnex { annex: Box::new(annex) }).await
}

/// Revokes a user's token; a running server closes their connections.
pub async fn revoke_user(store: &Store, name: &str) -> anyhow::Result<String> {
    let user = user_named(store, name).await?;
    if !store.revoke_user(name, now_ms()).await? {
        anyhow::bail!("user {name:?} is already revoked");
    }
    run_admin(store, RoomId(uuid::Uuid::nil()), AdminCommand::RevokeUser { user: user.id }).await
}

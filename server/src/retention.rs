//! Retention: a room's annex content (and promotion passages) must not
//! outlive its need. A room's retention period (access policy,
//! `retention_days`, default 30) starts when it is released or escalated;
//! then its annex content is purged from memory and storage (audited),
//! while metadata, hashes, the audit chain and manifests remain.
//!
//! Each open room purges on its own timer when the period ends; this
//! background job (every `retention_poll`) and `trustroom-server retention
//! run` reach rooms that are not open.

use std::sync::Arc;

use tokio::sync::{oneshot, watch};
use trustroom_shared::RoomId;

use crate::admin::AdminCommand;
use crate::hub::Hub;
use crate::room::RoomCmd;

/// Asks every room of the store to purge what is due; returns each room's
/// answer. `force` scrubs storage again for rooms already purged.
pub async fn run_all(hub: &Hub, force: bool) -> anyhow::Result<Vec<(RoomId, Result<String, String>)>> {
    let mut out = Vec::new();
    for record in hub.store().list_rooms().await? {
        let Some(room) = hub.room(record.id).await? else { continue };
        let (reply, wait) = oneshot::channel();
        let command = AdminCommand::RunRetention { force };
        if room.send(RoomCmd::Admin { command, reply }).await.is_err() {
            out.push((record.id, Err("the room is shutting down".to_string())));
            continue;
        }
        out.push((record.id, wait.await.unwrap_or_else(|_| Err("the room stopped".to_string()))));
    }
    Ok(out)
}

/// The background job: runs retention every `retention_poll` until `stop`.
pub async fn job(hub: Arc<Hub>, mut stop: watch::Receiver<bool>) {
    let poll = hub.config().retention_poll;
    loop {
        tokio::select! {
            _ = tokio::time::sleep(poll) => {}
            _ = stop.changed() => break,
        }
        match run_all(&hub, false).await {
            Ok(results) => {
                for (room, result) in results {
                    match result {
                        Ok(msg) if msg.contains("purged (rev") => tracing::info!(%room, "{msg}"),
                        Ok(msg) => tracing::debug!(%room, "{msg}"),
                        Err(e) => tracing::warn!(%room, "retention: {e}"),
                    }
                }
            }
            Err(e) => tracing::warn!("retention job: {e:#}"),
        }
    }
}

/// `trustroom-server retention …`
#[derive(clap::Subcommand, Debug)]
pub enum RetentionCmd {
    /// Purge the annex content of every room (or one) whose retention
    /// period after release or escalation has ended. A running server
    /// applies it in its live rooms; otherwise this command does.
    Run {
        /// Only this room (id or exact title).
        #[arg(long)]
        room: Option<String>,
        /// Scrub storage again for rooms already purged.
        #[arg(long)]
        force: bool,
    },
}

/// `trustroom-server break-glass …`
#[derive(clap::Subcommand, Debug)]
pub enum BreakGlassCmd {
    /// Set who may invoke break-glass in ROOM (user names; none clears the list).
    Set { room: String, users: Vec<String> },
}

/// Runs a `retention` command; returns the lines to print.
pub async fn retention_command(store: &crate::storage::Store, command: RetentionCmd) -> anyhow::Result<Vec<String>> {
    let RetentionCmd::Run { room, force } = command;
    let rooms = match room {
        Some(r) => vec![crate::admin::resolve_room(store, &r).await?],
        None => store.list_rooms().await?.into_iter().map(|r| r.id).collect(),
    };
    let mut out = Vec::new();
    for room in rooms {
        out.push(crate::admin::run_admin(store, room, AdminCommand::RunRetention { force }).await?);
    }
    Ok(out)
}

/// Runs a `break-glass` command; returns the line to print.
pub async fn break_glass_command(store: &crate::storage::Store, command: BreakGlassCmd) -> anyhow::Result<String> {
    let BreakGlassCmd::Set { room, users } = command;
    let room = crate::admin::resolve_room(store, &room).await?;
    let mut ids = Vec::new();
    for name in &users {
        ids.push(store.user_by_name(name).await?.ok_or_else(|| anyhow::anyhow!("no user named {name:?}"))?.id);
    }
    crate::admin::run_admin(store, room, AdminCommand::SetBreakGlass { users: ids }).await
}

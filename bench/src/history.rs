//! Room history written through the real room actor — the same apply,
//! audit chain, group commit and periodic snapshots as a live server —
//! into a real database, so a later open has real work to do.

use std::collections::VecDeque;
use std::sync::Arc;

use anyhow::Context;
use tokio::sync::{mpsc, oneshot};
use trustroom_server::config::ServerConfig;
use trustroom_server::outbox::{ConnInfo, Outbox};
use trustroom_server::room::{Answer, Room, RoomCmd};
use trustroom_server::storage::Store;
use trustroom_shared::ot::TextOp;
use trustroom_shared::protocol::Request;
use trustroom_shared::{ClientId, RoomId, SectionId, UserId};

/// Requests kept in flight while writing the history.
const PIPELINE: usize = 1000;

/// Adds a section to `room` and writes `revisions` one-character edits into
/// it as `author` (an editor of the room), pipelined so they group-commit.
/// Returns the section.
pub async fn write(
    store: &Store,
    config: &Arc<ServerConfig>,
    room: RoomId,
    author: UserId,
    revisions: u64,
) -> anyhow::Result<SectionId> {
    let actor = Room::open(room, store.clone(), config.clone()).await?.context("room vanished")?;
    let (tx, rx) = mpsc::channel(config.room_queue);
    let task = tokio::spawn(actor.run(rx));
    // The outbox of a connection that never joins (no events are queued).
    let (out, _frames, _close) = Outbox::new(config.outbox_frames);
    let conn = ConnInfo { conn_id: 1, user: author, client: ClientId::new(), out };
    let ask = |request: Request| {
        let (reply, wait) = oneshot::channel();
        (RoomCmd::Request { conn: conn.clone(), request, reply }, wait)
    };
    let add = Request::AddSection { room, title: "History".into(), body: String::new(), after: None, seq: None };
    let (cmd, wait) = ask(add);
    tx.send(cmd).await.map_err(|_| anyhow::anyhow!("room stopped"))?;
    let created = wait.await?.map_err(|(c, m)| anyhow::anyhow!("{c}: {m}"))?;
    let section: SectionId = created["created"].as_str().context("no section id")?.parse()?;
    let base = created["revision"].as_u64().context("no revision")?;
    let mut pending: VecDeque<oneshot::Receiver<Answer>> = VecDeque::new();
    let mut rng = 0x2545_F491_4F6C_DD1Du64;
    for (len, i) in (0..revisions).enumerate() {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        let pos = (rng as usize) % (len + 1);
        let mut op = TextOp::new();
        op.retain(pos).insert(if i.is_multiple_of(7) { "\n" } else { "x" }).retain(len - pos);
        // Each edit is exactly the next revision (no concurrent writers).
        let edit = Request::Edit { room, section, base: base + i, op: op.to_wire(), seq: Some(i + 1) };
        let (cmd, wait) = ask(edit);
        tx.send(cmd).await.map_err(|_| anyhow::anyhow!("room stopped"))?;
        pending.push_back(wait);
        while pending.len() >= PIPELINE {
            if let Some(w) = pending.pop_front() {
                w.await?.map_err(|(c, m)| anyhow::anyhow!("edit refused: {c}: {m}"))?;
            }
        }
        if (i + 1) % 20_000 == 0 {
            eprintln!("history: {} revisions written", i + 1);
        }
    }
    for w in pending {
        w.await?.map_err(|(c, m)| anyhow::anyhow!("edit refused: {c}: {m}"))?;
    }
    let (done, stopped) = oneshot::channel();
    tx.send(RoomCmd::Shutdown { done }).await.map_err(|_| anyhow::anyhow!("room stopped"))?;
    let _ = stopped.await;
    drop(tx);
    let _ = task.await;
    Ok(section)
}

//! Cold open of a big room: a room with N revisions of history (written
//! through the real room actor — the same apply, audit chain, group commit
//! and periodic snapshots as a live server — into a real SQLite file), then
//! a fresh server process opens it on the first join. Measures the time
//! from `join` to the snapshot frame and the server memory the open room
//! takes.

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;
use trustroom_shared::protocol::{ClientFrame, Request};
use trustroom_shared::{ClientId, RoomId, SectionId};

use crate::history;
use crate::server;
use crate::wire;

pub async fn run(revisions: u64, opens: usize, server_cpus: Option<&str>) -> anyhow::Result<Value> {
    let dir = tempfile::tempdir()?;
    let db = dir.path().join("cold.db");
    let load_before = server::load_average();
    let started = Instant::now();
    let (room, owner_token, section) = write_history(&db, revisions).await?;
    let seed_secs = started.elapsed().as_secs_f64();
    let db_bytes: u64 = ["cold.db", "cold.db-wal"]
        .iter()
        .filter_map(|f| std::fs::metadata(dir.path().join(f)).ok())
        .map(|m| m.len())
        .sum();
    eprintln!("cold-open: wrote {revisions} revisions in {seed_secs:.1} s ({db_bytes} bytes on disk)");

    let mut runs = Vec::new();
    for i in 0..opens.max(1) {
        let server = server::start(&db, 1, false, None, server_cpus).await?;
        // Let the idle server settle before the baseline.
        tokio::time::sleep(Duration::from_millis(300)).await;
        let rss_before = server::rss_kib(server.pid);
        let mut ws = wire::connect(&server.url, &owner_token, ClientId::new()).await?;
        let (to_snapshot, to_ok, snapshot_bytes, revision, body_chars) = timed_join(&mut ws, room, section).await?;
        tokio::time::sleep(Duration::from_millis(200)).await;
        let rss_after = server::rss_kib(server.pid);
        // A second join of the room, now open (warm).
        let mut ws2 = wire::connect(&server.url, &owner_token, ClientId::new()).await?;
        let (warm, _, _, _, _) = timed_join(&mut ws2, room, section).await?;
        let peak = server::peak_rss_kib(server.pid);
        drop((ws, ws2));
        server.kill().await;
        eprintln!(
            "cold-open #{}: join → snapshot {:.1} ms (ok {:.1} ms), warm {:.1} ms, RSS {:?} → {:?} KiB",
            i + 1,
            to_snapshot,
            to_ok,
            warm,
            rss_before,
            rss_after
        );
        anyhow::ensure!(revision >= revisions, "the snapshot is at revision {revision}, expected ≥ {revisions}");
        runs.push(json!({
            "join_to_snapshot_ms": to_snapshot,
            "join_to_ok_ms": to_ok,
            "warm_join_to_snapshot_ms": warm,
            "snapshot_frame_bytes": snapshot_bytes,
            "snapshot_revision": revision,
            "section_chars": body_chars,
            "server_rss_before_kib": rss_before,
            "server_rss_after_open_kib": rss_after,
            "room_open_rss_kib": rss_after.zip(rss_before).map(|(a, b)| a as i64 - b as i64),
            "server_peak_rss_kib": peak,
        }));
    }
    let mut cold: Vec<f64> = runs.iter().filter_map(|r| r["join_to_snapshot_ms"].as_f64()).collect();
    cold.sort_by(f64::total_cmp);
    Ok(json!({
        "mode": "cold_open",
        "revisions": revisions,
        "history_written_in_s": seed_secs,
        "database_bytes": db_bytes,
        "cold_open_ms_median": cold.get(cold.len() / 2),
        "cold_open_ms_max": cold.last(),
        "runs": runs,
        "load_average_before": load_before,
        "note": "each run is a fresh server process (room not in memory); the file is in the OS page cache",
    }))
}

/// Join → (ms to the snapshot frame, ms to the join's ok, snapshot bytes,
/// snapshot revision, section chars).
async fn timed_join(
    ws: &mut wire::Ws,
    room: RoomId,
    section: SectionId,
) -> anyhow::Result<(f64, f64, usize, u64, usize)> {
    let frame = ClientFrame { id: "join".into(), request: Request::Join { room, since: None } };
    let t0 = Instant::now();
    ws.send(Message::text(serde_json::to_string(&frame)?)).await?;
    let mut snap = None;
    loop {
        let Message::Text(t) = ws.next().await.context("closed while joining")?? else { continue };
        let v: Value = serde_json::from_str(&t)?;
        match v["type"].as_str() {
            Some("snapshot") => {
                let ms = t0.elapsed().as_secs_f64() * 1000.0;
                let rev = v["snapshot"]["state"]["revision"].as_u64().unwrap_or(0);
                let chars = v["snapshot"]["state"]["sections"]
                    .as_array()
                    .and_then(|s| s.iter().find(|s| s["id"] == section.to_string()))
                    .and_then(|s| s["body"].as_str())
                    .map_or(0, |b| b.chars().count());
                snap = Some((ms, t.len(), rev, chars));
            }
            Some("ok") if v["id"] == "join" => {
                let (ms, bytes, rev, chars) = snap.context("ok before the snapshot")?;
                return Ok((ms, t0.elapsed().as_secs_f64() * 1000.0, bytes, rev, chars));
            }
            Some("error") => anyhow::bail!("join refused: {t}"),
            _ => {}
        }
    }
}

/// Seeds the demo room, adds a section and writes `revisions` one-character
/// edits through a real room actor. Returns (room, owner token, section).
async fn write_history(db: &std::path::Path, revisions: u64) -> anyhow::Result<(RoomId, String, SectionId)> {
    let store = trustroom_server::storage::open(&db.display().to_string()).await?;
    let seed = trustroom_server::demo::seed(&store).await?;
    let owner = seed.member("owner").context("no owner")?.clone();
    let config = Arc::new(server::bench_config(None));
    let section = history::write(&store, &config, seed.room, owner.user, revisions).await?;
    drop(store);
    Ok((seed.room, owner.token, section))
}

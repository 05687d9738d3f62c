//! Hub stall: latency of requests to warm rooms while many cold rooms open
//! at once. Seeds `warm_rooms` small rooms and `cold_rooms` rooms with
//! `revisions` revisions each (written through the real room actor), starts
//! a fresh server process on the file, joins the warm rooms and has one
//! client per warm room send edits open loop (latency measured from the
//! intended send time to the `ok`, so a stalled answer also delays the
//! ones scheduled behind it). After a quiet baseline, one connection per
//! cold room sends its `join` at the same moment; the warm edits keep
//! going until every cold join is answered, and a little after.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio::sync::watch;
use tokio::time::Instant;
use tokio_tungstenite::tungstenite::Message;
use trustroom_shared::ot::TextOp;
use trustroom_shared::protocol::{ClientFrame, Request};
use trustroom_shared::{ClientId, RoomId, SectionId};

use crate::history;
use crate::server;
use crate::wire;

/// Revisions written into each warm room (it is opened before the
/// measurement, so its size does not matter).
const WARM_REVISIONS: u64 = 20;

/// Rooms whose history is written at the same time while seeding.
const SEED_PARALLEL: usize = 4;

/// What the stall run does.
#[derive(clap::Args, Debug, Clone)]
pub struct Stall {
    /// Rooms opened at once (one joining connection each).
    #[arg(long, default_value_t = 100)]
    pub cold_rooms: usize,
    /// Revisions of history in each cold room.
    #[arg(long, default_value_t = 3000)]
    pub revisions: u64,
    /// Warm rooms, one editing client each.
    #[arg(long, default_value_t = 8)]
    pub warm_rooms: usize,
    /// Edits per second of each warm client.
    #[arg(long, default_value_t = 25.0)]
    pub rate: f64,
    /// Seconds of warm traffic measured before the cold joins.
    #[arg(long, default_value_t = 3)]
    pub baseline_secs: u64,
    /// Seconds of warm traffic measured after the last cold join's answer.
    #[arg(long, default_value_t = 2)]
    pub after_secs: u64,
}

/// One warm answer: when its edit was due (seconds since the run's start)
/// and how long after that its answer came (ms); `ok` false for a refusal.
struct Sample {
    due_s: f64,
    latency_ms: f64,
    ok: bool,
}

pub async fn run(s: &Stall, server_cpus: Option<&str>) -> anyhow::Result<Value> {
    let dir = tempfile::tempdir()?;
    let db = dir.path().join("stall.db");
    let load_before = server::load_average();
    let seeded = Instant::now();
    let (owner_token, warm, cold) = seed(&db, s).await?;
    let seed_secs = seeded.elapsed().as_secs_f64();
    let db_bytes: u64 = ["stall.db", "stall.db-wal"]
        .iter()
        .filter_map(|f| std::fs::metadata(dir.path().join(f)).ok())
        .map(|m| m.len())
        .sum();
    eprintln!(
        "stall: seeded {} cold rooms × {} revisions in {seed_secs:.1} s ({db_bytes} bytes)",
        cold.len(),
        s.revisions
    );

    let server = server::start(&db, 1, false, None, server_cpus).await?;
    let start = Instant::now();
    let (stop_tx, stop) = watch::channel(false);
    let mut warm_tasks = Vec::new();
    for (room, section) in &warm {
        let mut ws = wire::connect(&server.url, &owner_token, ClientId::new()).await?;
        let (rev0, len0) = join(&mut ws, *room, *section).await?;
        let client = WarmClient { room: *room, section: *section, rev0, len0, rate: s.rate, start };
        warm_tasks.push(tokio::spawn(client.run(ws, stop.clone())));
    }
    let mut cold_ws = Vec::new();
    for _ in &cold {
        cold_ws.push(wire::connect(&server.url, &owner_token, ClientId::new()).await?);
    }
    tokio::time::sleep(Duration::from_secs(s.baseline_secs)).await;

    // Every cold join leaves at the same moment.
    let (go_tx, go) = watch::channel(false);
    let mut cold_tasks = Vec::new();
    for (mut ws, (room, section)) in cold_ws.into_iter().zip(cold.iter().copied()) {
        let mut go = go.clone();
        cold_tasks.push(tokio::spawn(async move {
            go.wait_for(|g| *g).await?;
            let sent = Instant::now();
            let (revision, _) = join(&mut ws, room, section).await?;
            anyhow::Ok((sent.elapsed(), revision, ws))
        }));
    }
    let opened_at = Instant::now();
    go_tx.send_replace(true);
    let mut cold_ms = Vec::new();
    let mut cold_sockets = Vec::new();
    for task in cold_tasks {
        let (took, revision, ws) = task.await??;
        anyhow::ensure!(revision >= s.revisions, "a cold room opened at revision {revision}");
        cold_ms.push(took.as_secs_f64() * 1000.0);
        cold_sockets.push(ws);
    }
    let all_open = Instant::now();
    eprintln!("stall: {} cold rooms opened in {:.0} ms", cold.len(), (all_open - opened_at).as_secs_f64() * 1000.0);
    tokio::time::sleep(Duration::from_secs(s.after_secs)).await;
    stop_tx.send_replace(true);
    let mut samples = Vec::new();
    for task in warm_tasks {
        samples.extend(task.await??);
    }
    let load_after = server::load_average();
    drop(cold_sockets);
    let pinned = server.pinned;
    server.kill().await;

    let (t0, t1) = ((opened_at - start).as_secs_f64(), (all_open - start).as_secs_f64());
    let window = |from: f64, to: f64| summary(samples.iter().filter(|x| x.due_s >= from && x.due_s < to));
    cold_ms.sort_by(f64::total_cmp);
    Ok(json!({
        "mode": "stall",
        "cold_rooms": cold.len(),
        "revisions_per_cold_room": s.revisions,
        "warm_rooms": warm.len(),
        "edits_per_second_per_warm_client": s.rate,
        "database_bytes": db_bytes,
        "seeded_in_s": seed_secs,
        "cold_join_ms": {"p50": percentile(&cold_ms, 0.5), "max": cold_ms.last()},
        "all_cold_rooms_open_ms": (t1 - t0) * 1000.0,
        "warm_edit_ms": {
            "baseline": window(0.0, t0),
            "while_cold_rooms_open": window(t0, t1),
            "after": window(t1, f64::INFINITY),
        },
        "load_average_before": load_before,
        "load_average_after": load_after,
        "server_pinned": pinned,
        "note": "warm latency = answer time − the edit's scheduled send time (open loop); windows by scheduled time",
    }))
}

/// p50, p99, max and counts of a set of warm answers.
fn summary<'a>(samples: impl Iterator<Item = &'a Sample>) -> Value {
    let mut ms = Vec::new();
    let mut refused = 0;
    for x in samples {
        ms.push(x.latency_ms);
        refused += usize::from(!x.ok);
    }
    ms.sort_by(f64::total_cmp);
    json!({
        "answers": ms.len(),
        "refused": refused,
        "p50": percentile(&ms, 0.5),
        "p99": percentile(&ms, 0.99),
        "max": ms.last(),
    })
}

fn percentile(sorted: &[f64], q: f64) -> Option<f64> {
    let rank = ((q * sorted.len() as f64).ceil() as usize).max(1);
    sorted.get(rank - 1).copied()
}

/// Seeds the demo room and more rooms owned by its owner, each with a
/// section and history. Returns (owner token, warm rooms, cold rooms).
async fn seed(
    db: &std::path::Path,
    s: &Stall,
) -> anyhow::Result<(String, Vec<(RoomId, SectionId)>, Vec<(RoomId, SectionId)>)> {
    let store = trustroom_server::storage::open(&db.display().to_string()).await?;
    let demo = trustroom_server::demo::seed(&store).await?;
    let owner = demo.member("owner").context("no owner")?.clone();
    let mut rooms = vec![demo.room];
    for i in 1..s.warm_rooms.max(1) + s.cold_rooms {
        rooms.push(trustroom_server::admin::create_room(&store, &format!("Stall room {i}"), &owner.name).await?);
    }
    let config = Arc::new(server::bench_config(None));
    let mut written = Vec::new();
    for (chunk_at, chunk) in rooms.chunks(SEED_PARALLEL).enumerate() {
        let mut tasks = Vec::new();
        for (i, room) in chunk.iter().copied().enumerate() {
            let warm = chunk_at * SEED_PARALLEL + i < s.warm_rooms.max(1);
            let revisions = if warm { WARM_REVISIONS } else { s.revisions };
            let (store, config) = (store.clone(), config.clone());
            tasks.push(tokio::spawn(async move {
                history::write(&store, &config, room, owner.user, revisions).await.map(|sec| (room, sec))
            }));
        }
        for t in tasks {
            written.push(t.await??);
        }
        if written.len() % 20 < SEED_PARALLEL {
            eprintln!("stall: {} of {} rooms written", written.len(), rooms.len());
        }
    }
    drop(store);
    let cold = written.split_off(s.warm_rooms.max(1));
    Ok((owner.token, written, cold))
}

/// Joins a room; returns (revision, characters of `section`).
async fn join(ws: &mut wire::Ws, room: RoomId, section: SectionId) -> anyhow::Result<(u64, u64)> {
    let frame = ClientFrame { id: "join".into(), request: Request::Join { room, since: None } };
    ws.send(Message::text(serde_json::to_string(&frame)?)).await?;
    let mut chars = None;
    loop {
        let Message::Text(t) = ws.next().await.context("closed while joining")?? else { continue };
        let v: Value = serde_json::from_str(&t)?;
        match v["type"].as_str() {
            Some("snapshot") => {
                chars = v["snapshot"]["state"]["sections"]
                    .as_array()
                    .and_then(|s| s.iter().find(|s| s["id"] == section.to_string()))
                    .and_then(|s| s["body"].as_str())
                    .map(|b| b.chars().count() as u64);
            }
            Some("ok") if v["id"] == "join" => {
                let revision = v["result"]["revision"].as_u64().context("join without a revision")?;
                return Ok((revision, chars.context("the snapshot lacks the section")?));
            }
            Some("error") => anyhow::bail!("join refused: {t}"),
            _ => {}
        }
    }
}

/// The one editor of a warm room: appends a character to its section at
/// `rate` per second, open loop, until told to stop; then waits for the
/// answers still due.
struct WarmClient {
    room: RoomId,
    section: SectionId,
    /// Revision and section length at the join.
    rev0: u64,
    len0: u64,
    rate: f64,
    start: Instant,
}

impl WarmClient {
    async fn run(self, ws: wire::Ws, mut stop: watch::Receiver<bool>) -> anyhow::Result<Vec<Sample>> {
        let (mut sink, mut stream) = ws.split();
        let every = Duration::from_secs_f64(1.0 / self.rate.max(0.1));
        let first = Instant::now();
        let mut ticks = tokio::time::interval_at(first, every);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
        let mut due: HashMap<u64, Instant> = HashMap::new();
        let mut samples = Vec::new();
        let (mut sent, mut latest, mut stopping) = (0u64, self.rev0, false);
        loop {
            if stopping && due.is_empty() {
                return Ok(samples);
            }
            tokio::select! {
                _ = ticks.tick(), if !stopping => {
                    // Only this client edits the room: every revision since
                    // the join appended one character to the section.
                    let len = self.len0 + (latest - self.rev0);
                    let mut op = TextOp::new();
                    op.retain(len as usize).insert("x");
                    let request =
                        Request::Edit { room: self.room, section: self.section, base: latest, op: op.to_wire(), seq: Some(sent + 1) };
                    let frame = ClientFrame { id: format!("w{sent}"), request };
                    due.insert(sent, first + every * sent as u32);
                    sent += 1;
                    sink.send(Message::text(serde_json::to_string(&frame)?)).await?;
                }
                msg = stream.next() => {
                    let Message::Text(t) = msg.context("warm connection closed")?? else { continue };
                    let v: Value = serde_json::from_str(&t)?;
                    let Some(n) = v["id"].as_str().and_then(|id| id.strip_prefix('w')).and_then(|n| n.parse::<u64>().ok()) else { continue };
                    let Some(at) = due.remove(&n) else { continue };
                    let ok = v["type"] == "ok";
                    if let Some(rev) = v["result"]["revision"].as_u64() {
                        latest = latest.max(rev);
                    }
                    samples.push(Sample {
                        due_s: (at - self.start).as_secs_f64(),
                        latency_ms: at.elapsed().as_secs_f64() * 1000.0,
                        ok,
                    });
                }
                _ = stop.changed(), if !stopping => stopping = true,
            }
        }
    }
}

//! Backpressure: a client that stops reading cannot stall a room or make
//! the server queue without bound. Five editors edit one section at full
//! rate (each sends its next op the moment the previous one is
//! acknowledged) while a sixth member joins over a raw TCP socket with a
//! tiny receive buffer and never reads again. The server queues at most
//! `outbox_frames` frames for it, then disconnects it with a reason; the
//! editors keep receiving every event (reach 1.0, no gap, no reconnect)
//! with low latency; the stalled member rejoins and gets the same state.
// Test code: a failed expectation is the verdict (the lints bind product code).
#![allow(clippy::expect_used, clippy::panic)]

mod reliability;

use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use reliability::{Editor, Mix, Ws, add_section, control, fetch_state};
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;
use trustroom_e2e::{TestServer, WsClient};
use trustroom_server::config::ServerConfig;

const OUTBOX: usize = 32;

/// Joins over a TCP socket whose receive buffer is as small as the kernel
/// allows, reading only until the join's `ok`.
async fn stalled_member(server: &TestServer, token: &str) -> anyhow::Result<(Ws, u64)> {
    let socket = tokio::net::TcpSocket::new_v4()?;
    socket.set_recv_buffer_size(4096)?;
    let tcp = socket.connect(server.addr).await?;
    let (mut ws, _) =
        tokio_tungstenite::client_async(server.url.as_str(), tokio_tungstenite::MaybeTlsStream::Plain(tcp)).await?;
    ws.send(Message::text(json!({"type": "hello", "protocol": 2, "token": token}).to_string())).await?;
    ws.send(Message::text(json!({"id": "j", "type": "join", "room": server.room()}).to_string())).await?;
    let mut revision = 0;
    loop {
        let msg = tokio::time::timeout(Duration::from_secs(10), ws.next()).await?;
        let Some(Ok(Message::Text(t))) = msg else { continue };
        let v: Value = serde_json::from_str(&t)?;
        if v["type"] == "snapshot" {
            revision = v["snapshot"]["state"]["revision"].as_u64().unwrap_or(0);
        }
        if v["id"] == "j" {
            anyhow::ensure!(v["type"] == "ok", "join refused: {v}");
            return Ok((ws, revision));
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_stops_reading_is_cut_off_and_does_not_slow_the_room() -> anyhow::Result<()> {
    let config = ServerConfig {
        outbox_frames: OUTBOX,
        // A small kernel buffer too, so the stall shows within the test.
        send_buffer_bytes: 16 * 1024,
        // Full-rate editors must not meet the request-rate limit here.
        requests_per_second: 100_000.0,
        request_burst: 100_000,
        ..ServerConfig::default()
    };
    let server = TestServer::start_with(config).await?;
    let room = server.seed.room;
    let owner = server.member("owner").token.clone();
    let section = add_section(&server.url, &owner, room, "Backpressure").await?;

    let (ctl, steering) = control(&server.url);
    let fanout = ctl.fanout.clone();
    let deadline = Instant::now() + Duration::from_secs(40);
    let editors: Vec<(String, String)> = server
        .seed
        .members
        .iter()
        .filter(|m| m.role == "owner" || m.role.starts_with("reviewer"))
        .map(|m| (m.name.clone(), m.token.clone()))
        .collect();
    anyhow::ensure!(!editors.is_empty(), "no editors in the demo seed");
    let mut tasks = Vec::new();
    for i in 0..5 {
        let (name, token) = &editors[i % editors.len()];
        let editor = Editor::new(
            &format!("{name}#{i}"),
            token,
            room,
            section,
            Mix { object: 0, reply: 0, away: 0 },
            i as u64 + 7,
        );
        tasks.push(tokio::spawn(editor.run(ctl.clone(), deadline)));
    }

    // Phase 1: the five editors alone.
    let phase1 = Instant::now();
    tokio::time::sleep(Duration::from_secs(2)).await;
    // Phase 2: a member joins and never reads again.
    let phase2 = Instant::now();
    let stalled_token = server.member("observer").token.clone();
    let (mut stalled, stalled_from) = stalled_member(&server, &stalled_token).await?;
    tokio::time::sleep(Duration::from_secs(3)).await;
    let phase2_end = Instant::now();
    let (reports, final_state) = steering.finish(tasks, &owner, room).await?;
    let errors: Vec<&String> = reports.iter().flat_map(|r| &r.errors).collect();
    anyhow::ensure!(errors.is_empty(), "editors hit errors: {errors:#?}");

    // Reach: every editor received every other editor's event, never
    // reconnected, and ended on the same state.
    let stored = server.stored_revisions().await?;
    let (mut delivered, mut expected) = (0u64, 0u64);
    for r in &reports {
        anyhow::ensure!(r.connects == 1, "{} was disconnected ({} connects)", r.name, r.connects);
        let state = r.state.as_ref().ok_or_else(|| anyhow::anyhow!("{}: no state", r.name))?;
        anyhow::ensure!(*state == final_state, "{} diverged", r.name);
        let from = r.first_revision.unwrap_or(0);
        let others = stored
            .iter()
            .filter(|rev| rev.revision > from && rev.client.is_some_and(|c| Some(c.client) != r.client))
            .count() as u64;
        delivered += r.received_from_others;
        expected += others;
    }
    let reach = delivered as f64 / expected.max(1) as f64;
    let edits: usize = reports.iter().map(|r| r.acked_edits.len()).sum();
    let (n1, p50_1, p99_1, max_1) = fanout.summary_between(Some(phase1), Some(phase2));
    let (n2, p50_2, p99_2, max_2) = fanout.summary_between(Some(phase2), Some(phase2_end));
    let secs = phase2_end.duration_since(phase1).as_secs_f64();
    println!(
        "{edits} edits acknowledged in {secs:.1} s ({:.0}/s); reach {reach:.4} ({delivered}/{expected})",
        edits as f64 / secs
    );
    println!(
        "fan-out latency without the stalled client: n={n1} p50={p50_1:.1} ms p99={p99_1:.1} ms max={max_1:.1} ms"
    );
    println!(
        "fan-out latency with the stalled client:    n={n2} p50={p50_2:.1} ms p99={p99_2:.1} ms max={max_2:.1} ms"
    );
    anyhow::ensure!(reach == 1.0, "reach {reach} < 1");
    anyhow::ensure!(n2 > 100, "too few samples while stalled: {n2}");
    anyhow::ensure!(p99_2 < 1_000.0, "p99 fan-out latency {p99_2} ms with a stalled client");

    // The stalled member was cut off: what it can still read ends (EOF),
    // far short of every event, with the reason last when it fit.
    let mut frames = 0u64;
    let mut last = Value::Null;
    let drained = tokio::time::timeout(Duration::from_secs(10), async {
        while let Some(Ok(msg)) = stalled.next().await {
            if let Message::Text(t) = msg {
                frames += 1;
                last = serde_json::from_str(&t).unwrap_or(Value::Null);
            }
        }
    })
    .await;
    let missed = final_state.revision - stalled_from;
    anyhow::ensure!(
        drained.is_ok(),
        "the stalled connection was never closed by the server (read {frames} frames for {missed} revisions)"
    );
    println!(
        "stalled member: read {frames} frames after waking up, {missed} revisions were committed; last frame: {}",
        if last["type"] == "closing" { last.to_string() } else { "(closing did not fit the full socket)".into() }
    );
    anyhow::ensure!(frames < missed, "the stalled member was not cut off ({frames} frames for {missed} revisions)");
    if last["type"] == "closing" {
        anyhow::ensure!(last["code"] == "too_large", "unexpected closing {last}");
    }

    // It returns and resyncs to the same state.
    let mut back = WsClient::connect(&server.url, &stalled_token).await?;
    let snap = back.join(&server.room()).await?;
    anyhow::ensure!(snap["state"]["revision"] == final_state.revision, "rejoined at {}", snap["state"]["revision"]);
    let fresh = fetch_state(&server.url, &owner, room).await?;
    anyhow::ensure!(fresh == final_state, "the room changed after the editors stopped");
    let body = snap["state"]["sections"]
        .as_array()
        .and_then(|s| s.iter().find(|s| s["id"] == section.to_string()))
        .and_then(|s| s["body"].as_str())
        .unwrap_or_default()
        .to_string();
    anyhow::ensure!(
        Some(body.as_str()) == final_state.section(section).map(|s| s.body.as_str()),
        "the rejoined member sees different text"
    );
    Ok(())
}

//! Every configurable limit, end to end against a real server with small
//! limits: the refusal carries its stable code, and where the protocol says
//! so the connection stays usable. No fixed sleeps decide an outcome: each
//! wait is for the outcome itself, bounded by a deadline.
// Test code: a failed expectation is the verdict (the lints bind product code).
#![allow(clippy::expect_used, clippy::panic)]

mod reliability;

use std::time::Duration;

use anyhow::Context;
use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio::time::Instant;
use tokio_tungstenite::tungstenite::Message;
use trustroom_e2e::{TestServer, WsClient, chars, section};
use trustroom_server::config::ServerConfig;

use reliability::Ws;

/// Opens a websocket and sends `hello`; returns the socket and the first
/// frame the server answered with (`welcome` or `closing`).
async fn hello(url: &str, token: &str) -> anyhow::Result<(Ws, Value)> {
    let (mut ws, _) = tokio_tungstenite::connect_async(url).await?;
    ws.send(Message::text(json!({"type": "hello", "protocol": 2, "token": token}).to_string())).await?;
    let first =
        next_text(&mut ws, Duration::from_secs(5)).await?.ok_or_else(|| anyhow::anyhow!("no answer to hello"))?;
    Ok((ws, first))
}

/// The next text frame as JSON; `None` when the socket closed.
async fn next_text(ws: &mut Ws, wait: Duration) -> anyhow::Result<Option<Value>> {
    let deadline = Instant::now() + wait;
    loop {
        match tokio::time::timeout_at(deadline, ws.next()).await {
            Err(_) => anyhow::bail!("nothing within {wait:?}"),
            Ok(Some(Ok(Message::Text(t)))) => return Ok(Some(serde_json::from_str(&t)?)),
            Ok(Some(Ok(Message::Close(_)) | Err(_)) | None) => return Ok(None),
            Ok(Some(Ok(_))) => continue,
        }
    }
}

/// Retries `attempt` until it succeeds or `wait` passes.
async fn eventually<T, F, Fut>(wait: Duration, mut attempt: F) -> anyhow::Result<T>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = anyhow::Result<T>>,
{
    let deadline = Instant::now() + wait;
    loop {
        match attempt().await {
            Ok(v) => return Ok(v),
            Err(e) if Instant::now() > deadline => return Err(e.context(format!("still failing after {wait:?}"))),
            Err(_) => tokio::time::sleep(Duration::from_millis(20)).await,
        }
    }
}

/// A websocket client written by hand over TCP that sends the upgrade and
/// `hello` and then never writes again (so it never answers a ping, and
/// never provokes a reset that would discard what the server sent).
async fn silent_client(addr: std::net::SocketAddr, token: &str) -> anyhow::Result<tokio::net::TcpStream> {
    use tokio::io::AsyncWriteExt;
    let mut tcp = tokio::net::TcpStream::connect(addr).await?;
    let upgrade = format!(
        "GET / HTTP/1.1\r\nHost: {addr}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
    );
    tcp.write_all(upgrade.as_bytes()).await?;
    // Bytes after the request before the 101 are refused (junk after the
    // request): wait for the end of the response headers first.
    let mut response = Vec::new();
    while !response.ends_with(b"\r\n\r\n") {
        let mut byte = [0u8; 1];
        anyhow::ensure!(tokio::io::AsyncReadExt::read(&mut tcp, &mut byte).await? == 1, "closed during the upgrade");
        response.push(byte[0]);
    }
    anyhow::ensure!(response.starts_with(b"HTTP/1.1 101"), "upgrade refused");
    let payload = json!({"type": "hello", "protocol": 2, "token": token}).to_string().into_bytes();
    // A masked text frame with a zero mask (payload unchanged).
    let mut frame = vec![0x81u8];
    if payload.len() < 126 {
        frame.push(0x80 | payload.len() as u8);
    } else {
        frame.push(0x80 | 126);
        frame.extend_from_slice(&(payload.len() as u16).to_be_bytes());
    }
    frame.extend_from_slice(&[0, 0, 0, 0]);
    frame.extend_from_slice(&payload);
    tcp.write_all(&frame).await?;
    Ok(tcp)
}

/// Everything the server sends until it closes the socket (or `wait`).
async fn read_to_end(tcp: &mut tokio::net::TcpStream, wait: Duration) -> anyhow::Result<String> {
    use tokio::io::AsyncReadExt;
    let mut all = Vec::new();
    tokio::time::timeout(wait, tcp.read_to_end(&mut all)).await.context("the server never closed the socket")??;
    Ok(String::from_utf8_lossy(&all).into_owned())
}

fn expect_closing(frame: &Value, code: &str) -> anyhow::Result<()> {
    anyhow::ensure!(frame["type"] == "closing" && frame["code"] == code, "expected closing {code}, got {frame}");
    Ok(())
}

#[tokio::test]
async fn connections_per_user_are_capped_and_freed_on_close() -> anyhow::Result<()> {
    let server =
        TestServer::start_with(ServerConfig { max_connections_per_user: 2, ..ServerConfig::default() }).await?;
    let owner = server.member("owner").token.clone();
    let a = WsClient::connect(&server.url, &owner).await?;
    let _b = WsClient::connect(&server.url, &owner).await?;
    let (mut third, answer) = hello(&server.url, &owner).await?;
    expect_closing(&answer, "rate_limited")?;
    let reason = answer["reason"].as_str().unwrap_or_default();
    anyhow::ensure!(reason.contains("limit 2"), "the reason should name the limit: {reason}");
    anyhow::ensure!(next_text(&mut third, Duration::from_secs(5)).await?.is_none(), "the refused socket stays open");
    // Another user is not affected.
    let _other = WsClient::connect(&server.url, &server.member("reviewer/privacy").token).await?;
    // Closing one frees its slot (as soon as the server saw the close).
    a.close().await;
    let mut c = eventually(Duration::from_secs(5), || WsClient::connect(&server.url, &owner)).await?;
    c.ok(json!({"type": "ping"})).await?;
    // The refusal is audited on the server chain.
    let refused = server.refusals("server", "hello", "rate_limited").await?;
    anyhow::ensure!(!refused.is_empty(), "the per-user refusal was not audited");
    Ok(())
}

#[tokio::test]
async fn connections_per_ip_are_capped_including_handshakes() -> anyhow::Result<()> {
    let server = TestServer::start_with(ServerConfig { max_connections_per_ip: 3, ..ServerConfig::default() }).await?;
    let owner = server.member("owner").token.clone();
    let a = WsClient::connect(&server.url, &owner).await?;
    let _b = WsClient::connect(&server.url, &server.member("reviewer/privacy").token).await?;
    // An upgraded socket that never says hello counts too.
    let (_idle, _) = tokio_tungstenite::connect_async(&server.url).await?;
    let (_ws, answer) = hello(&server.url, &owner).await?;
    expect_closing(&answer, "rate_limited")?;
    anyhow::ensure!(answer["reason"].as_str().unwrap_or_default().contains("from your address"), "{answer}");
    a.close().await;
    let mut c = eventually(Duration::from_secs(5), || WsClient::connect(&server.url, &owner)).await?;
    c.ok(json!({"type": "rooms"})).await?;
    Ok(())
}

#[tokio::test]
async fn requests_over_the_rate_get_rate_limited_and_the_connection_stays_usable() -> anyhow::Result<()> {
    let config = ServerConfig { requests_per_second: 5.0, request_burst: 10, ..ServerConfig::default() };
    let server = TestServer::start_with(config).await?;
    let mut c = server.client("owner").await?;
    let mut other = server.client("reviewer/privacy").await?;
    // 30 pings at once: the burst passes, the rest is refused with its id.
    let mut ids = Vec::new();
    for i in 0..30 {
        ids.push(c.send_request(json!({"id": format!("p{i}"), "type": "ping"})).await?);
    }
    let (mut ok, mut limited) = (0, 0);
    for id in &ids {
        let (_, answer) = c.await_answer_text(id).await?;
        match (answer["type"].as_str(), answer["code"].as_str()) {
            (Some("ok"), _) => ok += 1,
            (Some("error"), Some("rate_limited")) => {
                anyhow::ensure!(answer["id"] == id.as_str(), "the refusal must carry the request id: {answer}");
                anyhow::ensure!(answer["message"].as_str().unwrap_or_default().contains("per second"), "{answer}");
                limited += 1;
            }
            _ => anyhow::bail!("unexpected answer {answer}"),
        }
    }
    println!("30 pipelined pings: {ok} ok, {limited} rate_limited");
    anyhow::ensure!((10..=12).contains(&ok), "the burst of 10 (plus refill) should pass, got {ok}");
    anyhow::ensure!(limited >= 18, "the rest should be refused, got {limited}");
    // Other connections have their own budget.
    other.ok(json!({"type": "ping"})).await?;
    // The same connection works again once a token refilled (5/s).
    let started = Instant::now();
    loop {
        let answer = c.request(json!({"type": "rooms"})).await?;
        if answer["type"] == "ok" {
            break;
        }
        anyhow::ensure!(answer["code"] == "rate_limited", "{answer}");
        anyhow::ensure!(started.elapsed() < Duration::from_secs(5), "never usable again");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    Ok(())
}

#[tokio::test]
async fn idle_connections_are_closed_when_pings_go_unanswered() -> anyhow::Result<()> {
    let config = ServerConfig {
        ping_interval: Duration::from_millis(100),
        idle_timeout: Duration::from_millis(500),
        ..ServerConfig::default()
    };
    let server = TestServer::start_with(config).await?;
    let owner = server.member("owner").token.clone();
    // A client that keeps reading answers the server's pings (its websocket
    // library sends the pongs) and survives several idle timeouts.
    let (mut alive, welcome) = hello(&server.url, &owner).await?;
    anyhow::ensure!(welcome["type"] == "welcome", "{welcome}");
    // A client that never reads does not answer them.
    let mut silent = silent_client(server.addr, &server.member("reviewer/privacy").token).await?;
    let until = Instant::now() + Duration::from_millis(1_600);
    let mut pings = 0;
    while Instant::now() < until {
        match tokio::time::timeout_at(until, alive.next()).await {
            Err(_) => break,
            Ok(Some(Ok(Message::Ping(_)))) => pings += 1,
            Ok(Some(Ok(Message::Text(t)))) => anyhow::bail!("the live client got {t}"),
            Ok(Some(Ok(_))) => {}
            Ok(None | Some(Err(_))) => anyhow::bail!("the live client was disconnected"),
        }
    }
    anyhow::ensure!(pings >= 5, "the server should ping every 100 ms, saw {pings}");
    alive.send(Message::text(json!({"id": "x", "type": "ping"}).to_string())).await?;
    let pong = next_text(&mut alive, Duration::from_secs(5)).await?;
    anyhow::ensure!(pong.as_ref().is_some_and(|v| v["type"] == "pong"), "live client unusable: {pong:?}");
    // The silent one was welcomed, pinged, told why, and closed.
    let received = read_to_end(&mut silent, Duration::from_secs(5)).await?;
    anyhow::ensure!(received.contains(r#""type":"welcome""#), "no welcome: {received:?}");
    anyhow::ensure!(
        received.contains(r#""type":"closing","code":"timeout""#),
        "no closing timeout before the close: {received:?}"
    );
    Ok(())
}

#[tokio::test]
async fn handshake_timeout_and_frame_size() -> anyhow::Result<()> {
    let config = ServerConfig {
        handshake_timeout: Duration::from_millis(300),
        max_frame_bytes: 4_096,
        hard_frame_bytes: 16_384,
        ..ServerConfig::default()
    };
    let server = TestServer::start_with(config).await?;
    // Upgrade, then silence: `closing` `timeout`.
    let started = Instant::now();
    let (mut ws, _) = tokio_tungstenite::connect_async(&server.url).await?;
    let closing = next_text(&mut ws, Duration::from_secs(5)).await?.ok_or_else(|| anyhow::anyhow!("no closing"))?;
    expect_closing(&closing, "timeout")?;
    anyhow::ensure!(started.elapsed() < Duration::from_secs(3), "took {:?}", started.elapsed());
    // Over max_frame_bytes: `too_large`, id null, the connection stays usable.
    let mut c = server.client("owner").await?;
    c.send_raw(&json!({"id": "big", "type": "ping", "pad": "x".repeat(5_000)}).to_string()).await?;
    let err = c.wait_for(|v| v["type"] == "error", Duration::from_secs(5)).await?;
    anyhow::ensure!(err["code"] == "too_large" && err["id"].is_null(), "{err}");
    c.ok(json!({"type": "ping"})).await?;
    // Over the hard limit: `closing` `too_large`.
    c.send_raw(&json!({"id": "huge", "type": "ping", "pad": "x".repeat(20_000)}).to_string()).await?;
    let closing = c.wait_for(|v| v["type"] == "closing", Duration::from_secs(5)).await;
    if let Ok(closing) = closing {
        expect_closing(&closing, "too_large")?;
    }
    Ok(())
}

#[tokio::test]
async fn room_limits_sections_objections_and_section_size() -> anyhow::Result<()> {
    // The demo room has a handful of sections and objections; leave room for one more of each.
    let probe = TestServer::start().await?;
    let (_, snap) = probe.joined("owner").await?;
    let sections = snap["state"]["sections"].as_array().map_or(0, Vec::len);
    let objections = snap["state"]["objections"].as_object().map_or(0, |o| o.len());
    drop(probe);

    let config = ServerConfig {
        max_sections: sections + 1,
        max_objections: objections + 1,
        max_section_chars: 2_000,
        ..ServerConfig::default()
    };
    let server = TestServer::start_with(config).await?;
    let room = server.room();
    let (mut c, snap) = server.joined("owner").await?;

    // Section size: a body over the limit, then an edit that would grow a section over it.
    c.refused(json!({"type": "add_section", "room": room, "title": "Too big", "body": "b".repeat(2_001)}), "too_large")
        .await?;
    let ack = c
        .ok(json!({"type": "add_section", "room": room, "title": "Notes", "body": "n".repeat(1_990), "seq": 1}))
        .await?;
    let notes = ack["created"].as_str().unwrap_or_default().to_string();
    let rev = ack["revision"].as_u64().unwrap_or(0);
    let err = c
        .refused(json!({"type": "edit", "room": room, "section": notes, "base": rev, "op": [1_990, "x".repeat(11)], "seq": 2}), "too_large")
        .await?;
    anyhow::ensure!(err["id"].is_string(), "{err}");
    c.ok(json!({"type": "edit", "room": room, "section": notes, "base": rev, "op": [1_990, "x".repeat(10)], "seq": 3}))
        .await?;

    // Sections per room: that was the last one allowed.
    let err = c.refused(json!({"type": "add_section", "room": room, "title": "One too many"}), "too_large").await?;
    anyhow::ensure!(err["message"].as_str().unwrap_or_default().contains("limit"), "{err}");

    // Objections per room: one more fits, the next does not.
    let (first, body) = section(&snap, "Summary")?;
    let _ = chars(&body);
    c.ok(json!({"type": "object", "room": room, "section": first, "kind": "wording", "text": "last one", "seq": 4}))
        .await?;
    c.refused(
        json!({"type": "object", "room": room, "section": first, "kind": "wording", "text": "over", "seq": 5}),
        "too_large",
    )
    .await?;
    // Refusals are audited in the room's chain and nothing was stored for them.
    let refused = server.refusals(&room, "object", "too_large").await?;
    anyhow::ensure!(refused.len() == 1, "expected one audited refusal, got {}", refused.len());
    c.ok(json!({"type": "ping"})).await?;
    Ok(())
}

/// `serve --history-window N`: a returning client at most N revisions behind
/// is caught up with exactly the missed events; one further behind gets a
/// fresh snapshot instead (the room keeps no older revisions in memory).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn history_window_flag_bounds_catch_up() -> anyhow::Result<()> {
    let (dir, db_url, seed) = reliability::seeded_db().await?;
    let room = seed.room.to_string();
    let token = |role: &str| seed.member(role).map(|m| m.token.clone()).ok_or_else(|| anyhow::anyhow!("no {role}"));
    let server =
        reliability::ServerProcess::start(&db_url, &dir.path().join("home"), &["--history-window", "3"]).await?;
    let mut owner = WsClient::connect(&server.url, &token("owner")?).await?;
    let snap = owner.join(&room).await?;
    let (sec, body) = section(&snap, "Summary")?;
    let start = snap["state"]["revision"].as_u64().unwrap_or(0);
    let len = chars(&body) as u64;
    for seq in 1..=5u64 {
        let (base, at) = (start + seq - 1, len + seq - 1);
        owner
            .ok(json!({"type": "edit", "room": room, "section": sec, "base": base, "op": [at, "x"], "seq": seq}))
            .await?;
    }
    let now = start + 5;

    let mut near = WsClient::connect(&server.url, &token("observer")?).await?;
    near.ok(json!({"type": "join", "room": room, "since": now - 3})).await?;
    let frames = near.take_pending();
    let revs: Vec<u64> = frames.iter().filter_map(|v| v["rev"]["revision"].as_u64()).collect();
    anyhow::ensure!(frames.iter().all(|v| v["type"] == "event"), "3 behind with a window of 3: {frames:?}");
    anyhow::ensure!(revs == (now - 2..=now).collect::<Vec<_>>(), "{revs:?}");

    let mut far = WsClient::connect(&server.url, &token("reviewer/privacy")?).await?;
    far.ok(json!({"type": "join", "room": room, "since": now - 4})).await?;
    let frames = far.take_pending();
    let snapshot = frames.iter().find(|v| v["type"] == "snapshot");
    anyhow::ensure!(snapshot.is_some_and(|s| s["snapshot"]["state"]["revision"] == now), "4 behind: {frames:?}");
    anyhow::ensure!(!frames.iter().any(|v| v["type"] == "event"), "4 behind got events: {frames:?}");
    server.terminate().await?;
    Ok(())
}

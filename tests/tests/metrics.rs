//! `/metrics`: the real server binary with `--metrics-listen`, scraped over
//! real HTTP while real websocket clients join and edit; the counters and
//! gauges move with what happens, and nothing else is served there.
// Test code: a failed expectation is the verdict (the lints bind product code).
#![allow(clippy::expect_used, clippy::panic)]

use std::process::Stdio;

use anyhow::{Context, Result, bail, ensure};
use serde_json::json;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use trustroom_e2e::{T, WsClient, free_port, isolated_command, section, server_bin};

/// One HTTP/1.1 request; returns (status line, body).
async fn http_get(addr: &str, path: &str, method: &str) -> Result<(String, String)> {
    let mut s = tokio::time::timeout(T, tokio::net::TcpStream::connect(addr)).await.context("connect timed out")??;
    s.write_all(format!("{method} {path} HTTP/1.1\r\nHost: {addr}\r\nAccept: text/plain\r\n\r\n").as_bytes()).await?;
    let mut raw = Vec::new();
    tokio::time::timeout(T, s.read_to_end(&mut raw)).await.context("response timed out")??;
    let text = String::from_utf8(raw).context("response is not UTF-8")?;
    let (head, body) = text.split_once("\r\n\r\n").with_context(|| format!("no header end in {text:?}"))?;
    let status = head.lines().next().unwrap_or_default().to_string();
    let length: usize =
        head.lines().find_map(|l| l.strip_prefix("Content-Length: ")).context("no Content-Length")?.trim().parse()?;
    ensure!(length == body.len(), "Content-Length {length} but {} body bytes", body.len());
    Ok((status, body.to_string()))
}

/// The value of an unlabelled sample (or one with exactly `labels`).
fn sample(text: &str, name: &str) -> Result<f64> {
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .find_map(|l| l.strip_prefix(name).and_then(|rest| rest.strip_prefix(' ')))
        .with_context(|| format!("no sample {name} in:\n{text}"))?
        .trim()
        .parse()
        .with_context(|| format!("sample {name} is not a number"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_endpoint_reports_connections_rooms_ops_and_commit_latency() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let db = dir.path().join("m.db");
    let seed = {
        let store = trustroom_server::storage::open(&db.display().to_string()).await?;
        trustroom_server::demo::seed(&store).await?
    };
    let (port, metrics_port) = (free_port()?, free_port()?);
    let (listen, metrics) = (format!("127.0.0.1:{port}"), format!("127.0.0.1:{metrics_port}"));
    let mut child = isolated_command(&server_bin()?, dir.path())
        .args(["--db", &db.display().to_string(), "serve", "--listen", &listen, "--metrics-listen", &metrics])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .context("spawning trustroom-server serve")?;
    let mut lines = BufReader::new(child.stderr.take().context("stderr")?).lines();
    let mut seen = Vec::new();
    let ready = tokio::time::timeout(T, async {
        while let Some(line) = lines.next_line().await? {
            let done = line.contains("listening on");
            seen.push(line);
            if done {
                return anyhow::Ok(());
            }
        }
        bail!("the server exited")
    })
    .await;
    ensure!(matches!(ready, Ok(Ok(()))), "server did not start: {ready:?} {seen:?}");
    ensure!(
        seen.iter().any(|l| l.contains(&format!("http://{metrics}/metrics"))),
        "metrics address not announced: {seen:?}"
    );

    // Before anyone connects.
    let (status, before) = http_get(&metrics, "/metrics", "GET").await?;
    ensure!(status.starts_with("HTTP/1.1 200"), "status {status}");
    ensure!(before.contains("# TYPE trustroom_commit_duration_seconds histogram"), "{before}");
    ensure!(sample(&before, "trustroom_connections")? == 0.0, "{before}");
    ensure!(sample(&before, "trustroom_rooms_open")? == 0.0, "{before}");
    let ops_before = sample(&before, "trustroom_ops_accepted_total")?;
    let commits_before = sample(&before, "trustroom_commit_duration_seconds_count")?;
    ensure!(sample(&before, "process_resident_memory_bytes")? > 0.0, "{before}");

    // Two members join; one edits three times, the other receives the events.
    let url = format!("ws://{listen}");
    let token = |role: &str| seed.members.iter().find(|m| m.role == role).map(|m| m.token.clone()).context("member");
    let room = seed.room.to_string();
    let mut owner = WsClient::connect(&url, &token("owner")?).await?;
    let mut reader = WsClient::connect(&url, &token("reviewer/privacy")?).await?;
    let joined = owner.join(&room).await?;
    reader.join(&room).await?;
    let (sid, body) = section(&joined, "Summary")?;
    let len = body.chars().count() as u64;
    let mut rev = joined["state"]["revision"].as_u64().context("revision")?;
    for seq in 1..=3u64 {
        // Each edit prepends one character to what the previous ones made.
        let before = len + seq - 1;
        let ack = owner
            .ok(json!({"type": "edit", "room": room, "section": sid, "base": rev, "op": ["x", before], "seq": seq}))
            .await?;
        rev = ack["revision"].as_u64().with_context(|| format!("ack {ack}"))?;
    }
    reader.wait_for_revision(rev).await?;

    let (_, during) = http_get(&metrics, "/metrics", "GET").await?;
    ensure!(sample(&during, "trustroom_connections")? == 2.0, "two connections open:\n{during}");
    ensure!(sample(&during, "trustroom_rooms_open")? == 1.0, "one room open:\n{during}");
    ensure!(sample(&during, "trustroom_ops_accepted_total")? >= ops_before + 3.0, "three edits accepted:\n{during}");
    ensure!(sample(&during, "trustroom_commit_duration_seconds_count")? >= commits_before + 3.0, "{during}");
    let inf = sample(&during, "trustroom_commit_duration_seconds_bucket{le=\"+Inf\"}")?;
    ensure!(inf == sample(&during, "trustroom_commit_duration_seconds_count")?, "+Inf bucket equals the count");
    ensure!(sample(&during, "trustroom_commit_duration_seconds_sum")? > 0.0, "{during}");
    // Both members got each edit (the author's echo included).
    ensure!(sample(&during, "trustroom_deliveries_queued_total")? >= 6.0, "{during}");
    ensure!(
        sample(&during, "trustroom_frames_written_total")? >= sample(&during, "trustroom_socket_flushes_total")?,
        "{during}"
    );
    ensure!(sample(&during, "trustroom_fanout_queue_depth")? >= 0.0, "{during}");

    // Disconnects bring the gauge back down.
    owner.close().await;
    reader.close().await;
    let deadline = tokio::time::Instant::now() + T;
    loop {
        let (_, after) = http_get(&metrics, "/metrics", "GET").await?;
        if sample(&after, "trustroom_connections")? == 0.0 && sample(&after, "trustroom_fanout_queue_depth")? == 0.0 {
            break;
        }
        ensure!(tokio::time::Instant::now() < deadline, "connections and queued frames never went back to 0:\n{after}");
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }

    // Only GET /metrics is served.
    let (status, _) = http_get(&metrics, "/other", "GET").await?;
    ensure!(status.starts_with("HTTP/1.1 404"), "status {status}");
    let (status, _) = http_get(&metrics, "/metrics", "POST").await?;
    ensure!(status.starts_with("HTTP/1.1 405"), "status {status}");

    child.start_kill()?;
    let _ = child.wait().await;
    Ok(())
}

//! Memory per idle connection: the server's RSS before and after N
//! authenticated connections that joined the room and then stay idle.

use std::time::Duration;

use serde_json::{Value, json};
use trustroom_shared::ClientId;

use crate::server;
use crate::wire;

pub async fn run(connections: usize, server_cpus: Option<&str>) -> anyhow::Result<Value> {
    let dir = tempfile::tempdir()?;
    let db = dir.path().join("idle.db");
    let load_before = server::load_average();
    let server = server::start(&db, 1, true, None, server_cpus).await?;
    let tokens: Vec<String> = server.members.iter().filter_map(|m| m["token"].as_str().map(String::from)).collect();
    let room = *server.rooms.first().ok_or_else(|| anyhow::anyhow!("no room"))?;
    // Warm up the room and the allocator with a few connections first, so
    // the baseline includes the open room itself.
    let mut warm = Vec::new();
    for t in tokens.iter().take(3) {
        let mut ws = wire::connect(&server.url, t, ClientId::new()).await?;
        wire::request(&mut ws, "join", trustroom_shared::protocol::Request::Join { room, since: None }).await?;
        warm.push(ws);
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    let (rss_before, fds_before) = server::rss_fds(server.pid).unwrap_or_default();
    let mut conns = Vec::with_capacity(connections);
    for i in 0..connections {
        let mut ws = wire::connect(&server.url, &tokens[i % tokens.len()], ClientId::new()).await?;
        wire::request(&mut ws, "join", trustroom_shared::protocol::Request::Join { room, since: None }).await?;
        conns.push(ws);
        if (i + 1) % 500 == 0 {
            eprintln!("idle: {} connections joined", i + 1);
        }
    }
    tokio::time::sleep(Duration::from_secs(1)).await;
    let (rss_after, fds_after) = server::rss_fds(server.pid).unwrap_or_default();
    let per_conn = (rss_after as f64 - rss_before as f64) * 1024.0 / connections.max(1) as f64;
    eprintln!("idle: {connections} connections: RSS {rss_before} → {rss_after} KiB, {:.1} KiB each", per_conn / 1024.0);
    drop(conns);
    drop(warm);
    server.kill().await;
    Ok(json!({
        "mode": "idle_connections",
        "connections": connections,
        "joined_room": true,
        "server_rss_before_kib": rss_before,
        "server_rss_after_kib": rss_after,
        "bytes_per_idle_connection": per_conn,
        "kib_per_idle_connection": per_conn / 1024.0,
        "server_fds": {"before": fds_before, "after": fds_after},
        "load_average_before": load_before,
    }))
}

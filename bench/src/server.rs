//! The server under test: a child process (this same binary with the
//! hidden `--serve-child` flag) on a real SQLite file, started pinned to
//! its own CPUs with `taskset` when available, plus `/proc` readings.

use std::process::Stdio;

use anyhow::Context;
use serde_json::{Value, json};
use tokio::io::AsyncBufReadExt;
use trustroom_shared::RoomId;
use trustroom_shared::role::Role;

/// A running server child.
pub struct ServerChild {
    pub child: tokio::process::Child,
    pub pid: u32,
    pub url: String,
    pub rooms: Vec<RoomId>,
    /// The seed's member list (`name`, `role`, `user`, `token`).
    pub members: Vec<Value>,
    /// Whether the child was started under `taskset`.
    pub pinned: bool,
    /// `host:port` of the child's `/metrics` endpoint.
    pub metrics: Option<String>,
}

impl ServerChild {
    /// Tokens of the members who may edit (owner and reviewers).
    pub fn editor_tokens(&self) -> Vec<String> {
        self.members
            .iter()
            .filter(|m| {
                let r = m["role"].as_str().unwrap_or("");
                r == "owner" || r.starts_with("reviewer")
            })
            .filter_map(|m| m["token"].as_str().map(String::from))
            .collect()
    }

    /// Kills the server with SIGKILL (no graceful shutdown: whatever was
    /// acknowledged must already be on disk).
    pub async fn kill(mut self) {
        let _ = self.child.start_kill();
        let _ = self.child.wait().await;
    }
}

/// Whether `taskset` works here.
pub fn taskset_available() -> bool {
    std::process::Command::new("taskset")
        .args(["-c", "0", "true"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// Starts the server child on `db`. `seed`: seed the demo room and
/// `rooms - 1` more (else serve the file as it is, with `members` known to
/// the caller). `cpus`: a taskset CPU list, or `None` for no pinning.
pub async fn start(
    db: impl AsRef<std::ffi::OsStr>,
    rooms: usize,
    seed: bool,
    history_window: Option<usize>,
    cpus: Option<&str>,
) -> anyhow::Result<ServerChild> {
    let exe = std::env::current_exe()?;
    let pinned = cpus.is_some() && taskset_available();
    let mut cmd = if pinned {
        let mut c = tokio::process::Command::new("taskset");
        c.arg("-c").arg(cpus.unwrap_or("0")).arg(&exe);
        c
    } else {
        tokio::process::Command::new(&exe)
    };
    cmd.arg("--serve-child")
        .arg(db.as_ref())
        .arg("--rooms")
        .arg(rooms.to_string())
        .args(history_window.map(|h| format!("--history-window={h}")))
        .args((!seed).then_some("--no-seed"))
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .kill_on_drop(true);
    let mut child = cmd.spawn().context("starting the server child")?;
    let pid = child.id().unwrap_or(0);
    let stdout = child.stdout.take().context("child stdout")?;
    let mut lines = tokio::io::BufReader::new(stdout).lines();
    let first = lines.next_line().await?.context("server child said nothing")?;
    let hello: Value = serde_json::from_str(&first)?;
    let url = hello["url"].as_str().context("url")?.to_string();
    let rooms: Vec<RoomId> = hello["rooms"]
        .as_array()
        .context("rooms")?
        .iter()
        .filter_map(|r| r.as_str().and_then(|r| r.parse().ok()))
        .collect();
    let members = hello["members"].as_array().cloned().unwrap_or_default();
    let metrics = hello["metrics"].as_str().map(String::from);
    Ok(ServerChild { child, pid, url, rooms, members, pinned, metrics })
}

/// The configuration every bench server runs with: the defaults, except
/// the per-user and per-IP connection caps (hundreds of bench clients
/// share a few tokens and one address).
pub fn bench_config(history_window: Option<usize>) -> trustroom_server::config::ServerConfig {
    let mut config = trustroom_server::config::ServerConfig {
        max_connections_per_user: 100_000,
        max_connections_per_ip: 100_000,
        ..Default::default()
    };
    if let Some(h) = history_window {
        config.history_window = h;
    }
    config
}

/// The server child: on a fresh database seeds a demo room plus
/// `rooms - 1` more rooms with the same owner and reviewers; prints
/// `{"url","rooms","members"}` on stdout; serves until killed.
pub async fn serve_child(db: &str, rooms: usize, seed: bool, history_window: Option<usize>) -> anyhow::Result<()> {
    let store = trustroom_server::storage::open(db).await?;
    let mut ids = Vec::new();
    let mut members = Vec::new();
    if seed {
        let seed = trustroom_server::demo::seed(&store).await?;
        ids.push(seed.room);
        let owner = seed.members.iter().find(|m| m.role == "owner").context("no owner")?;
        for i in 1..rooms.max(1) {
            let room = trustroom_server::admin::create_room(&store, &format!("Bench room {i}"), &owner.name).await?;
            for m in seed.members.iter().filter(|m| m.role.starts_with("reviewer/")) {
                let discipline =
                    m.role.trim_start_matches("reviewer/").parse().map_err(|_| anyhow::anyhow!("role {}", m.role))?;
                trustroom_server::admin::add_member(&store, room, &m.name, Role::Reviewer { discipline }).await?;
            }
            ids.push(room);
        }
        members = seed.members.iter().map(|m| serde_json::to_value(m).unwrap_or(Value::Null)).collect();
    } else {
        ids = store.list_rooms().await?.into_iter().map(|r| r.id).collect();
    }
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let url = format!("ws://{}", listener.local_addr()?);
    let metrics = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let metrics_addr = metrics.local_addr()?.to_string();
    tokio::spawn(trustroom_server::metrics::serve(metrics));
    println!("{}", json!({"url": url, "rooms": ids, "members": members, "metrics": metrics_addr}));
    trustroom_server::serve::run(listener, store, bench_config(history_window), std::future::pending()).await
}

/// VmRSS (KiB) and open file descriptors of a process.
pub fn rss_fds(pid: u32) -> Option<(u64, usize)> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let rss = status.lines().find(|l| l.starts_with("VmRSS:"))?.split_whitespace().nth(1)?.parse().ok()?;
    let fds = std::fs::read_dir(format!("/proc/{pid}/fd")).ok()?.count();
    Some((rss, fds))
}

/// VmRSS (KiB) of a process.
pub fn rss_kib(pid: u32) -> Option<u64> {
    rss_fds(pid).map(|r| r.0)
}

/// VmHWM (peak RSS, KiB) of a process.
pub fn peak_rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status.lines().find(|l| l.starts_with("VmHWM:"))?.split_whitespace().nth(1)?.parse().ok()
}

/// User + system CPU seconds of a process.
pub fn cpu_secs(pid: u32) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let after = stat.rsplit_once(')')?.1;
    let fields: Vec<&str> = after.split_whitespace().collect();
    let utime: f64 = fields.get(11)?.parse().ok()?;
    let stime: f64 = fields.get(12)?.parse().ok()?;
    Some((utime + stime) / 100.0)
}

/// The 1-minute load average (to record how busy the machine was).
pub fn load_average() -> Option<f64> {
    std::fs::read_to_string("/proc/loadavg").ok()?.split_whitespace().next()?.parse().ok()
}

/// Scrapes the child's `/metrics` and keeps what explains a run: commit
/// latency (mean and the histogram's p50/p99 bucket bounds), frames per
/// socket flush (the writer's batching), queued frames.
pub async fn scrape_metrics(addr: &str) -> Option<Value> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut s = tokio::net::TcpStream::connect(addr).await.ok()?;
    s.write_all(b"GET /metrics HTTP/1.1\r\nHost: bench\r\n\r\n").await.ok()?;
    let mut raw = String::new();
    s.read_to_string(&mut raw).await.ok()?;
    let body = raw.split_once("\r\n\r\n")?.1;
    let mut values = std::collections::HashMap::new();
    let mut buckets = Vec::new();
    for line in body.lines().filter(|l| !l.starts_with('#')) {
        let (name, value) = line.rsplit_once(' ')?;
        let value: f64 = value.parse().ok()?;
        if let Some(le) = name.strip_prefix("trustroom_commit_duration_seconds_bucket{le=\"") {
            let le = le.trim_end_matches("\"}");
            buckets.push((le.parse::<f64>().unwrap_or(f64::INFINITY), value));
        } else {
            values.insert(name.to_string(), value);
        }
    }
    let get = |n: &str| values.get(n).copied().unwrap_or(0.0);
    let commits = get("trustroom_commit_duration_seconds_count");
    let bucket_at = |q: f64| buckets.iter().find(|(_, c)| *c >= q * commits).map(|(le, _)| le * 1000.0);
    Some(json!({
        "ops_accepted": get("trustroom_ops_accepted_total"),
        "commits": commits,
        "commit_mean_ms": if commits > 0.0 { get("trustroom_commit_duration_seconds_sum") / commits * 1000.0 } else { 0.0 },
        "commit_p50_ms_at_most": bucket_at(0.5),
        "commit_p99_ms_at_most": bucket_at(0.99),
        "frames_written": get("trustroom_frames_written_total"),
        "socket_flushes": get("trustroom_socket_flushes_total"),
        "frames_per_flush": if get("trustroom_socket_flushes_total") > 0.0 { get("trustroom_frames_written_total") / get("trustroom_socket_flushes_total") } else { 0.0 },
        "stalled_disconnects": get("trustroom_stalled_disconnects_total"),
    }))
}

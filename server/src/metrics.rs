//! Operational metrics in the Prometheus text format, served on an optional
//! separate listen address (`serve --metrics-listen ADDR`, `GET /metrics`).
//!
//! The counters are process-wide atomics updated on the hot paths in
//! batches (once per group commit, once per broadcast, once per socket
//! flush), never once per delivered frame, so they cost next to nothing at
//! hundreds of thousands of deliveries per second. Process memory and CPU
//! are read from `/proc/self` when scraped.

use std::fmt::Write as _;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// Upper bounds (seconds) of the commit latency histogram buckets.
pub const COMMIT_BUCKETS: [f64; 12] = [0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5];

/// The process-wide metrics.
pub struct Metrics {
    connections: AtomicI64,
    rooms_open: AtomicI64,
    ops_accepted: AtomicU64,
    commits: AtomicU64,
    commit_failures: AtomicU64,
    commit_micros_sum: AtomicU64,
    commit_buckets: [AtomicU64; COMMIT_BUCKETS.len()],
    events_broadcast: AtomicU64,
    deliveries_queued: AtomicU64,
    frames_written: AtomicU64,
    socket_flushes: AtomicU64,
    outbox_queued: AtomicI64,
    stalled_disconnects: AtomicU64,
}

/// The one instance (Prometheus registries are process-wide too).
pub static METRICS: Metrics = Metrics::new();

#[allow(clippy::declare_interior_mutable_const)]
const ZERO: AtomicU64 = AtomicU64::new(0);

impl Metrics {
    const fn new() -> Metrics {
        Metrics {
            connections: AtomicI64::new(0),
            rooms_open: AtomicI64::new(0),
            ops_accepted: AtomicU64::new(0),
            commits: AtomicU64::new(0),
            commit_failures: AtomicU64::new(0),
            commit_micros_sum: AtomicU64::new(0),
            commit_buckets: [ZERO; COMMIT_BUCKETS.len()],
            events_broadcast: AtomicU64::new(0),
            deliveries_queued: AtomicU64::new(0),
            frames_written: AtomicU64::new(0),
            socket_flushes: AtomicU64::new(0),
            outbox_queued: AtomicI64::new(0),
            stalled_disconnects: AtomicU64::new(0),
        }
    }

    /// An authenticated connection opened (+1) or closed (-1).
    pub fn connection(&self, delta: i64) {
        self.connections.fetch_add(delta, Ordering::Relaxed);
    }

    /// A room actor started (+1) or stopped (-1).
    pub fn room(&self, delta: i64) {
        self.rooms_open.fetch_add(delta, Ordering::Relaxed);
    }

    /// One group commit took `took`; on success it stored `revisions`.
    pub fn commit(&self, took: Duration, ok: bool, revisions: usize) {
        self.commits.fetch_add(1, Ordering::Relaxed);
        if ok {
            self.ops_accepted.fetch_add(revisions as u64, Ordering::Relaxed);
        } else {
            self.commit_failures.fetch_add(1, Ordering::Relaxed);
        }
        self.commit_micros_sum.fetch_add(took.as_micros() as u64, Ordering::Relaxed);
        let secs = took.as_secs_f64();
        if let Some(i) = COMMIT_BUCKETS.iter().position(|b| secs <= *b) {
            self.commit_buckets[i].fetch_add(1, Ordering::Relaxed);
        }
    }

    /// `events` events were queued for `deliveries` recipients in total.
    pub fn broadcast(&self, events: usize, deliveries: usize) {
        self.events_broadcast.fetch_add(events as u64, Ordering::Relaxed);
        self.deliveries_queued.fetch_add(deliveries as u64, Ordering::Relaxed);
    }

    /// Frames were queued for a connection (any kind).
    pub fn queued(&self, frames: usize) {
        self.outbox_queued.fetch_add(frames as i64, Ordering::Relaxed);
    }

    /// A writer took `frames` frames off its queue.
    pub fn dequeued(&self, frames: usize) {
        self.outbox_queued.fetch_sub(frames as i64, Ordering::Relaxed);
    }

    /// A writer wrote `frames` frames to its socket with one flush.
    pub fn flushed(&self, frames: usize) {
        self.frames_written.fetch_add(frames as u64, Ordering::Relaxed);
        self.socket_flushes.fetch_add(1, Ordering::Relaxed);
    }

    /// A subscriber fell too far behind and was disconnected.
    pub fn stalled(&self) {
        self.stalled_disconnects.fetch_add(1, Ordering::Relaxed);
    }

    /// Operations accepted so far (committed revisions).
    pub fn ops_accepted(&self) -> u64 {
        self.ops_accepted.load(Ordering::Relaxed)
    }

    /// The Prometheus text exposition (format 0.0.4).
    pub fn render(&self) -> String {
        let mut out = String::with_capacity(4096);
        let load = |a: &AtomicU64| a.load(Ordering::Relaxed);
        let gauge = |out: &mut String, name: &str, help: &str, v: f64| {
            let _ = write!(out, "# HELP {name} {help}\n# TYPE {name} gauge\n{name} {v}\n");
        };
        let counter = |out: &mut String, name: &str, help: &str, v: f64| {
            let _ = write!(out, "# HELP {name} {help}\n# TYPE {name} counter\n{name} {v}\n");
        };
        gauge(
            &mut out,
            "trustroom_connections",
            "Open authenticated websocket connections.",
            self.connections.load(Ordering::Relaxed) as f64,
        );
        gauge(
            &mut out,
            "trustroom_rooms_open",
            "Rooms with a live actor.",
            self.rooms_open.load(Ordering::Relaxed) as f64,
        );
        counter(
            &mut out,
            "trustroom_ops_accepted_total",
            "Changes (revisions) committed durably and acknowledged.",
            load(&self.ops_accepted) as f64,
        );
        counter(
            &mut out,
            "trustroom_commit_failures_total",
            "Group commits storage refused.",
            load(&self.commit_failures) as f64,
        );
        let name = "trustroom_commit_duration_seconds";
        let _ = write!(
            out,
            "# HELP {name} Group commit latency (one transaction, fsync included).\n# TYPE {name} histogram\n"
        );
        let mut cumulative = 0u64;
        for (bound, count) in COMMIT_BUCKETS.iter().zip(&self.commit_buckets) {
            cumulative += load(count);
            let _ = writeln!(out, "{name}_bucket{{le=\"{bound}\"}} {cumulative}");
        }
        let commits = load(&self.commits);
        let _ = writeln!(out, "{name}_bucket{{le=\"+Inf\"}} {commits}");
        let _ = writeln!(out, "{name}_sum {}", load(&self.commit_micros_sum) as f64 / 1e6);
        let _ = writeln!(out, "{name}_count {commits}");
        counter(
            &mut out,
            "trustroom_events_broadcast_total",
            "Committed events broadcast to a room.",
            load(&self.events_broadcast) as f64,
        );
        counter(
            &mut out,
            "trustroom_deliveries_queued_total",
            "Event frames queued for recipients (fan-out).",
            load(&self.deliveries_queued) as f64,
        );
        counter(
            &mut out,
            "trustroom_frames_written_total",
            "Frames written to websockets.",
            load(&self.frames_written) as f64,
        );
        counter(
            &mut out,
            "trustroom_socket_flushes_total",
            "Websocket flushes (each writes a batch of queued frames).",
            load(&self.socket_flushes) as f64,
        );
        gauge(
            &mut out,
            "trustroom_fanout_queue_depth",
            "Frames queued in connection outboxes, not yet written.",
            self.outbox_queued.load(Ordering::Relaxed).max(0) as f64,
        );
        counter(
            &mut out,
            "trustroom_stalled_disconnects_total",
            "Subscribers disconnected because their outbox was full.",
            load(&self.stalled_disconnects) as f64,
        );
        if let Some((rss, cpu)) = process_stats() {
            gauge(&mut out, "process_resident_memory_bytes", "Resident memory of the server process.", rss as f64);
            counter(&mut out, "process_cpu_seconds_total", "User and system CPU time of the server process.", cpu);
        }
        out
    }
}

/// Resident bytes and CPU seconds of this process (Linux `/proc`).
fn process_stats() -> Option<(u64, f64)> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let rss_kib: u64 = status.lines().find(|l| l.starts_with("VmRSS:"))?.split_whitespace().nth(1)?.parse().ok()?;
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
    let ticks: f64 = fields.get(11)?.parse::<f64>().ok()? + fields.get(12)?.parse::<f64>().ok()?;
    // USER_HZ is 100 on every Linux platform we run on.
    Some((rss_kib * 1024, ticks / 100.0))
}

/// Longest request head a scrape may send.
const MAX_REQUEST_BYTES: usize = 8192;

/// Serves `GET /metrics` on `listener` until the task is dropped. One
/// request per connection (HTTP/1.1 with `Connection: close`).
pub async fn serve(listener: TcpListener) {
    loop {
        let (stream, peer) = match listener.accept().await {
            Ok(a) => a,
            Err(e) => {
                tracing::warn!("metrics accept failed: {e}");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        tokio::spawn(async move {
            if let Err(e) = tokio::time::timeout(Duration::from_secs(5), answer(stream)).await {
                tracing::debug!(%peer, "metrics request timed out: {e}");
            }
        });
    }
}

async fn answer(mut stream: TcpStream) -> std::io::Result<()> {
    let mut buf = Vec::with_capacity(512);
    let mut chunk = [0u8; 1024];
    while !buf.windows(4).any(|w| w == b"\r\n\r\n") {
        let n = stream.read(&mut chunk).await?;
        if n == 0 || buf.len() + n > MAX_REQUEST_BYTES {
            return Ok(());
        }
        buf.extend_from_slice(&chunk[..n]);
    }
    let head = String::from_utf8_lossy(&buf);
    let mut parts = head.split_whitespace();
    let (method, path) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""));
    let (status, content_type, body) = match (method, path.split('?').next().unwrap_or("")) {
        ("GET", "/metrics") => ("200 OK", "text/plain; version=0.0.4; charset=utf-8", METRICS.render()),
        ("GET", _) => ("404 Not Found", "text/plain; charset=utf-8", "not found; try /metrics\n".to_string()),
        _ => ("405 Method Not Allowed", "text/plain; charset=utf-8", "only GET\n".to_string()),
    };
    let response = format!(
        "HTTP/1.1 {status}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(response.as_bytes()).await?;
    stream.shutdown().await
}

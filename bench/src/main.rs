//! `trustroom-bench`: N websocket clients co-editing one section per room
//! in one or more rooms (`--rooms`) on a real server (a child process with
//! a real SQLite file, or the database `--db` names), open loop: every operation is scheduled at its
//! intended send time, so a slow server cannot hide delay. Reports
//! acknowledged ops/s, fan-out latency (intended send → receipt of the
//! event at every other client in the room), server RSS and open file
//! descriptors, sampled every `--sample-secs` with per-window latency (the
//! soak run, `scripts/soak.sh`, reads drift from these windows).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::Context;
use clap::Parser;
use futures_util::{SinkExt, StreamExt};
use hdrhistogram::Histogram;
use serde_json::{Value, json};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};
use trustroom_shared::ClientId;
use trustroom_shared::change::Change;
use trustroom_shared::ot::{OpLimits, TextOp};
use trustroom_shared::ot_client::SectionSync;
use trustroom_shared::protocol::{ClientFrame, Hello, PROTOCOL_VERSION, Request, ServerFrame, hello_frame};
use trustroom_shared::role::Role;
use trustroom_shared::{RoomId, SectionId};

#[derive(Parser, Debug, Clone)]
#[command(about = "Trustroom fan-out benchmark (open loop, durable acks)")]
struct Args {
    /// Clients in the room.
    #[arg(long, default_value_t = 20)]
    clients: usize,
    /// Operations per second per client.
    #[arg(long, default_value_t = 10.0)]
    rate: f64,
    /// Measured seconds (after warm-up).
    #[arg(long, default_value_t = 20)]
    secs: u64,
    /// Warm-up seconds (not measured).
    #[arg(long, default_value_t = 2)]
    warmup: u64,
    /// Rooms; clients are spread over them round-robin.
    #[arg(long, default_value_t = 1)]
    rooms: usize,
    /// Seconds per sample window (RSS, fds, latency percentiles).
    #[arg(long, default_value_t = 10)]
    sample_secs: u64,
    /// Revisions each room keeps in memory (the server's `history_window`);
    /// a small value shows memory levelling off once that cache is full.
    #[arg(long)]
    history_window: Option<usize>,
    /// Database URL for the server child (e.g. `postgres://postgres@127.0.0.1:5432/bench`,
    /// an EMPTY database: the child seeds demo users and rooms). Default: a fresh SQLite file.
    #[arg(long)]
    db: Option<String>,
    /// Internal: run as the server child process with this database path.
    #[arg(long, hide = true)]
    serve_child: Option<String>,
}

type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;

struct Shared {
    /// (client, seq) → intended send instant of the first op composed into it.
    sent: Mutex<HashMap<(ClientId, u64), Instant>>,
    hist: Mutex<Histogram<u64>>,
    /// Latency per sample window (by intended send time).
    windows: Mutex<Vec<Histogram<u64>>>,
    window: Duration,
    measure_from: Instant,
    measure_until: Instant,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    if let Some(db) = &args.serve_child {
        return serve_child(db, args.rooms, args.history_window).await;
    }
    let dir = tempfile::tempdir()?;
    let db = match &args.db {
        Some(url) => url.clone(),
        None => dir.path().join("bench.db").display().to_string(),
    };
    let tokens = dir.path().join("tokens.json");
    let exe = std::env::current_exe()?;
    let mut child = tokio::process::Command::new(exe)
        .arg("--serve-child")
        .arg(&db)
        .arg("--rooms")
        .arg(args.rooms.to_string())
        .args(args.history_window.map(|h| format!("--history-window={h}")))
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::inherit())
        .kill_on_drop(true)
        .spawn()
        .context("starting the server child")?;
    let server_pid = child.id().unwrap_or(0);
    pin_cpu(server_pid, "0");
    pin_cpu(std::process::id(), "1");
    let stdout = child.stdout.take().context("child stdout")?;
    let mut lines = tokio::io::AsyncBufReadExt::lines(tokio::io::BufReader::new(stdout));
    let first = lines.next_line().await?.context("server child said nothing")?;
    let seed: Value = serde_json::from_str(&first)?;
    let _ = tokens;
    let url = seed["url"].as_str().context("url")?.to_string();
    let rooms: Vec<RoomId> = seed["rooms"]
        .as_array()
        .context("rooms")?
        .iter()
        .filter_map(|r| r.as_str().and_then(|r| r.parse().ok()))
        .collect();
    anyhow::ensure!(!rooms.is_empty(), "the server child made no rooms");
    let editors: Vec<String> = seed["members"]
        .as_array()
        .context("members")?
        .iter()
        .filter(|m| {
            let r = m["role"].as_str().unwrap_or("");
            r == "owner" || r.starts_with("reviewer")
        })
        .filter_map(|m| m["token"].as_str().map(String::from))
        .collect();

    // The owner adds a fresh section to edit in every room.
    let (mut owner, _) = connect(&url, &editors[0], ClientId::new()).await?;
    let mut sections = Vec::new();
    for (i, room) in rooms.iter().enumerate() {
        let add = Request::AddSection { room: *room, title: "Bench".into(), body: String::new(), after: None, seq: None };
        let created = request(&mut owner, &format!("s{i}"), add).await?;
        let section: SectionId = created["created"].as_str().context("no section id")?.parse()?;
        sections.push(section);
    }
    drop(owner);

    let start = Instant::now() + Duration::from_millis(500);
    let shared = Arc::new(Shared {
        sent: Mutex::new(HashMap::new()),
        hist: Mutex::new(Histogram::new_with_bounds(1, 60_000_000, 3)?),
        measure_from: start + Duration::from_secs(args.warmup),
        measure_until: start + Duration::from_secs(args.warmup + args.secs),
        windows: Mutex::new(Vec::new()),
        window: Duration::from_secs(args.sample_secs.max(1)),
    });
    // RSS and open fds of the server, at the start of measuring and then
    // every window.
    let sampler = {
        let shared = shared.clone();
        tokio::spawn(async move {
            let mut samples = Vec::new();
            let mut at = shared.measure_from;
            loop {
                tokio::time::sleep_until(at.into()).await;
                samples.push((at.duration_since(shared.measure_from).as_secs_f64(), rss_fds(server_pid)));
                if at >= shared.measure_until {
                    break;
                }
                at = (at + shared.window).min(shared.measure_until);
            }
            samples
        })
    };
    let mut tasks = Vec::new();
    for i in 0..args.clients {
        let token = editors[i % editors.len()].clone();
        let url = url.clone();
        let shared = shared.clone();
        let args = args.clone();
        let (room, section) = (rooms[i % rooms.len()], sections[i % rooms.len()]);
        // Clients of one room: every `rooms`-th client.
        let in_room = (args.clients + rooms.len() - 1 - i % rooms.len()) / rooms.len();
        tasks.push(tokio::spawn(async move {
            run_client(i, url, token, room, section, start, args, in_room, shared).await
        }));
    }
    let mut sent = 0u64;
    let mut acked = 0u64;
    let mut received = 0u64;
    let mut expected = 0u64;
    for t in tasks {
        let r = t.await??;
        sent += r.sent;
        acked += r.acked;
        received += r.received;
        expected += r.expected_others;
    }
    let samples = sampler.await?;
    let rss_kib = peak_rss_kib(server_pid);
    let cpu = server_cpu_secs(server_pid);
    let _ = child.kill().await;
    let hist = shared.hist.lock().map_err(|_| anyhow::anyhow!("poisoned"))?;
    let windows = shared.windows.lock().map_err(|_| anyhow::anyhow!("poisoned"))?;
    let ms = |v: u64| v as f64 / 1000.0;
    let window_rows: Vec<Value> = samples
        .iter()
        .enumerate()
        .map(|(i, (t, rf))| {
            let h = windows.get(i).filter(|h| !h.is_empty());
            json!({
                "t_s": t,
                "rss_kib": rf.map(|r| r.0),
                "fds": rf.map(|r| r.1),
                "p50_ms": h.map(|h| ms(h.value_at_quantile(0.5))),
                "p99_ms": h.map(|h| ms(h.value_at_quantile(0.99))),
                "samples": h.map_or(0, |h| h.len()),
            })
        })
        .collect();
    let measured: Vec<&Histogram<u64>> = windows.iter().filter(|h| !h.is_empty()).collect();
    let drift = match (measured.first(), measured.last()) {
        (Some(a), Some(b)) => json!({
            "first_window_p99_ms": ms(a.value_at_quantile(0.99)),
            "last_window_p99_ms": ms(b.value_at_quantile(0.99)),
            "p99_change_ms": ms(b.value_at_quantile(0.99)) - ms(a.value_at_quantile(0.99)),
            "first_window_p50_ms": ms(a.value_at_quantile(0.5)),
            "last_window_p50_ms": ms(b.value_at_quantile(0.5)),
        }),
        _ => Value::Null,
    };
    let first = samples.first().and_then(|s| s.1);
    let last = samples.last().and_then(|s| s.1);
    let secs = args.secs as f64;
    let out = json!({
        "clients": args.clients,
        "rooms": rooms.len(),
        "history_window": args.history_window,
        "rate_per_client": args.rate,
        "seconds": args.secs,
        "sent_ops_per_s": sent as f64 / secs,
        "acked_ops_per_s": acked as f64 / secs,
        "deliveries_per_s": received as f64 / secs,
        "reach": if expected > 0 { received as f64 / expected as f64 } else { 0.0 },
        "fanout_latency_ms": {
            "p50": ms(hist.value_at_quantile(0.50)),
            "p95": ms(hist.value_at_quantile(0.95)),
            "p99": ms(hist.value_at_quantile(0.99)),
            "max": ms(hist.max()),
            "samples": hist.len(),
        },
        "server_cpu_seconds": cpu,
        "server_peak_rss_kib": rss_kib,
        "server_rss_kib": {"start": first.map(|f| f.0), "end": last.map(|l| l.0)},
        "server_open_fds": {"start": first.map(|f| f.1), "end": last.map(|l| l.1)},
        "latency_drift": drift,
        "windows": window_rows,
        "durability": match &args.db {
            Some(url) if trustroom_server::storage::is_postgres_url(url) => {
                "every op committed to PostgreSQL (the server's synchronous_commit) before ack and broadcast"
            }
            _ => "every op committed to SQLite (WAL, synchronous=FULL) before ack and broadcast",
        },
    });
    println!("{}", serde_json::to_string_pretty(&out)?);
    Ok(())
}

/// The server child: seeds a demo room on a fresh database plus `rooms - 1`
/// more rooms with the same owner and reviewers, prints
/// `{"url","rooms","members"}` on stdout, serves until killed.
async fn serve_child(db: &str, rooms: usize, history_window: Option<usize>) -> anyhow::Result<()> {
    let store = trustroom_server::storage::open(db).await?;
    let seed = trustroom_server::demo::seed(&store).await?;
    let mut ids = vec![seed.room];
    let owner = seed.members.iter().find(|m| m.role == "owner").context("no owner")?;
    for i in 1..rooms.max(1) {
        let room = trustroom_server::admin::create_room(&store, &format!("Bench room {i}"), &owner.name).await?;
        for m in seed.members.iter().filter(|m| m.role.starts_with("reviewer/")) {
            let discipline = m.role.trim_start_matches("reviewer/").parse().map_err(|_| anyhow::anyhow!("role {}", m.role))?;
            trustroom_server::admin::add_member(&store, room, &m.name, Role::Reviewer { discipline }).await?;
        }
        ids.push(room);
    }
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let url = format!("ws://{}", listener.local_addr()?);
    println!("{}", json!({"url": url, "room": seed.room, "rooms": ids, "members": seed.members}));
    let mut config = trustroom_server::config::ServerConfig::default();
    if let Some(h) = history_window {
        config.history_window = h;
    }
    trustroom_server::serve::run(listener, store, config, std::future::pending()).await
}

struct ClientResult {
    sent: u64,
    acked: u64,
    received: u64,
    expected_others: u64,
}

async fn connect(url: &str, token: &str, client: ClientId) -> anyhow::Result<(Ws, ClientId)> {
    let (mut ws, _) = tokio_tungstenite::connect_async(url).await?;
    let hello = Hello { protocol: PROTOCOL_VERSION, token: token.to_string(), client: Some(client) };
    ws.send(Message::text(hello_frame(&hello))).await?;
    loop {
        match ws.next().await.context("closed during hello")?? {
            Message::Text(t) => match serde_json::from_str::<ServerFrame>(&t)? {
                ServerFrame::Welcome { .. } => return Ok((ws, client)),
                other => anyhow::bail!("handshake refused: {other:?}"),
            },
            _ => continue,
        }
    }
}

async fn request(ws: &mut Ws, id: &str, req: Request) -> anyhow::Result<Value> {
    let frame = ClientFrame { id: id.to_string(), request: req };
    ws.send(Message::text(serde_json::to_string(&frame)?)).await?;
    loop {
        if let Message::Text(t) = ws.next().await.context("closed")?? {
            match serde_json::from_str::<ServerFrame>(&t)? {
                ServerFrame::Ok { id: rid, result } if rid == id => return Ok(result),
                ServerFrame::Error { id: Some(rid), code, message } if rid == id => anyhow::bail!("{code}: {message}"),
                _ => continue,
            }
        }
    }
}

#[allow(clippy::too_many_arguments)]
async fn run_client(
    index: usize,
    url: String,
    token: String,
    room: RoomId,
    section: SectionId,
    start: Instant,
    args: Args,
    in_room: usize,
    shared: Arc<Shared>,
) -> anyhow::Result<ClientResult> {
    let client = ClientId::new();
    let (mut ws, _) = connect(&url, &token, client).await?;
    // Join and read the section from the snapshot.
    let frame = ClientFrame { id: "join".into(), request: Request::Join { room, since: None } };
    ws.send(Message::text(serde_json::to_string(&frame)?)).await?;
    let mut text = String::new();
    let mut revision = 0u64;
    loop {
        if let Message::Text(t) = ws.next().await.context("closed")?? {
            match serde_json::from_str::<ServerFrame>(&t)? {
                ServerFrame::Snapshot { snapshot, .. } => {
                    revision = snapshot.state.revision;
                    text = snapshot.state.section(section).map(|s| s.body.clone()).unwrap_or_default();
                }
                ServerFrame::Ok { id, .. } if id == "join" => break,
                _ => {}
            }
        }
    }
    let (mut sink, mut stream) = ws.split();
    let interval = Duration::from_secs_f64(1.0 / args.rate);
    // Spread clients over one interval so they do not all fire together.
    let mut next = start + interval.mul_f64(index as f64 / args.clients as f64);
    let end = shared.measure_until;
    let mut sync = SectionSync::default();
    let mut seq = 0u64;
    let mut in_flight_seq: Option<u64> = None;
    let mut buffered_since: Option<Instant> = None;
    let mut result = ClientResult { sent: 0, acked: 0, received: 0, expected_others: 0 };
    let mut rng_state = (index as u64 + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    let others = in_room.saturating_sub(1) as u64;
    let drain_until = end + Duration::from_secs(3);
    let mut pending_sends: Vec<(u64, TextOp, u64)> = Vec::new();

    loop {
        let now = Instant::now();
        if now >= drain_until {
            break;
        }
        let wake = if next < end { next } else { drain_until };
        tokio::select! {
            _ = tokio::time::sleep_until(wake.into()), if next < end => {
                // A local one-character insert at a pseudo-random place.
                rng_state ^= rng_state << 13; rng_state ^= rng_state >> 7; rng_state ^= rng_state << 17;
                let len = text.chars().count();
                let pos = (rng_state as usize) % (len + 1);
                let mut op = TextOp::new();
                op.retain(pos).insert(if index % 2 == 0 { "a" } else { "é" }).retain(len - pos);
                text = op.apply(&text)?;
                let intended = next;
                next += interval;
                let measured = intended >= shared.measure_from && intended < end;
                if measured { result.sent += 1; }
                if let Some(send) = sync.local(op)? {
                    seq += 1;
                    in_flight_seq = Some(seq);
                    record_sent(&shared, client, seq, intended);
                    if measured { result.expected_others += others; }
                    pending_sends.push((seq, send, revision));
                } else if buffered_since.is_none() {
                    buffered_since = Some(intended);
                }
            }
            _ = tokio::time::sleep_until(drain_until.into()) => break,
            msg = stream.next() => {
                let Some(msg) = msg else { break };
                let Message::Text(t) = msg? else { continue };
                let frame: ServerFrame = serde_json::from_str(&t)?;
                if let ServerFrame::Event { rev, .. } = frame {
                    revision = rev.revision;
                    if let Change::SectionEdited { section: s, op } = &rev.change {
                        if *s != section { continue; }
                        let op = TextOp::from_wire(op, OpLimits::default())?;
                        let mine = rev.client.is_some_and(|c| c.client == client);
                        if mine {
                            if let Some(stamp) = rev.client {
                                if Some(stamp.seq) == in_flight_seq {
                                    if let Some(when) = sent_time(&shared, client, stamp.seq) {
                                        if when >= shared.measure_from && when < end { result.acked += 1; }
                                    }
                                }
                            }
                            if let Some(send) = sync.ack() {
                                seq += 1;
                                in_flight_seq = Some(seq);
                                let intended = buffered_since.take().unwrap_or_else(Instant::now);
                                record_sent(&shared, client, seq, intended);
                                if intended >= shared.measure_from && intended < end { result.expected_others += others; }
                                pending_sends.push((seq, send, revision));
                            } else {
                                in_flight_seq = None;
                            }
                        } else {
                            let apply = sync.remote(&op)?;
                            text = apply.apply(&text)?;
                            if let Some(stamp) = rev.client {
                                if let Some(when) = sent_time(&shared, stamp.client, stamp.seq) {
                                    if when >= shared.measure_from && when < end {
                                        result.received += 1;
                                        let micros = Instant::now().saturating_duration_since(when).as_micros() as u64;
                                        if let Ok(mut h) = shared.hist.lock() { let _ = h.record(micros.max(1)); }
                                        record_window(&shared, when, micros.max(1));
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
        for (s, op, base) in pending_sends.drain(..) {
            let frame = ClientFrame { id: format!("e{s}"), request: Request::Edit { room, section, base, op: op.to_wire(), seq: Some(s) } };
            sink.send(Message::text(serde_json::to_string(&frame)?)).await?;
        }
    }
    Ok(result)
}

/// Records a latency in the window of its intended send time.
fn record_window(shared: &Shared, when: Instant, micros: u64) {
    let index = (when.saturating_duration_since(shared.measure_from).as_secs_f64() / shared.window.as_secs_f64()) as usize;
    if let Ok(mut w) = shared.windows.lock() {
        while w.len() <= index {
            match Histogram::new_with_bounds(1, 60_000_000, 3) {
                Ok(h) => w.push(h),
                Err(_) => return,
            }
        }
        let _ = w[index].record(micros);
    }
}

/// VmRSS (KiB) and open file descriptors of a process.
fn rss_fds(pid: u32) -> Option<(u64, usize)> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let rss = status.lines().find(|l| l.starts_with("VmRSS:"))?.split_whitespace().nth(1)?.parse().ok()?;
    let fds = std::fs::read_dir(format!("/proc/{pid}/fd")).ok()?.count();
    Some((rss, fds))
}

fn record_sent(shared: &Shared, client: ClientId, seq: u64, at: Instant) {
    if let Ok(mut m) = shared.sent.lock() {
        m.insert((client, seq), at);
    }
}

fn sent_time(shared: &Shared, client: ClientId, seq: u64) -> Option<Instant> {
    shared.sent.lock().ok().and_then(|m| m.get(&(client, seq)).copied())
}

fn pin_cpu(pid: u32, cpus: &str) {
    if pid == 0 {
        return;
    }
    let _ = std::process::Command::new("taskset")
        .args(["-a", "-p", "-c", cpus, &pid.to_string()])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status();
}

fn peak_rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status.lines().find(|l| l.starts_with("VmHWM:"))?.split_whitespace().nth(1)?.parse().ok()
}

fn server_cpu_secs(pid: u32) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let after = stat.rsplit_once(')')?.1;
    let fields: Vec<&str> = after.split_whitespace().collect();
    let utime: f64 = fields.get(11)?.parse().ok()?;
    let stime: f64 = fields.get(12)?.parse().ok()?;
    Some((utime + stime) / 100.0)
}

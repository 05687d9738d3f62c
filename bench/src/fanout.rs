//! The fan-out load run: N clients over R rooms, one character inserted
//! per operation at R ops/s per client, open loop (each operation is
//! scheduled at its intended send time, so a slow server cannot hide
//! delay), latency = intended send → receipt at every other client of the
//! room. After the run the server is killed with SIGKILL and the SQLite
//! file is read back: every acknowledged operation must be there exactly
//! once, and the stored text must be exactly what the operations made.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::Context;
use futures_util::{SinkExt, StreamExt};
use hdrhistogram::Histogram;
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;
use trustroom_shared::ClientId;
use trustroom_shared::ot::TextOp;
use trustroom_shared::ot_client::SectionSync;
use trustroom_shared::protocol::{ClientFrame, Request, ServerFrame};
use trustroom_shared::{RoomId, SectionId};

use crate::server;
use crate::wire::{self, LiteFrame};

/// What one load run needs.
#[derive(Debug, Clone)]
pub struct Load {
    pub clients: usize,
    pub rooms: usize,
    pub rate: f64,
    pub secs: u64,
    pub warmup: u64,
    pub drain: u64,
    pub sample_secs: u64,
    pub history_window: Option<usize>,
    /// Database URL for the server child (an EMPTY PostgreSQL database, for
    /// instance); `None`: a fresh SQLite file.
    pub db: Option<String>,
    pub server_cpus: Option<String>,
    pub gen_cpus: Option<String>,
}

/// Intended send times of every client's operations, by client and seq.
struct Registry {
    index_of: HashMap<String, usize>,
    /// `sent[client][seq - 1]`: intended send instant of request `seq`.
    sent: Vec<Mutex<Vec<Instant>>>,
    measure_from: Instant,
    measure_until: Instant,
    window: Duration,
}

impl Registry {
    fn sent_at(&self, client: &str, seq: u64) -> Option<Instant> {
        let i = *self.index_of.get(client)?;
        let sent = self.sent.get(i)?.lock().ok()?;
        sent.get(usize::try_from(seq).ok()?.checked_sub(1)?).copied()
    }

    fn record_sent(&self, client: usize, seq: u64, at: Instant) {
        if let Some(Ok(mut s)) = self.sent.get(client).map(|m| m.lock()) {
            debug_assert_eq!(s.len() as u64 + 1, seq);
            s.push(at);
        }
    }

    fn measured(&self, at: Instant) -> bool {
        at >= self.measure_from && at < self.measure_until
    }
}

/// What one client saw.
struct ClientReport {
    room: RoomId,
    section: SectionId,
    client: ClientId,
    sent: u64,
    acked: u64,
    received: u64,
    expected: u64,
    /// (seq, inserted chars) of every acknowledged request, whole run.
    acked_seqs: Vec<(u64, usize)>,
    /// Section length the client ended with.
    final_len: usize,
    hist: Histogram<u64>,
    windows: Vec<Histogram<u64>>,
    errors: Vec<String>,
}

fn histogram() -> anyhow::Result<Histogram<u64>> {
    Ok(Histogram::new_with_bounds(1, 120_000_000, 3)?)
}

/// A sample window's histogram: coarser (two significant digits) because
/// every client makes one per window; at three digits, 1,000 clients
/// allocated and zeroed ~300 MB at each window boundary, which stalled the
/// generator itself and showed as a latency spike in the server's numbers.
fn window_histogram() -> anyhow::Result<Histogram<u64>> {
    Ok(Histogram::new_with_bounds(1, 120_000_000, 2)?)
}

/// Runs the load; returns the JSON report.
pub async fn run(load: &Load) -> anyhow::Result<Value> {
    let dir = tempfile::tempdir()?;
    let db = match &load.db {
        Some(url) => url.clone(),
        None => dir.path().join("bench.db").display().to_string(),
    };
    let load_before = server::load_average();
    let server = server::start(&db, load.rooms, true, load.history_window, load.server_cpus.as_deref()).await?;
    let editors = server.editor_tokens();
    anyhow::ensure!(!editors.is_empty() && !server.rooms.is_empty(), "the server child made no rooms or editors");
    eprintln!(
        "bench: {} clients in {} room(s) at {}/s each for {} s (+{} s warm-up); server pid {} pinned {}",
        load.clients,
        server.rooms.len(),
        load.rate,
        load.secs,
        load.warmup,
        server.pid,
        server.pinned
    );

    // The owner adds a fresh, empty section to edit in every room.
    let mut owner = wire::connect(&server.url, &editors[0], ClientId::new()).await?;
    let mut sections = Vec::new();
    for (i, room) in server.rooms.iter().enumerate() {
        let add =
            Request::AddSection { room: *room, title: "Bench".into(), body: String::new(), after: None, seq: None };
        let created = wire::request(&mut owner, &format!("s{i}"), add).await?;
        sections.push(created["created"].as_str().context("no section id")?.parse::<SectionId>()?);
    }
    drop(owner);

    let ids: Vec<ClientId> = (0..load.clients).map(|_| ClientId::new()).collect();
    // Connect and join everyone before the clock starts.
    let mut joined = Vec::new();
    for (i, id) in ids.iter().enumerate() {
        let (room, section) = (server.rooms[i % server.rooms.len()], sections[i % server.rooms.len()]);
        joined.push(join(&server.url, &editors[i % editors.len()], *id, room, section).await?);
    }
    let start = Instant::now() + Duration::from_millis(300);
    let registry = Arc::new(Registry {
        index_of: ids.iter().enumerate().map(|(i, c)| (c.to_string(), i)).collect(),
        sent: ids.iter().map(|_| Mutex::new(Vec::new())).collect(),
        measure_from: start + Duration::from_secs(load.warmup),
        measure_until: start + Duration::from_secs(load.warmup + load.secs),
        window: Duration::from_secs(load.sample_secs.max(1)),
    });
    let cpu_before = server::cpu_secs(server.pid);
    let sampler = {
        let registry = registry.clone();
        let pid = server.pid;
        tokio::spawn(async move {
            let mut samples = Vec::new();
            let mut at = registry.measure_from;
            loop {
                tokio::time::sleep_until(at.into()).await;
                samples.push((at.duration_since(registry.measure_from).as_secs_f64(), server::rss_fds(pid)));
                if at >= registry.measure_until {
                    break;
                }
                at = (at + registry.window).min(registry.measure_until);
            }
            (samples, server::cpu_secs(pid))
        })
    };
    let mut tasks = Vec::new();
    for (i, (ws, len, revision)) in joined.into_iter().enumerate() {
        let rooms = server.rooms.len();
        let (room, section) = (server.rooms[i % rooms], sections[i % rooms]);
        let in_room = (load.clients + rooms - 1 - i % rooms) / rooms;
        let client = Client { index: i, id: ids[i], room, section, in_room, len, revision };
        let (registry, load) = (registry.clone(), load.clone());
        tasks.push(tokio::spawn(async move { client.run(ws, start, &load, &registry).await }));
    }
    let mut reports = Vec::new();
    for t in tasks {
        reports.push(t.await??);
    }
    let (samples, cpu_at_end) = sampler.await?;
    let peak_rss = server::peak_rss_kib(server.pid);
    let server_metrics = match &server.metrics {
        Some(addr) => server::scrape_metrics(addr).await,
        None => None,
    };
    let pinned = server.pinned;
    // No graceful shutdown: what was acknowledged must be on disk already.
    server.kill().await;
    let verification = verify(&db, &server_rooms(&reports), &sections, &reports).await?;

    let mut hist = histogram()?;
    let mut windows: Vec<Histogram<u64>> = Vec::new();
    let (mut sent, mut acked, mut received, mut expected) = (0u64, 0u64, 0u64, 0u64);
    let mut errors = Vec::new();
    for r in &reports {
        hist.add(&r.hist)?;
        for (i, w) in r.windows.iter().enumerate() {
            while windows.len() <= i {
                windows.push(window_histogram()?);
            }
            windows[i].add(w)?;
        }
        sent += r.sent;
        acked += r.acked;
        received += r.received;
        expected += r.expected;
        errors.extend(r.errors.iter().take(3).cloned());
    }
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
    let secs = load.secs as f64;
    Ok(json!({
        "mode": "fanout",
        "clients": load.clients,
        "rooms": load.rooms,
        "clients_per_room": load.clients as f64 / load.rooms as f64,
        "history_window": load.history_window,
        "rate_per_client": load.rate,
        "seconds": load.secs,
        "sent_ops_per_s": sent as f64 / secs,
        "acked_ops_per_s": acked as f64 / secs,
        "deliveries_per_s": received as f64 / secs,
        "expected_deliveries_per_s": expected as f64 / secs,
        "reach": if expected > 0 { received as f64 / expected as f64 } else { 0.0 },
        "fanout_latency_ms": {
            "p50": ms(hist.value_at_quantile(0.50)),
            "p95": ms(hist.value_at_quantile(0.95)),
            "p99": ms(hist.value_at_quantile(0.99)),
            "max": ms(hist.max()),
            "samples": hist.len(),
        },
        "server_cpu_seconds": cpu_at_end.zip(cpu_before).map(|(a, b)| a - b),
        "server_cpu_share": cpu_at_end.zip(cpu_before).map(|(a, b)| (a - b) / (load.secs as f64 + load.warmup as f64)),
        "server_peak_rss_kib": peak_rss,
        "server_metrics": server_metrics,
        "server_rss_kib": {"start": first.map(|f| f.0), "end": last.map(|l| l.0)},
        "server_open_fds": {"start": first.map(|f| f.1), "end": last.map(|l| l.1)},
        "latency_drift": drift,
        "windows": window_rows,
        "verification": verification,
        "client_errors": errors,
        "pinning": {"server_cpus": load.server_cpus, "generator_cpus": load.gen_cpus, "applied": pinned},
        "load_average_before": load_before,
        "durability": if load.db.as_deref().is_some_and(trustroom_server::storage::is_postgres_url) {
            "every op committed to PostgreSQL (the server's synchronous_commit) before ack and broadcast; server killed with SIGKILL before verification"
        } else {
            "every op committed to SQLite (WAL, synchronous=FULL) before ack and broadcast; server killed with SIGKILL before verification"
        },
    }))
}

fn server_rooms(reports: &[ClientReport]) -> Vec<RoomId> {
    let mut rooms: Vec<RoomId> = Vec::new();
    for r in reports {
        if !rooms.contains(&r.room) {
            rooms.push(r.room);
        }
    }
    rooms
}

/// Connects, joins, and reads the section's length and the revision.
async fn join(
    url: &str,
    token: &str,
    id: ClientId,
    room: RoomId,
    section: SectionId,
) -> anyhow::Result<(wire::Ws, usize, u64)> {
    let mut ws = wire::connect(url, token, id).await?;
    let frame = ClientFrame { id: "join".into(), request: Request::Join { room, since: None } };
    ws.send(Message::text(serde_json::to_string(&frame)?)).await?;
    let (mut len, mut revision) = (0, 0);
    loop {
        if let Message::Text(t) = ws.next().await.context("closed while joining")?? {
            match serde_json::from_str::<ServerFrame>(&t)? {
                ServerFrame::Snapshot { snapshot, .. } => {
                    revision = snapshot.state.revision;
                    len = snapshot.state.section(section).map_or(0, |s| s.body.chars().count());
                }
                ServerFrame::Ok { id, .. } if id == "join" => return Ok((ws, len, revision)),
                ServerFrame::Error { code, message, .. } => anyhow::bail!("join refused: {code}: {message}"),
                _ => {}
            }
        }
    }
}

struct Client {
    index: usize,
    id: ClientId,
    room: RoomId,
    section: SectionId,
    in_room: usize,
    /// Section length (chars) as this client sees it; the generator keeps
    /// only the length (every op is a one-character insert at a random
    /// place), so it can follow hundreds of thousands of events per second.
    len: usize,
    revision: u64,
}

impl Client {
    /// The protocol's client algorithm (`SectionSync`, as the TUI and CLI
    /// use it): one edit in flight; local ops made meanwhile are composed
    /// and sent on its acknowledgement. Each op is scheduled at its
    /// intended time (open loop); a composed op's latency counts from the
    /// intended time of its first op.
    async fn run(mut self, ws: wire::Ws, start: Instant, load: &Load, reg: &Registry) -> anyhow::Result<ClientReport> {
        let (mut sink, mut stream) = ws.split();
        let me = self.id.to_string();
        let section = self.section.to_string();
        let interval = Duration::from_secs_f64(1.0 / load.rate);
        // Spread clients over one interval so they do not all fire together.
        let mut next = start + interval.mul_f64(self.index as f64 / load.clients as f64);
        let end = reg.measure_until;
        let drain_until = end + Duration::from_secs(load.drain);
        let mut sync = SectionSync::default();
        let mut seq = 0u64;
        let mut in_flight: Option<(u64, usize)> = None;
        let mut buffered: Option<(Instant, usize)> = None;
        let mut report = ClientReport {
            room: self.room,
            section: self.section,
            client: self.id,
            sent: 0,
            acked: 0,
            received: 0,
            expected: 0,
            acked_seqs: Vec::new(),
            final_len: 0,
            hist: histogram()?,
            windows: Vec::new(),
            errors: Vec::new(),
        };
        let mut rng = (self.index as u64 + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        let others = self.in_room.saturating_sub(1) as u64;
        let mut outgoing: Vec<(u64, TextOp, u64)> = Vec::new();
        let ch = if self.index.is_multiple_of(2) { "a" } else { "é" };
        loop {
            if Instant::now() >= drain_until {
                break;
            }
            tokio::select! {
                _ = tokio::time::sleep_until(next.into()), if next < end => {
                    while next <= Instant::now() && next < end {
                        rng ^= rng << 13; rng ^= rng >> 7; rng ^= rng << 17;
                        let pos = (rng as usize) % (self.len + 1);
                        let mut op = TextOp::new();
                        op.retain(pos).insert(ch).retain(self.len - pos);
                        self.len += 1;
                        let intended = next;
                        next += interval;
                        if reg.measured(intended) { report.sent += 1; }
                        if let Some(send) = sync.local(op)? {
                            seq += 1;
                            in_flight = Some((seq, 1));
                            reg.record_sent(self.index, seq, intended);
                            if reg.measured(intended) { report.expected += others; }
                            outgoing.push((seq, send, self.revision));
                        } else {
                            let (since, n) = buffered.unwrap_or((intended, 0));
                            buffered = Some((since, n + 1));
                        }
                    }
                }
                _ = tokio::time::sleep_until(drain_until.into()) => break,
                msg = stream.next() => {
                    let Some(msg) = msg else { break };
                    let Message::Text(t) = msg? else { continue };
                    let event = match wire::scan_event(&t) {
                        wire::Scanned::Event(e) => e,
                        wire::Scanned::Other => continue,
                        wire::Scanned::Refusal => {
                            let frame: LiteFrame = serde_json::from_str(&t)?;
                            if frame.kind == "closing" {
                                report.errors.push(format!("closed by the server: {}", frame.code.unwrap_or("?")));
                                break;
                            }
                            report.errors.push(format!("{} {}: {}", frame.id.unwrap_or("-"), frame.code.unwrap_or("?"), frame.message.unwrap_or_default()));
                            continue;
                        }
                    };
                    self.revision = event.revision;
                    if event.section != Some(section.as_str()) {
                        continue;
                    }
                    let stamp = event.stamp;
                    if stamp.is_some_and(|(c, _)| c == me) {
                        let acked_seq = stamp.map(|(_, s)| s);
                        if let Some((s, chars)) = in_flight.filter(|(s, _)| Some(*s) == acked_seq) {
                            report.acked_seqs.push((s, chars));
                            if reg.sent_at(&me, s).is_some_and(|w| reg.measured(w)) { report.acked += chars as u64; }
                        }
                        if let Some(send) = sync.ack() {
                            seq += 1;
                            let (since, n) = buffered.take().unwrap_or((Instant::now(), 1));
                            in_flight = Some((seq, n));
                            reg.record_sent(self.index, seq, since);
                            if reg.measured(since) { report.expected += others; }
                            outgoing.push((seq, send, self.revision));
                        } else {
                            in_flight = None;
                        }
                    } else {
                        let op = match event.op {
                            Some(op) => op,
                            None => full_parse_op(&t)?,
                        };
                        let apply = sync.remote(&op)?;
                        self.len = self.len + apply.target_len() - apply.base_len();
                        if let Some((client, s)) = stamp
                            && let Some(when) = reg.sent_at(client, s).filter(|w| reg.measured(*w)) {
                                report.received += 1;
                                let micros = (Instant::now().saturating_duration_since(when).as_micros() as u64).max(1);
                                let _ = report.hist.record(micros);
                                let w = (when.saturating_duration_since(reg.measure_from).as_secs_f64() / reg.window.as_secs_f64()) as usize;
                                while report.windows.len() <= w { report.windows.push(window_histogram()?); }
                                let _ = report.windows[w].record(micros);
                            }
                    }
                }
            }
            if !outgoing.is_empty() {
                for (s, op, base) in outgoing.drain(..) {
                    let request =
                        Request::Edit { room: self.room, section: self.section, base, op: op.to_wire(), seq: Some(s) };
                    let frame = ClientFrame { id: format!("e{s}"), request };
                    sink.feed(Message::text(serde_json::to_string(&frame)?)).await?;
                }
                sink.flush().await?;
            }
        }
        report.final_len = self.len;
        Ok(report)
    }
}

/// The operation of an event frame, parsed in full.
fn full_parse_op(text: &str) -> anyhow::Result<TextOp> {
    match serde_json::from_str::<ServerFrame>(text)? {
        ServerFrame::Event { rev, .. } => match rev.change {
            trustroom_shared::change::Change::SectionEdited { op, .. } => Ok(op),
            _ => anyhow::bail!("not an edit"),
        },
        _ => anyhow::bail!("not an event"),
    }
}

/// Reads the SQLite file back after the server was killed: every
/// acknowledged (client, seq) is stored exactly once, no (client, seq)
/// twice, and each bench section holds exactly the characters the stored
/// operations inserted.
async fn verify(db: &str, rooms: &[RoomId], sections: &[SectionId], reports: &[ClientReport]) -> anyhow::Result<Value> {
    let store = trustroom_server::storage::open(db).await?;
    let mut stored: HashMap<(ClientId, u64), u32> = HashMap::new();
    let mut section_len: HashMap<SectionId, usize> = HashMap::new();
    let mut inserted: HashMap<SectionId, usize> = HashMap::new();
    let mut revisions = 0usize;
    for room in rooms {
        let loaded = store.load_room(*room).await?.context("room vanished")?;
        let state = trustroom_server::room::replay(&loaded).map_err(|e| anyhow::anyhow!(e))?;
        for s in sections {
            if let Some(sec) = state.section(*s) {
                section_len.insert(*s, sec.body.chars().count());
            }
        }
        let all = store.revisions_between(*room, 0, u64::MAX / 2).await?;
        revisions += all.len();
        for rev in &all {
            if let trustroom_shared::change::Change::SectionEdited { section, op } = &rev.change {
                *inserted.entry(*section).or_default() += op.target_len() - op.base_len();
            }
            if let Some(stamp) = rev.client {
                *stored.entry((stamp.client, stamp.seq)).or_default() += 1;
            }
        }
    }
    let duplicates = stored.values().filter(|n| **n > 1).count();
    let mut acked_total = 0usize;
    let mut missing = Vec::new();
    for r in reports {
        for (seq, _) in &r.acked_seqs {
            acked_total += 1;
            if !stored.contains_key(&(r.client, *seq)) {
                missing.push(format!("{}#{seq}", r.client));
            }
        }
    }
    let text_matches =
        sections.iter().all(|s| section_len.get(s).copied().unwrap_or(0) == inserted.get(s).copied().unwrap_or(0));
    let converged = reports.iter().filter(|r| section_len.get(&r.section) == Some(&r.final_len)).count();
    let ok = missing.is_empty() && duplicates == 0 && text_matches;
    if !ok {
        eprintln!(
            "bench: VERIFICATION FAILED: {} acked ops missing, {duplicates} duplicated, text matches {text_matches}",
            missing.len()
        );
    }
    Ok(json!({
        "ok": ok,
        "acked_ops_checked": acked_total,
        "acked_ops_missing": missing.len(),
        "missing_examples": missing.iter().take(5).collect::<Vec<_>>(),
        "duplicated_ops": duplicates,
        "stored_revisions": revisions,
        "stored_text_matches_stored_ops": text_matches,
        "clients_converged_on_length": converged,
        "clients": reports.len(),
    }))
}

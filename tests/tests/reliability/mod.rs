//! Support shared by the reliability tests (limits, backpressure, crash,
//! storage faults, reconnect):
//!
//! - [`ServerProcess`]: the real `trustroom-server serve` binary as a child
//!   process on a database file, killed with SIGKILL or stopped with SIGTERM.
//! - [`Editor`]: a protocol client that keeps a room's state from its
//!   snapshot and events, edits one section through `SectionSync` (one op in
//!   flight), raises objections and replies, each carrying a unique marker;
//!   after any disconnect it reconnects with backoff and jitter, joins with
//!   `since`, and re-sends what was not acknowledged with the same `seq`.
//! - [`Fanout`]: latency of events as the other clients see them.

#![allow(dead_code)]

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio::io::AsyncBufReadExt;
use tokio::net::TcpStream;
use tokio::sync::watch;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};
use trustroom_e2e::{Rng, isolated_command, server_bin};
use trustroom_shared::change::{Change, Revision, apply};
use trustroom_shared::objection::ObjectionKind;
use trustroom_shared::ot::{OpLimits, TextOp};
use trustroom_shared::ot_client::SectionSync;
use trustroom_shared::protocol::{ClientFrame, Hello, PROTOCOL_VERSION, Request, ServerFrame, hello_frame};
use trustroom_shared::room::RoomState;
use trustroom_shared::{ClientId, ObjectionId, RoomId, SectionId};

pub type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;

// ---------------------------------------------------------------------------
// The real server binary
// ---------------------------------------------------------------------------

/// The last lines a server wrote to stderr.
#[derive(Clone)]
pub struct ServerLog(Arc<Mutex<Vec<String>>>);

impl ServerLog {
    pub fn tail(&self) -> String {
        self.0.lock().map(|l| l.join("\n")).unwrap_or_default()
    }
}

/// `trustroom-server serve` as a child process.
pub struct ServerProcess {
    pub url: String,
    child: tokio::process::Child,
    /// The last lines the server wrote to stderr (for failure messages).
    log: Arc<Mutex<Vec<String>>>,
}

impl ServerProcess {
    /// Starts `serve --listen 127.0.0.1:0 --db DB EXTRA…` and waits for its
    /// "listening on" line.
    pub async fn start(db_url: &str, home: &Path, extra: &[&str]) -> anyhow::Result<ServerProcess> {
        let bin = server_bin()?;
        let mut cmd = isolated_command(&bin, home);
        cmd.args(["serve", "--listen", "127.0.0.1:0", "--db", db_url])
            .args(extra)
            .env("RUST_LOG", "trustroom_server=warn")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        let mut child = cmd.spawn().context("starting trustroom-server")?;
        let stderr = child.stderr.take().context("server stderr")?;
        let mut lines = tokio::io::BufReader::new(stderr).lines();
        let log = Arc::new(Mutex::new(Vec::new()));
        let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
        let url = loop {
            let line = tokio::time::timeout_at(deadline, lines.next_line())
                .await
                .context("the server did not say it was listening within 20 s")??;
            let Some(line) = line else {
                bail!("the server exited before listening: {:?}", log.lock().map(|l| l.join("\n")).unwrap_or_default())
            };
            if let Some(at) = line.find("listening on ") {
                break line[at + "listening on ".len()..].trim().to_string();
            }
            if let Ok(mut l) = log.lock() {
                l.push(line);
            }
        };
        // Keep draining stderr so the server never blocks on a full pipe.
        let sink = log.clone();
        tokio::spawn(async move {
            while let Ok(Some(line)) = lines.next_line().await {
                if let Ok(mut l) = sink.lock() {
                    l.push(line);
                    let n = l.len();
                    if n > 200 {
                        l.drain(..n - 200);
                    }
                }
            }
        });
        Ok(ServerProcess { url, child, log })
    }

    pub fn pid(&self) -> Option<u32> {
        self.child.id()
    }

    /// SIGKILL, then reap.
    pub async fn kill(mut self) -> anyhow::Result<()> {
        self.child.start_kill()?;
        let _ = tokio::time::timeout(Duration::from_secs(10), self.child.wait()).await.context("reaping")??;
        Ok(())
    }

    /// SIGTERM, then wait for the exit (graceful shutdown); returns the
    /// exit code and how long the shutdown took.
    pub async fn terminate(mut self) -> anyhow::Result<(Option<i32>, Duration)> {
        let pid = self.child.id().context("no pid")?;
        let started = Instant::now();
        let status = std::process::Command::new("kill").args(["-TERM", &pid.to_string()]).status()?;
        anyhow::ensure!(status.success(), "kill -TERM failed");
        let exit = tokio::time::timeout(Duration::from_secs(20), self.child.wait())
            .await
            .context("the server did not exit within 20 s of SIGTERM")??;
        Ok((exit.code(), started.elapsed()))
    }

    pub fn log_tail(&self) -> String {
        self.log_handle().tail()
    }

    /// The server's log, readable after the process handle is gone.
    pub fn log_handle(&self) -> ServerLog {
        ServerLog(self.log.clone())
    }

    /// Resident set size (KiB) and open file descriptors of the process.
    pub fn rss_and_fds(&self) -> Option<(u64, usize)> {
        let pid = self.child.id()?;
        proc_rss_fds(pid)
    }
}

/// VmRSS (KiB) and the number of open fds of a process (Linux /proc).
pub fn proc_rss_fds(pid: u32) -> Option<(u64, usize)> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let rss = status.lines().find(|l| l.starts_with("VmRSS:"))?.split_whitespace().nth(1)?.parse().ok()?;
    let fds = std::fs::read_dir(format!("/proc/{pid}/fd")).ok()?.count();
    Some((rss, fds))
}

/// Runs `trustroom-server audit verify --room CHAIN` on the database and
/// returns its output; fails unless it says `ok`.
pub async fn audit_verify(db_url: &str, home: &Path, chain: &str) -> anyhow::Result<String> {
    let run =
        trustroom_e2e::run_process(&server_bin()?, &["audit", "verify", "--room", chain, "--db", db_url], home, &[])
            .await?;
    anyhow::ensure!(
        run.success() && run.stdout.starts_with("ok"),
        "audit verify {chain} failed ({:?}): {}{}",
        run.code,
        run.stdout,
        run.stderr
    );
    Ok(run.stdout.trim().to_string())
}

/// Revisions of a room as stored, checked to be exactly 1..=N with no
/// duplicate `(client, seq)`; returns N.
pub async fn check_contiguous(pool: &sqlx::SqlitePool, room: RoomId) -> anyhow::Result<u64> {
    let revs: Vec<i64> = sqlx::query_scalar("SELECT revision FROM revisions WHERE room_id = ? ORDER BY revision")
        .bind(room.to_string())
        .fetch_all(pool)
        .await?;
    for (i, r) in revs.iter().enumerate() {
        anyhow::ensure!(*r == i as i64 + 1, "revisions are not contiguous: position {i} holds revision {r}");
    }
    let dups: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM (SELECT client_id, client_seq FROM revisions WHERE room_id = ? AND client_id IS NOT NULL
         GROUP BY client_id, client_seq HAVING COUNT(*) > 1)",
    )
    .bind(room.to_string())
    .fetch_one(pool)
    .await?;
    anyhow::ensure!(dups == 0, "{dups} (client, seq) pairs stored twice");
    Ok(revs.len() as u64)
}

// ---------------------------------------------------------------------------
// Raw protocol helpers
// ---------------------------------------------------------------------------

/// Connects and completes the handshake; returns the socket or the
/// refusal (`closing`/`error` frame) as an error.
pub async fn connect(url: &str, token: &str, client: ClientId) -> anyhow::Result<Ws> {
    Ok(connect_bound(url, token, client).await?.0)
}

/// [`connect`], also returning the client id the server bound `client` to
/// (the id its events carry).
pub async fn connect_bound(url: &str, token: &str, client: ClientId) -> anyhow::Result<(Ws, ClientId)> {
    let (mut ws, _) = tokio::time::timeout(Duration::from_secs(5), tokio_tungstenite::connect_async(url))
        .await
        .context("connect timed out")??;
    let hello = Hello { protocol: PROTOCOL_VERSION, token: token.to_string(), client: Some(client) };
    ws.send(Message::text(hello_frame(&hello))).await?;
    loop {
        let msg = tokio::time::timeout(Duration::from_secs(5), ws.next()).await.context("no welcome")?;
        match msg {
            Some(Ok(Message::Text(t))) => {
                let v: Value = serde_json::from_str(&t)?;
                if v["type"] == "welcome" {
                    let bound =
                        v["client"].as_str().and_then(|c| c.parse().ok()).context("welcome without a client id")?;
                    return Ok((ws, bound));
                }
                bail!("handshake refused: {t}");
            }
            Some(Ok(_)) => continue,
            Some(Err(e)) => bail!("handshake failed: {e}"),
            None => bail!("closed during the handshake"),
        }
    }
}

pub fn frame(id: &str, request: Request) -> anyhow::Result<Message> {
    Ok(Message::text(serde_json::to_string(&ClientFrame { id: id.to_string(), request })?))
}

// ---------------------------------------------------------------------------
// Fan-out latency
// ---------------------------------------------------------------------------

/// When each `(client, seq)` was sent, and how long events took to reach
/// the other clients.
#[derive(Default)]
pub struct Fanout {
    sent: Mutex<HashMap<(ClientId, u64), Instant>>,
    /// (when the op was sent, latency in µs) per delivery to another client.
    latencies: Mutex<Vec<(Instant, u64)>>,
}

impl Fanout {
    pub fn sent(&self, client: ClientId, seq: u64) {
        if let Ok(mut s) = self.sent.lock() {
            s.entry((client, seq)).or_insert_with(Instant::now);
        }
    }

    pub fn received(&self, client: ClientId, seq: u64) {
        let at = self.sent.lock().ok().and_then(|s| s.get(&(client, seq)).copied());
        if let (Some(at), Ok(mut l)) = (at, self.latencies.lock()) {
            l.push((at, at.elapsed().as_micros() as u64));
        }
    }

    /// (samples, p50, p99, max) in milliseconds over every delivery.
    pub fn summary(&self) -> (usize, f64, f64, f64) {
        self.summary_between(None, None)
    }

    /// Like [`Fanout::summary`] for ops sent in `[from, to)`.
    pub fn summary_between(&self, from: Option<Instant>, to: Option<Instant>) -> (usize, f64, f64, f64) {
        let mut l: Vec<u64> = self
            .latencies
            .lock()
            .map(|l| {
                l.iter()
                    .filter(|(at, _)| from.is_none_or(|f| *at >= f) && to.is_none_or(|t| *at < t))
                    .map(|(_, us)| *us)
                    .collect()
            })
            .unwrap_or_default();
        l.sort_unstable();
        if l.is_empty() {
            return (0, 0.0, 0.0, 0.0);
        }
        let q = |p: f64| l[((l.len() as f64 - 1.0) * p).round() as usize] as f64 / 1000.0;
        (l.len(), q(0.5), q(0.99), l[l.len() - 1] as f64 / 1000.0)
    }
}

// ---------------------------------------------------------------------------
// The reconnecting editor
// ---------------------------------------------------------------------------

/// What an editor does each step.
#[derive(Clone, Copy, Debug)]
pub struct Mix {
    /// Percent of steps that raise an objection (the rest edit).
    pub object: u64,
    /// Percent of steps that reply to an objection.
    pub reply: u64,
    /// Percent of reconnects delayed by 300–700 ms (the room moves on
    /// meanwhile, so the catch-up may come as a snapshot).
    pub away: u64,
}

#[derive(Clone, Debug)]
enum Kind {
    Edit,
    Object,
    Reply(ObjectionId),
}

/// An operation sent and not yet acknowledged.
#[derive(Clone, Debug)]
struct Outstanding {
    seq: u64,
    kind: Kind,
    marker: String,
    id: String,
}

/// Control shared by the test and its editors.
#[derive(Clone)]
pub struct Control {
    /// The server's current URL (changes on every restart).
    pub url: watch::Receiver<String>,
    /// Set to stop generating new operations (outstanding ones still finish).
    pub stop: watch::Receiver<bool>,
    /// Bumped to make every editor pipeline a burst of objections now.
    pub burst: watch::Receiver<u64>,
    pub fanout: Arc<Fanout>,
    /// Editors that stopped and have nothing outstanding.
    pub idle: Arc<std::sync::atomic::AtomicUsize>,
    /// The revision to catch up to before finishing (set once all are idle).
    pub target: watch::Receiver<Option<u64>>,
    /// Editors joined right now.
    pub joined: Arc<std::sync::atomic::AtomicUsize>,
}

/// The test's side of [`Control`].
pub struct Steering {
    pub url: watch::Sender<String>,
    pub stop: watch::Sender<bool>,
    pub burst: watch::Sender<u64>,
    pub target: watch::Sender<Option<u64>>,
    pub idle: Arc<std::sync::atomic::AtomicUsize>,
    pub joined: Arc<std::sync::atomic::AtomicUsize>,
}

/// A control for editors and the test's handle on it.
pub fn control(url: &str) -> (Control, Steering) {
    let (url_tx, url) = watch::channel(url.to_string());
    let (stop_tx, stop) = watch::channel(false);
    let (burst_tx, burst) = watch::channel(0u64);
    let (target_tx, target) = watch::channel(None);
    let idle = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let joined = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    (
        Control {
            url,
            stop,
            burst,
            fanout: Arc::new(Fanout::default()),
            idle: idle.clone(),
            target,
            joined: joined.clone(),
        },
        Steering { url: url_tx, stop: stop_tx, burst: burst_tx, target: target_tx, idle, joined },
    )
}

impl Steering {
    /// Waits until `n` editors are joined (or `wait` passes).
    pub async fn all_joined(&self, n: usize, wait: Duration) -> bool {
        let deadline = Instant::now() + wait;
        while self.joined.load(std::sync::atomic::Ordering::SeqCst) < n {
            if Instant::now() > deadline {
                return false;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        true
    }

    /// Waits until no editor is joined: each has read its connection to
    /// the end (or `wait` passes).
    pub async fn none_joined(&self, wait: Duration) -> bool {
        let deadline = Instant::now() + wait;
        while self.joined.load(std::sync::atomic::Ordering::SeqCst) > 0 {
            if Instant::now() > deadline {
                return false;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        true
    }

    /// Stops the editors: they finish what is outstanding, then catch up
    /// to the room's final revision (read by a fresh client) and end.
    pub async fn finish(
        &self,
        tasks: Vec<tokio::task::JoinHandle<EditorReport>>,
        token: &str,
        room: RoomId,
    ) -> anyhow::Result<(Vec<EditorReport>, RoomState)> {
        self.stop.send_replace(true);
        let n = tasks.len();
        let deadline = Instant::now() + Duration::from_secs(30);
        while self.idle.load(std::sync::atomic::Ordering::SeqCst) < n {
            if tasks.iter().all(|t| t.is_finished()) || Instant::now() > deadline {
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        let url = self.url.borrow().clone();
        let state = fetch_state(&url, token, room).await?;
        self.target.send_replace(Some(state.revision));
        let mut reports = Vec::new();
        for t in tasks {
            reports.push(t.await?);
        }
        Ok((reports, state))
    }
}

/// What an editor ends with.
#[derive(Debug, Default, Clone)]
pub struct EditorReport {
    pub name: String,
    pub client: Option<ClientId>,
    /// Markers of every operation acknowledged (`ok` or own event), by kind.
    pub acked_edits: Vec<String>,
    pub acked_objections: Vec<String>,
    pub acked_replies: Vec<String>,
    /// Markers sent at least once (acknowledged or not).
    pub sent: Vec<String>,
    pub connects: u32,
    pub resent: u32,
    pub duplicates: u32,
    pub closings: Vec<String>,
    pub snapshots: u32,
    pub catchups: u32,
    /// Refusals that should never happen.
    pub errors: Vec<String>,
    /// Room revision of the first snapshot, and events from other clients
    /// received after it (for reach).
    pub first_revision: Option<u64>,
    pub received_from_others: u64,
    /// The room state and section text at the end.
    pub state: Option<RoomState>,
    pub text: String,
}

pub struct Editor {
    pub name: String,
    token: String,
    /// The client id this editor claims in `hello`.
    claimed: ClientId,
    /// The id the server bound it to (set at each connect).
    client: ClientId,
    room: RoomId,
    section: SectionId,
    mix: Mix,
    rng: Rng,
    state: Option<RoomState>,
    sync: SectionSync,
    /// `seq` and marker of the edit in flight.
    edit: Option<Outstanding>,
    others: Vec<Outstanding>,
    next_seq: u64,
    next_id: u64,
    joined: bool,
    join_id: Option<String>,
    report: EditorReport,
    burst_seen: u64,
    fanout: Arc<Fanout>,
    idle_reported: bool,
}

impl Editor {
    pub fn new(name: &str, token: &str, room: RoomId, section: SectionId, mix: Mix, seed: u64) -> Editor {
        let client = ClientId::new();
        Editor {
            name: name.to_string(),
            token: token.to_string(),
            claimed: client,
            client,
            room,
            section,
            mix,
            rng: Rng::new(seed),
            state: None,
            sync: SectionSync::default(),
            edit: None,
            others: Vec::new(),
            next_seq: 0,
            next_id: 0,
            joined: false,
            join_id: None,
            report: EditorReport { name: name.to_string(), client: Some(client), ..Default::default() },
            burst_seen: 0,
            fanout: Arc::new(Fanout::default()),
            idle_reported: false,
        }
    }

    fn id(&mut self) -> String {
        self.next_id += 1;
        format!("{}-{}", self.name, self.next_id)
    }

    fn busy(&self) -> bool {
        self.edit.is_some() || !self.others.is_empty()
    }

    /// Runs until `stop` is set and nothing is outstanding (or `deadline`).
    pub async fn run(mut self, mut ctl: Control, deadline: Instant) -> EditorReport {
        self.fanout = ctl.fanout.clone();
        let mut attempt = 0u32;
        let mut was_away = false;
        loop {
            if Instant::now() > deadline {
                self.report.errors.push(format!("{}: deadline reached while busy={}", self.name, self.busy()));
                break;
            }
            if self.done(&ctl) && self.joined {
                break;
            }
            let url = ctl.url.borrow().clone();
            let ws = match connect_bound(&url, &self.token, self.claimed).await {
                Ok((ws, bound)) => {
                    // Events carry the id the server bound ours to.
                    self.client = bound;
                    self.report.client = Some(bound);
                    ws
                }
                Err(_) => {
                    // Backoff with jitter, short: the test restarts the server quickly.
                    attempt = attempt.saturating_add(1);
                    let base = 10u64 << attempt.min(4);
                    let wait = base + self.rng.below(base as usize + 1) as u64;
                    let _ = tokio::time::timeout(Duration::from_millis(wait), ctl.url.changed()).await;
                    continue;
                }
            };
            if !was_away && self.report.connects > 0 && self.rng.chance(self.mix.away) {
                was_away = true;
                drop(ws);
                tokio::time::sleep(Duration::from_millis(300 + self.rng.below(400) as u64)).await;
                continue;
            }
            attempt = 0;
            was_away = false;
            self.report.connects += 1;
            let outcome = self.session(ws, &mut ctl, deadline).await;
            if self.joined {
                ctl.joined.fetch_sub(1, std::sync::atomic::Ordering::SeqCst);
            }
            self.joined = false;
            match outcome {
                Ok(true) => break,
                Ok(false) => {}
                Err(e) => self.report.errors.push(format!("{}: {e:#}", self.name)),
            }
        }
        self.report.state = self.state.clone();
        self.report.text = self.text();
        self.report
    }

    /// The local text of the edited section (server text + op in flight).
    fn text(&self) -> String {
        let server =
            self.state.as_ref().and_then(|s| s.section(self.section)).map(|s| s.body.clone()).unwrap_or_default();
        match self.sync.in_flight() {
            Some(op) => op.apply(&server).unwrap_or(server),
            None => server,
        }
    }

    /// One connection. Ok(true) when finished, Ok(false) when the
    /// connection ended and the editor should reconnect.
    async fn session(&mut self, mut ws: Ws, ctl: &mut Control, deadline: Instant) -> anyhow::Result<bool> {
        let since = self.state.as_ref().map(|s| s.revision);
        let join_id = self.id();
        self.join_id = Some(join_id.clone());
        ws.send(frame(&join_id, Request::Join { room: self.room, since })?).await?;
        let mut to_send: Vec<Message> = Vec::new();
        loop {
            if self.joined {
                if *ctl.stop.borrow() && !self.busy() && !self.idle_reported {
                    self.idle_reported = true;
                    ctl.idle.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                }
                if self.done(ctl) {
                    let _ = ws.close(None).await;
                    return Ok(true);
                }
                let burst = *ctl.burst.borrow();
                if burst != self.burst_seen {
                    self.burst_seen = burst;
                    for _ in 0..8 {
                        to_send.push(self.new_objection()?);
                    }
                }
                if !*ctl.stop.borrow() && self.edit.is_none() && self.others.len() < 2 {
                    to_send.push(self.next_op()?);
                }
            }
            for m in to_send.drain(..) {
                if ws.send(m).await.is_err() {
                    return Ok(false);
                }
            }
            if Instant::now() > deadline {
                bail!("deadline reached in session");
            }
            let msg = match tokio::time::timeout(Duration::from_millis(200), ws.next()).await {
                Err(_) => continue,
                Ok(m) => m,
            };
            let text = match msg {
                Some(Ok(Message::Text(t))) => t,
                Some(Ok(Message::Close(_))) | None | Some(Err(_)) => return Ok(false),
                Some(Ok(_)) => continue,
            };
            let frame: ServerFrame = serde_json::from_str(&text).with_context(|| format!("bad frame {text}"))?;
            match frame {
                ServerFrame::Snapshot { snapshot, .. } => {
                    self.report.snapshots += 1;
                    let applied = snapshot.applied_seq.unwrap_or(0);
                    if self.report.first_revision.is_none() {
                        self.report.first_revision = Some(snapshot.state.revision);
                    }
                    self.state = Some(snapshot.state);
                    // Whatever landed is acknowledged; the rest is rebuilt
                    // on the new text and re-sent with the same seq.
                    if let Some(e) = self.edit.take() {
                        self.sync = SectionSync::default();
                        if e.seq <= applied {
                            self.report.acked_edits.push(e.marker);
                        } else {
                            let op = self.insert_op(&e.marker);
                            if let Ok(Some(_)) = self.sync.local(op) {
                                self.edit = Some(e);
                            }
                        }
                    }
                    let (landed, rest): (Vec<Outstanding>, Vec<Outstanding>) =
                        std::mem::take(&mut self.others).into_iter().partition(|o| o.seq <= applied);
                    for o in landed {
                        self.acked(&o);
                    }
                    self.others = rest;
                }
                ServerFrame::Event { rev, .. } => {
                    if !self.joined {
                        self.report.catchups += 1;
                    }
                    self.on_event(&rev, &ctl.fanout)?;
                }
                ServerFrame::Ok { id, result } => {
                    if Some(&id) == self.join_id.as_ref() {
                        self.joined = true;
                        ctl.joined.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                        // Re-send what is still unacknowledged, in seq order.
                        let mut resend: Vec<Outstanding> = self.others.clone();
                        if let Some(e) = &self.edit {
                            resend.push(e.clone());
                        }
                        resend.sort_by_key(|o| o.seq);
                        for o in resend {
                            self.report.resent += 1;
                            to_send.push(self.request_for(&o)?);
                        }
                        continue;
                    }
                    if result["duplicate"] == true {
                        self.report.duplicates += 1;
                    }
                    if let Some(pos) = self.others.iter().position(|o| o.id == id) {
                        let o = self.others.remove(pos);
                        self.acked(&o);
                    } else if self.edit.as_ref().is_some_and(|e| e.id == id) {
                        // A duplicate answer to a resent edit: its event was
                        // seen before the reconnect (or is in a snapshot).
                        if let Some(e) = self.edit.take() {
                            self.sync = SectionSync::default();
                            self.report.acked_edits.push(e.marker);
                        }
                    }
                }
                ServerFrame::Error { id, code, message } => {
                    let what = format!("{}: error {code} for {id:?}: {message}", self.name);
                    if code == trustroom_shared::protocol::ErrorCode::Unavailable {
                        // The server is going down; the op is re-sent later.
                        continue;
                    }
                    self.report.errors.push(what);
                    // Do not retry a refused op forever.
                    if let Some(id) = id {
                        self.others.retain(|o| o.id != id);
                        if self.edit.as_ref().is_some_and(|e| e.id == id) {
                            self.edit = None;
                            self.sync = SectionSync::default();
                        }
                    }
                }
                ServerFrame::Closing { code, reason } => {
                    self.report.closings.push(format!("{code}: {reason}"));
                }
                _ => {}
            }
        }
    }

    /// Stopped, nothing outstanding, and caught up to the target revision.
    fn done(&self, ctl: &Control) -> bool {
        let target = *ctl.target.borrow();
        *ctl.stop.borrow()
            && !self.busy()
            && target.is_some_and(|t| self.state.as_ref().is_some_and(|s| s.revision >= t))
    }

    fn acked(&mut self, o: &Outstanding) {
        match o.kind {
            Kind::Edit => self.report.acked_edits.push(o.marker.clone()),
            Kind::Object => self.report.acked_objections.push(o.marker.clone()),
            Kind::Reply(_) => self.report.acked_replies.push(o.marker.clone()),
        }
    }

    fn on_event(&mut self, rev: &Revision, fanout: &Fanout) -> anyhow::Result<()> {
        let Some(state) = self.state.as_mut() else { bail!("event before any snapshot") };
        if rev.revision <= state.revision {
            return Ok(());
        }
        apply(state, rev).map_err(|e| anyhow::anyhow!("event {} does not apply: {e}", rev.revision))?;
        let own = rev.client.filter(|c| c.client == self.client).map(|c| c.seq);
        if own.is_none()
            && let Some(stamp) = rev.client
        {
            self.report.received_from_others += 1;
            fanout.received(stamp.client, stamp.seq);
        }
        if let Change::SectionEdited { section, op } = &rev.change
            && *section == self.section
        {
            let is_ack = own.is_some() && self.edit.as_ref().is_some_and(|e| Some(e.seq) == own);
            if is_ack {
                let _ = self.sync.ack();
                if let Some(e) = self.edit.take() {
                    self.report.acked_edits.push(e.marker);
                }
            } else if own.is_none() {
                let op = TextOp::from_wire(op, OpLimits { max_components: usize::MAX, max_text_chars: usize::MAX })?;
                self.sync.remote(&op)?;
            }
        }
        if let Some(seq) = own
            && let Some(pos) = self.others.iter().position(|o| o.seq == seq)
        {
            let o = self.others.remove(pos);
            self.acked(&o);
        }
        Ok(())
    }

    /// An insert of `marker` at a marker boundary of the current local text.
    fn insert_op(&mut self, marker: &str) -> TextOp {
        let text = self.text();
        let len = text.chars().count();
        // Boundaries: the start, the end, and right after each marker.
        let mut cuts = vec![0, len];
        for (i, c) in text.chars().enumerate() {
            if c == '⟧' {
                cuts.push(i + 1);
            }
        }
        let pos = cuts[self.rng.below(cuts.len())];
        let mut op = TextOp::new();
        op.retain(pos).insert(marker).retain(len - pos);
        op
    }

    fn next_op(&mut self) -> anyhow::Result<Message> {
        let roll = self.rng.below(100) as u64;
        if roll < self.mix.object {
            return self.new_objection();
        }
        if roll < self.mix.object + self.mix.reply
            && let Some(target) = self.state.as_ref().and_then(|s| {
                let ids: Vec<ObjectionId> = s.objections.keys().copied().collect();
                (!ids.is_empty()).then(|| ids[self.rng.below(ids.len())])
            })
        {
            self.next_seq += 1;
            let seq = self.next_seq;
            let o = Outstanding {
                seq,
                kind: Kind::Reply(target),
                marker: format!("reply-{}-{seq}", self.client),
                id: self.id(),
            };
            self.report.sent.push(o.marker.clone());
            let m = self.request_for(&o)?;
            self.others.push(o);
            return Ok(m);
        }
        self.next_seq += 1;
        let seq = self.next_seq;
        let marker = format!("⟦{}·{seq}⟧", &self.client.to_string()[24..]);
        let op = self.insert_op(&marker);
        let _ = self.sync.local(op)?;
        let o = Outstanding { seq, kind: Kind::Edit, marker, id: self.id() };
        self.report.sent.push(o.marker.clone());
        let m = self.request_for(&o)?;
        self.edit = Some(o);
        Ok(m)
    }

    fn new_objection(&mut self) -> anyhow::Result<Message> {
        self.next_seq += 1;
        let seq = self.next_seq;
        let o =
            Outstanding { seq, kind: Kind::Object, marker: format!("objection-{}-{seq}", self.client), id: self.id() };
        self.report.sent.push(o.marker.clone());
        let m = self.request_for(&o)?;
        self.others.push(o);
        Ok(m)
    }

    /// The request for an outstanding op (a resend gets a fresh id, the
    /// same seq, and for an edit the op as transformed so far on the
    /// current base).
    fn request_for(&mut self, o: &Outstanding) -> anyhow::Result<Message> {
        self.fanout.sent(self.client, o.seq);
        let room = self.room;
        let request = match &o.kind {
            Kind::Edit => {
                let op = self.sync.in_flight().context("edit without an op in flight")?.to_wire();
                let base = self.state.as_ref().map_or(0, |s| s.revision);
                Request::Edit { room, section: self.section, base, op, seq: Some(o.seq) }
            }
            Kind::Object => Request::Object {
                room,
                section: self.section,
                kind: ObjectionKind::Wording,
                blocking: false,
                text: o.marker.clone(),
                statement: None,
                quote: None,
                seq: Some(o.seq),
            },
            Kind::Reply(objection) => {
                Request::Reply { room, objection: *objection, text: o.marker.clone(), seq: Some(o.seq) }
            }
        };
        // Answers are matched by id: keep the id the op was first sent
        // with, and for the edit remember it too.
        let id = o.id.clone();
        if let Some(e) = self.edit.as_mut().filter(|e| e.seq == o.seq) {
            e.id = id.clone();
        }
        frame(&id, request)
    }
}

/// Checks that every acknowledged marker is in `state` exactly once, and
/// that nothing sent is there twice. Returns (edits, objections, replies)
/// acknowledged.
pub fn check_exactly_once(
    state: &RoomState,
    section: SectionId,
    reports: &[EditorReport],
) -> anyhow::Result<(usize, usize, usize)> {
    let body = state.section(section).map(|s| s.body.as_str()).unwrap_or("");
    let mut objection_texts: BTreeMap<&str, usize> = BTreeMap::new();
    let mut reply_texts: BTreeMap<&str, usize> = BTreeMap::new();
    for o in state.objections.values() {
        *objection_texts.entry(o.text.as_str()).or_default() += 1;
        for r in &o.replies {
            *reply_texts.entry(r.text.as_str()).or_default() += 1;
        }
    }
    let (mut e, mut ob, mut re) = (0, 0, 0);
    for r in reports {
        for m in &r.acked_edits {
            let n = body.matches(m.as_str()).count();
            anyhow::ensure!(n == 1, "{}: acknowledged edit {m} is in the text {n} times", r.name);
            e += 1;
        }
        for m in &r.acked_objections {
            let n = objection_texts.get(m.as_str()).copied().unwrap_or(0);
            anyhow::ensure!(n == 1, "{}: acknowledged objection {m} exists {n} times", r.name);
            ob += 1;
        }
        for m in &r.acked_replies {
            let n = reply_texts.get(m.as_str()).copied().unwrap_or(0);
            anyhow::ensure!(n == 1, "{}: acknowledged reply {m} exists {n} times", r.name);
            re += 1;
        }
        for m in &r.sent {
            let n = body.matches(m.as_str()).count()
                + objection_texts.get(m.as_str()).copied().unwrap_or(0)
                + reply_texts.get(m.as_str()).copied().unwrap_or(0);
            anyhow::ensure!(n <= 1, "{}: {m} was applied {n} times", r.name);
        }
    }
    Ok((e, ob, re))
}

/// A fresh client's view of the room (join without `since`).
pub async fn fetch_state(url: &str, token: &str, room: RoomId) -> anyhow::Result<RoomState> {
    let mut ws = connect(url, token, ClientId::new()).await?;
    ws.send(frame("s", Request::Join { room, since: None })?).await?;
    let mut state = None;
    loop {
        let msg = tokio::time::timeout(Duration::from_secs(10), ws.next()).await.context("no snapshot")?;
        let Some(Ok(Message::Text(t))) = msg else {
            if matches!(msg, Some(Ok(_))) {
                continue;
            }
            bail!("closed before the snapshot");
        };
        match serde_json::from_str::<ServerFrame>(&t)? {
            ServerFrame::Snapshot { snapshot, .. } => state = Some(snapshot.state),
            ServerFrame::Ok { id, .. } if id == "s" => break,
            ServerFrame::Error { message, .. } => bail!("join refused: {message}"),
            _ => {}
        }
    }
    let _ = ws.close(None).await;
    state.context("no snapshot")
}

/// Adds an empty section titled `title` as `token`'s user; returns its id.
pub async fn add_section(url: &str, token: &str, room: RoomId, title: &str) -> anyhow::Result<SectionId> {
    let mut ws = connect(url, token, ClientId::new()).await?;
    let req = Request::AddSection { room, title: title.into(), body: String::new(), after: None, seq: None };
    ws.send(frame("a", req)?).await?;
    loop {
        let msg = tokio::time::timeout(Duration::from_secs(10), ws.next()).await.context("no answer")?;
        let Some(Ok(Message::Text(t))) = msg else {
            if matches!(msg, Some(Ok(_))) {
                continue;
            }
            bail!("closed before the answer");
        };
        let v: Value = serde_json::from_str(&t)?;
        if v["id"] == "a" {
            anyhow::ensure!(v["type"] == "ok", "add_section refused: {v}");
            let id = v["result"]["created"].as_str().context("no created id")?;
            let _ = ws.close(None).await;
            return Ok(id.parse()?);
        }
    }
}

/// The JSON of a request frame (for raw sockets).
pub fn request_json(id: &str, v: Value) -> String {
    let mut v = v;
    v["id"] = json!(id);
    v.to_string()
}

/// A temp dir with a seeded demo database (not served).
pub async fn seeded_db() -> anyhow::Result<(tempfile::TempDir, String, trustroom_server::demo::DemoSeed)> {
    let dir = tempfile::tempdir()?;
    let db_url = format!("sqlite://{}", dir.path().join("t.db").display());
    let store = trustroom_server::storage::open(&db_url).await?;
    let seed = trustroom_server::demo::seed(&store).await?;
    drop(store);
    Ok((dir, db_url, seed))
}

/// Path of the database file of a `sqlite://` URL.
pub fn db_path(db_url: &str) -> PathBuf {
    PathBuf::from(db_url.trim_start_matches("sqlite://"))
}

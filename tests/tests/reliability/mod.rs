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

#![allow(dead_code, unused_imports)]

mod control;
mod editor;
mod server;

pub use control::*;
pub use editor::*;
pub use server::*;

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
use trustroom_shared::ot::TextOp;
use trustroom_shared::ot_client::SectionSync;
use trustroom_shared::protocol::{ClientFrame, Hello, PROTOCOL_VERSION, Request, ServerFrame, hello_frame};
use trustroom_shared::room::RoomState;
use trustroom_shared::{ClientId, ObjectionId, RoomId, SectionId};

pub type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;

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

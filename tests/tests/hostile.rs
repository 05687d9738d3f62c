//! The bad-input catalogue: hostile frames sent to a real server over real
//! websockets, table-driven.
//!
//! For every case the test asserts
//! - the exact stable error `code` of the answer (`error` or `closing` frame),
//!   and whether the error echoes the request id;
//! - that the room's revision and content hash did not change (a separate,
//!   well-behaved observer re-joins before and after and compares
//!   `snapshot.state.revision` + `snapshot.content_hash`; it also must not see
//!   any `event`);
//! - that nothing was stored (row counts of `revisions` and `snapshots`);
//! - that refusals inside a room are audited (`refused` entries of the room's
//!   audit chain grew by one; server-level refusals in the `server` chain);
//! - where the protocol allows, that the same connection still answers a
//!   following `ping` and `rooms` correctly; otherwise that it was closed.
//!
//! Every case runs even when an earlier one fails; the summary table is
//! printed (see it with `--nocapture`) and the test fails listing every
//! mismatch at once.
//!
//! Self-contained on purpose: it starts its own server in-process with small
//! limits and speaks the protocol with a raw tokio-tungstenite client.

use std::fmt::Write as _;
use std::str::FromStr;
use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use sqlx::sqlite::{SqliteConnectOptions, SqlitePool, SqlitePoolOptions};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::frame::Frame;
use tokio_tungstenite::tungstenite::protocol::frame::coding::{Data, OpCode};
use trustroom_server::config::ServerConfig;
use trustroom_server::storage::Store;

type Ws = tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<TcpStream>>;

// Small limits so the oversized cases stay cheap.
const MAX_FRAME: usize = 64 * 1024;
const HARD_FRAME: usize = 4 * MAX_FRAME;
const HANDSHAKE: Duration = Duration::from_millis(300);
const MAX_TEXT: usize = 2_000;
const MAX_COMPONENTS: usize = 1_000;
const MAX_SECTION: usize = 20_000;
/// How long we wait for any single answer.
const ANSWER_WAIT: Duration = Duration::from_secs(3);

// ---------------------------------------------------------------------------
// Server under test
// ---------------------------------------------------------------------------

struct Env {
    url: String,
    addr: std::net::SocketAddr,
    store: Store,
    pool: SqlitePool,
    room: String,
    owner_token: String,
    observer_token: String,
    outsider_token: String,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<anyhow::Result<()>>,
    _dir: tempfile::TempDir,
}

async fn start_server() -> anyhow::Result<Env> {
    let dir = tempfile::tempdir()?;
    let db_url = format!("sqlite://{}/t.db", dir.path().display());
    let store = trustroom_server::storage::open(&db_url).await?;
    let seed = trustroom_server::demo::seed(&store).await?;
    let (_, outsider_token) = trustroom_server::admin::add_user(&store, "mallory.outsider").await?;
    let token_of = |role: &str| {
        seed.member(role).map(|m| m.token.clone()).ok_or_else(|| anyhow::anyhow!("demo seed has no {role}"))
    };
    let owner_token = token_of("owner")?;
    let observer_token = token_of("observer")?;

    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let config = ServerConfig {
        max_frame_bytes: MAX_FRAME,
        hard_frame_bytes: HARD_FRAME,
        handshake_timeout: HANDSHAKE,
        max_text_chars: MAX_TEXT,
        max_op_components: MAX_COMPONENTS,
        max_section_chars: MAX_SECTION,
        ..ServerConfig::default()
    };
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(trustroom_server::serve::run(listener, store.clone(), config, async move {
        let _ = stopped.await;
    }));
    // A second, independent connection to the same file to count rows.
    let pool =
        SqlitePoolOptions::new().max_connections(1).connect_with(SqliteConnectOptions::from_str(&db_url)?).await?;
    Ok(Env {
        url: format!("ws://{addr}"),
        addr,
        store,
        pool,
        room: seed.room.to_string(),
        owner_token,
        observer_token,
        outsider_token,
        stop: Some(stop),
        task,
        _dir: dir,
    })
}

impl Env {
    async fn stop(mut self) -> anyhow::Result<()> {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        tokio::time::timeout(Duration::from_secs(15), self.task).await???;
        Ok(())
    }

    async fn count(&self, table: &str) -> anyhow::Result<i64> {
        Ok(sqlx::query_scalar::<_, i64>(&format!("SELECT COUNT(*) FROM {table}")).fetch_one(&self.pool).await?)
    }

    async fn refused(&self, chain: &str) -> anyhow::Result<usize> {
        Ok(self.store.audit_chain(chain).await?.iter().filter(|e| e.kind == "refused").count())
    }

    async fn last_revision_body(&self) -> anyhow::Result<String> {
        Ok(sqlx::query_scalar::<_, String>(
            "SELECT body FROM revisions WHERE room_id = ? ORDER BY revision DESC LIMIT 1",
        )
        .bind(&self.room)
        .fetch_one(&self.pool)
        .await?)
    }

    async fn counts(&self) -> anyhow::Result<Counts> {
        Ok(Counts {
            revisions: self.count("revisions").await?,
            snapshots: self.count("snapshots").await?,
            room_refused: self.refused(&self.room).await?,
            server_refused: self.refused("server").await?,
        })
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Counts {
    revisions: i64,
    snapshots: i64,
    room_refused: usize,
    server_refused: usize,
}

// ---------------------------------------------------------------------------
// Raw websocket client
// ---------------------------------------------------------------------------

/// One thing read from a socket.
enum Rx {
    Json(Value),
    Closed(String),
    Silent,
    Garbage(String),
}

async fn recv(ws: &mut Ws, wait: Duration) -> Rx {
    let deadline = tokio::time::Instant::now() + wait;
    loop {
        match tokio::time::timeout_at(deadline, ws.next()).await {
            Err(_) => return Rx::Silent,
            Ok(None) => return Rx::Closed("end of stream".into()),
            Ok(Some(Err(e))) => return Rx::Closed(format!("socket error: {e}")),
            Ok(Some(Ok(Message::Text(t)))) => {
                return match serde_json::from_str(t.as_str()) {
                    Ok(v) => Rx::Json(v),
                    Err(_) => {
                        Rx::Garbage(format!("non-JSON text: {}", t.as_str().chars().take(80).collect::<String>()))
                    }
                };
            }
            Ok(Some(Ok(Message::Close(f)))) => return Rx::Closed(format!("close frame {f:?}")),
            Ok(Some(Ok(Message::Ping(_) | Message::Pong(_)))) => continue,
            Ok(Some(Ok(other))) => return Rx::Garbage(format!("unexpected message {other:?}")),
        }
    }
}

async fn connect(url: &str) -> anyhow::Result<Ws> {
    let (ws, _) = tokio_tungstenite::connect_async(url).await?;
    Ok(ws)
}

async fn login(url: &str, token: &str) -> anyhow::Result<Ws> {
    let mut ws = connect(url).await?;
    ws.send(Message::text(json!({"type": "hello", "protocol": 2, "token": token}).to_string())).await?;
    match recv(&mut ws, ANSWER_WAIT).await {
        Rx::Json(v) if v["type"] == "welcome" => Ok(ws),
        Rx::Json(v) => anyhow::bail!("handshake refused: {v}"),
        _ => anyhow::bail!("no welcome"),
    }
}

/// What a hostile request got back.
#[derive(Debug)]
enum Got {
    Error { id: Option<String>, code: String, message: String },
    Closing { code: String },
    Ok,
    Dropped(String),
    Silent,
    Unexpected(String),
}

impl Got {
    fn show(&self) -> String {
        match self {
            Got::Error { id: Some(_), code, .. } => format!("error[{code}] id"),
            Got::Error { id: None, code, .. } => format!("error[{code}] id=null"),
            Got::Closing { code } => format!("closing[{code}]"),
            Got::Ok => "ok".into(),
            Got::Dropped(why) => format!("closed, no frame ({})", why.chars().take(24).collect::<String>()),
            Got::Silent => "no answer".into(),
            Got::Unexpected(s) => format!("unexpected: {}", s.chars().take(60).collect::<String>()),
        }
    }

    /// The server's message or why the socket ended, for failure reports.
    fn detail(&self) -> String {
        match self {
            Got::Error { message, .. } => format!("message: {message:?}"),
            Got::Dropped(why) => why.clone(),
            Got::Unexpected(s) => s.chars().take(300).collect(),
            Got::Closing { .. } | Got::Ok | Got::Silent => String::new(),
        }
    }
}

/// Reads until the answer to the outstanding request: `ok`, `error` or
/// `closing` (pushed frames in between are skipped; events are counted).
async fn answer(ws: &mut Ws, wait: Duration) -> (Got, usize) {
    let mut events = 0;
    loop {
        match recv(ws, wait).await {
            Rx::Json(v) => match v["type"].as_str().unwrap_or_default() {
                "error" => {
                    let id = v["id"].as_str().map(str::to_string);
                    let code = v["code"].as_str().unwrap_or("?").to_string();
                    let message = v["message"].as_str().unwrap_or_default().to_string();
                    return (Got::Error { id, code, message }, events);
                }
                "closing" => return (Got::Closing { code: v["code"].as_str().unwrap_or("?").to_string() }, events),
                "ok" => return (Got::Ok, events),
                "event" => events += 1,
                "pong" | "presence" | "presence_gone" | "snapshot" => {}
                _ => return (Got::Unexpected(v.to_string()), events),
            },
            Rx::Closed(why) => return (Got::Dropped(why), events),
            Rx::Silent => return (Got::Silent, events),
            Rx::Garbage(s) => return (Got::Unexpected(s), events),
        }
    }
}

/// The connection still works: `ping` gets `pong` + `ok`, `rooms` gets a list.
async fn check_usable(ws: &mut Ws, n: usize, room: &str, member: bool) -> Result<(), String> {
    let ping_id = format!("ping-{n}");
    ws.send(Message::text(json!({"id": ping_id, "type": "ping"}).to_string()))
        .await
        .map_err(|e| format!("cannot send ping: {e}"))?;
    let mut pong = false;
    loop {
        match recv(ws, ANSWER_WAIT).await {
            Rx::Json(v) if v["type"] == "pong" => pong = true,
            Rx::Json(v) if v["type"] == "ok" && v["id"] == ping_id.as_str() => break,
            Rx::Json(v) if matches!(v["type"].as_str(), Some("event" | "presence" | "presence_gone" | "snapshot")) => {}
            Rx::Json(v) => return Err(format!("ping answered with {v}")),
            Rx::Closed(w) => return Err(format!("connection closed instead of answering ping ({w})")),
            Rx::Silent => return Err("ping not answered".into()),
            Rx::Garbage(g) => return Err(g),
        }
    }
    if !pong {
        return Err("ping: `ok` without `pong`".into());
    }
    let rooms_id = format!("rooms-{n}");
    ws.send(Message::text(json!({"id": rooms_id, "type": "rooms"}).to_string()))
        .await
        .map_err(|e| format!("cannot send rooms: {e}"))?;
    loop {
        match recv(ws, ANSWER_WAIT).await {
            Rx::Json(v) if v["type"] == "ok" && v["id"] == rooms_id.as_str() => {
                let Some(list) = v["result"]["rooms"].as_array() else {
                    return Err(format!("rooms result without a list: {v}"));
                };
                let listed = list.iter().any(|r| r["id"] == room);
                if listed != member {
                    return Err(format!("rooms list wrong (room listed: {listed}): {v}"));
                }
                return Ok(());
            }
            Rx::Json(v) if matches!(v["type"].as_str(), Some("event" | "presence" | "presence_gone" | "snapshot")) => {}
            Rx::Json(v) => return Err(format!("rooms answered with {v}")),
            Rx::Closed(w) => return Err(format!("connection closed instead of answering rooms ({w})")),
            Rx::Silent => return Err("rooms not answered".into()),
            Rx::Garbage(g) => return Err(g),
        }
    }
}

/// After a `closing`, the server must actually close the socket.
async fn check_closed(ws: &mut Ws) -> Result<(), String> {
    loop {
        match recv(ws, Duration::from_secs(2)).await {
            Rx::Closed(_) => return Ok(()),
            Rx::Json(v) if v["type"] == "closing" => {}
            Rx::Json(v) => return Err(format!("frame after closing: {v}")),
            Rx::Silent => return Err("socket left open after closing".into()),
            Rx::Garbage(g) => return Err(g),
        }
    }
}

// ---------------------------------------------------------------------------
// The well-behaved observer
// ---------------------------------------------------------------------------

struct Observer {
    ws: Ws,
    n: usize,
    room: String,
}

struct Look {
    revision: u64,
    content_hash: String,
    state: Value,
    /// `event` frames received since the previous look.
    events: usize,
}

impl Observer {
    /// (Re-)joins the room and reads the fresh snapshot.
    async fn look(&mut self) -> anyhow::Result<Look> {
        self.n += 1;
        let id = format!("obs-{}", self.n);
        self.ws.send(Message::text(json!({"id": id, "type": "join", "room": self.room}).to_string())).await?;
        let mut events = 0;
        let mut snapshot = None;
        loop {
            match recv(&mut self.ws, ANSWER_WAIT).await {
                Rx::Json(v) => match v["type"].as_str().unwrap_or_default() {
                    "event" => events += 1,
                    "snapshot" => snapshot = Some(v),
                    "ok" if v["id"] == id.as_str() => break,
                    "presence" | "presence_gone" => {}
                    _ => anyhow::bail!("observer got {v}"),
                },
                _ => anyhow::bail!("observer connection failed"),
            }
        }
        let snap = snapshot.ok_or_else(|| anyhow::anyhow!("join without snapshot"))?;
        let s = &snap["snapshot"];
        Ok(Look {
            revision: s["state"]["revision"].as_u64().ok_or_else(|| anyhow::anyhow!("no revision"))?,
            content_hash: s["content_hash"].as_str().unwrap_or_default().to_string(),
            state: s["state"].clone(),
            events,
        })
    }
}

// ---------------------------------------------------------------------------
// The catalogue
// ---------------------------------------------------------------------------

/// What each case may use of the room as it is right before it runs.
struct Ctx {
    room: String,
    rev: u64,
    /// (id, title, body, len in chars)
    secs: Vec<(String, String, String, usize)>,
    open_objection: String,
    closed_objection: String,
}

impl Ctx {
    fn from_state(room: &str, state: &Value) -> anyhow::Result<Ctx> {
        let secs = state["sections"]
            .as_array()
            .ok_or_else(|| anyhow::anyhow!("no sections"))?
            .iter()
            .map(|s| {
                (
                    s["id"].as_str().unwrap_or_default().to_string(),
                    s["title"].as_str().unwrap_or_default().to_string(),
                    s["body"].as_str().unwrap_or_default().to_string(),
                    s["len"].as_u64().unwrap_or_default() as usize,
                )
            })
            .collect::<Vec<_>>();
        anyhow::ensure!(secs.len() >= 2, "the demo room needs sections");
        let objections = state["objections"].as_object().ok_or_else(|| anyhow::anyhow!("no objections"))?;
        let find = |open: bool| {
            objections
                .iter()
                .find(|(_, o)| (o["status"] == "open") == open)
                .map(|(id, _)| id.clone())
                .ok_or_else(|| anyhow::anyhow!("the demo room needs an objection with open={open}"))
        };
        Ok(Ctx {
            room: room.to_string(),
            rev: state["revision"].as_u64().unwrap_or_default(),
            secs,
            open_objection: find(true)?,
            closed_objection: find(false)?,
        })
    }

    fn sec(&self) -> &str {
        &self.secs[0].0
    }

    fn len(&self) -> usize {
        self.secs[0].3
    }
}

/// Who sends the case.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Who {
    /// The long-lived, joined owner connection (survives case after case).
    Owner,
    /// A fresh owner connection (for cases that end the connection).
    OwnerFresh,
    /// A fresh connection of the room's observer-role member.
    ObserverRole,
    /// A fresh connection of a valid user who is not a member of the room.
    Outsider,
    /// A websocket that has not said hello yet.
    PreHello,
    /// A bare TCP connection.
    Tcp,
}

/// How the case is sent.
enum Send {
    Text(String),
    Msgs(Vec<Message>),
    Nothing,
    TcpBytes(Vec<u8>),
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Echo {
    /// The error carries the request id.
    Yes,
    /// The frame had no usable id: `id` is null.
    Null,
    /// Either.
    Any,
}

/// The answer the case must get.
#[derive(Clone, Copy, Debug)]
enum Want {
    /// `error` with this code; the connection stays usable.
    Err(&'static str, Echo),
    /// `closing` with this code, then the socket closes.
    Close(&'static str),
    /// `closing` with this code, or the socket closes without a frame.
    CloseOrDrop(&'static str),
    /// The server closes the TCP connection (no websocket yet).
    TcpClosed,
    /// A positive control: `ok`, exactly one new revision.
    Accept,
}

impl Want {
    fn usable(&self) -> bool {
        matches!(self, Want::Err(..) | Want::Accept)
    }

    fn show(&self) -> String {
        match self {
            Want::Err(c, _) => (*c).to_string(),
            Want::Close(c) => format!("closing[{c}]"),
            Want::CloseOrDrop(c) => format!("closing[{c}]|close"),
            Want::TcpClosed => "tcp closed".into(),
            Want::Accept => "ok (+1 rev)".into(),
        }
    }
}

/// Where the refusal must be audited.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Audit {
    /// One more `refused` entry in the room's chain.
    Room,
    /// One more `refused` entry in the `server` chain.
    Server,
    /// Refused before it concerns any room: not required.
    No,
}

type Build = Box<dyn Fn(&Ctx, &str) -> Send>;

/// Extra check of a positive case: (context before, room state after, body
/// of the newest stored revision).
type Check = fn(&Ctx, &Value, &str) -> Result<(), String>;

struct Case {
    name: &'static str,
    who: Who,
    want: Want,
    audit: Audit,
    build: Build,
    check: Option<Check>,
}

fn case(name: &'static str, who: Who, want: Want, audit: Audit, build: impl Fn(&Ctx, &str) -> Send + 'static) -> Case {
    Case { name, who, want, audit, build: Box::new(build), check: None }
}

fn positive(name: &'static str, build: impl Fn(&Ctx, &str) -> Send + 'static, check: Check) -> Case {
    Case { name, who: Who::Owner, want: Want::Accept, audit: Audit::No, build: Box::new(build), check: Some(check) }
}

fn section_body(state: &Value, pick: impl Fn(&Value) -> bool) -> Option<&str> {
    state["sections"].as_array()?.iter().find(|s| pick(s))?["body"].as_str()
}

/// The stored text has LF only: no CR, raw or JSON-escaped.
fn lf_only(stored: &str, body: &str, expect_stored: &str, expect_body: &str) -> Result<(), String> {
    if body.contains('\r') || !body.contains(expect_body) {
        let tail: String = body.chars().rev().take(40).collect::<Vec<_>>().into_iter().rev().collect();
        return Err(format!("room text not normalized: ...{tail:?}"));
    }
    if stored.contains('\r') || stored.contains("\\r") || !stored.contains(expect_stored) {
        return Err(format!("stored revision not normalized: {}", stored.chars().take(300).collect::<String>()));
    }
    Ok(())
}

/// A request: `v` plus `"id": id`.
fn rq(id: &str, mut v: Value) -> Send {
    if let Value::Object(m) = &mut v {
        m.insert("id".into(), json!(id));
    }
    Send::Text(v.to_string())
}

/// An edit of the first section at the current revision.
fn edit(c: &Ctx, id: &str, op: Value) -> Send {
    rq(id, json!({"type": "edit", "room": c.room, "section": c.sec(), "base": c.rev, "op": op}))
}

fn object(c: &Ctx, id: &str, text: &str) -> Send {
    rq(id, json!({"type": "object", "room": c.room, "section": c.sec(), "kind": "wording", "text": text}))
}

fn text_frame(bytes: Vec<u8>, fin: bool) -> Message {
    Message::Frame(Frame::message(bytes, OpCode::Data(Data::Text), fin))
}

fn continuation(bytes: Vec<u8>, fin: bool) -> Message {
    Message::Frame(Frame::message(bytes, OpCode::Data(Data::Continue), fin))
}

/// A syntactically valid ping padded with a JSON string to `total` bytes.
fn padded_ping(id: &str, total: usize) -> String {
    let head = format!(r#"{{"id":"{id}","type":"ping","pad":""#);
    let pad = total.saturating_sub(head.len() + 2);
    format!("{head}{}\"}}", "a".repeat(pad))
}

/// `text` split into `n` websocket fragments.
fn fragments(text: &str, n: usize) -> Vec<Message> {
    let bytes = text.as_bytes();
    let step = bytes.len().div_ceil(n);
    let chunks: Vec<&[u8]> = bytes.chunks(step).collect();
    let last = chunks.len() - 1;
    chunks
        .into_iter()
        .enumerate()
        .map(|(i, c)| if i == 0 { text_frame(c.to_vec(), i == last) } else { continuation(c.to_vec(), i == last) })
        .collect()
}

const RANDOM_UUID: &str = "0b7e3a4c-1d2f-4e5a-9b6c-7d8e9f0a1b2c";
const CRLF_TEXT: &str = "\r\nCRLF-A\r\nCRLF-B\rCRLF-C\r\n";
const CRLF_STORED: &str = "\nCRLF-A\nCRLF-B\nCRLF-C\n";

fn catalogue() -> Vec<Case> {
    use Audit::{No, Room, Server};
    use Echo::{Any, Null, Yes};
    use Want::{Close, CloseOrDrop, Err, TcpClosed};
    use Who::{ObserverRole, Outsider, Owner, OwnerFresh, PreHello, Tcp};
    let hello = |v: Value| Send::Text(v.to_string());
    vec![
        // --- Handshake -----------------------------------------------------
        case("hs: request before hello", PreHello, Close("unauthenticated"), No, |_, id| {
            rq(id, json!({"type": "rooms"}))
        }),
        case("hs: unsupported protocol version", PreHello, Close("unsupported_version"), No, move |_, _| {
            hello(json!({"type": "hello", "protocol": 1, "token": "x"}))
        }),
        case("hs: protocol version over u32", PreHello, Close("invalid"), No, move |_, _| {
            hello(json!({"type": "hello", "protocol": 4_294_967_297u64, "token": "x"}))
        }),
        case("hs: bad token", PreHello, Close("unauthenticated"), Server, move |_, _| {
            hello(json!({"type": "hello", "protocol": 2, "token": "not-a-real-token"}))
        }),
        case("hs: hello without token", PreHello, Close("invalid"), No, move |_, _| {
            hello(json!({"type": "hello", "protocol": 2}))
        }),
        case("hs: hello is not JSON", PreHello, Close("malformed"), No, |_, _| Send::Text("hello?".into())),
        case("hs: binary frame before hello", PreHello, Close("malformed"), No, |_, _| {
            Send::Msgs(vec![Message::binary(b"{\"type\":\"hello\"}".to_vec())])
        }),
        case("hs: invalid UTF-8 before hello", PreHello, CloseOrDrop("malformed"), No, |_, _| {
            Send::Msgs(vec![text_frame(b"{\"type\":\"hello\",\"token\":\"\xff\xfe\"}".to_vec(), true)])
        }),
        case("hs: handshake never completed", PreHello, Close("timeout"), No, |_, _| Send::Nothing),
        case("hs: TCP connect, no websocket upgrade", Tcp, TcpClosed, No, |_, _| Send::TcpBytes(Vec::new())),
        case("hs: partial HTTP upgrade (slowloris)", Tcp, TcpClosed, No, |_, _| {
            Send::TcpBytes(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n".to_vec())
        }),
        // --- Not JSON / not an object --------------------------------------
        case("json: truncated", Owner, Err("malformed", Null), No, |_, id| {
            Send::Text(format!(r#"{{"id":"{id}","type":"#))
        }),
        case("json: array", Owner, Err("malformed", Null), No, |_, id| Send::Text(format!(r#"["{id}","ping"]"#))),
        case("json: string", Owner, Err("malformed", Null), No, |_, _| Send::Text(r#""ping""#.into())),
        case("json: number", Owner, Err("malformed", Null), No, |_, _| Send::Text("42".into())),
        case("json: null", Owner, Err("malformed", Null), No, |_, _| Send::Text("null".into())),
        case("json: empty text frame", Owner, Err("malformed", Null), No, |_, _| Send::Text(String::new())),
        case("json: BOM before object", Owner, Err("malformed", Null), No, |_, id| {
            Send::Text(format!("\u{feff}{{\"id\":\"{id}\",\"type\":\"ping\"}}"))
        }),
        case("json: lone surrogate escape", Owner, Err("malformed", Null), No, |c, id| {
            Send::Text(format!(
                r#"{{"id":"{id}","type":"object","room":"{}","section":"{}","kind":"wording","text":"\ud800"}}"#,
                c.room,
                c.sec()
            ))
        }),
        case("json: nesting bomb (10k levels)", Owner, Err("malformed", Null), No, |_, id| {
            Send::Text(format!(r#"{{"id":"{id}","type":"ping","x":{}{}}}"#, "[".repeat(10_000), "]".repeat(10_000)))
        }),
        case("json: huge number literal (5000 digits)", Owner, Err("malformed", Null), No, |c, id| {
            Send::Text(format!(r#"{{"id":"{id}","type":"join","room":"{}","since":{}}}"#, c.room, "9".repeat(5_000)))
        }),
        case("json: duplicate keys", Owner, Err("invalid", Any), No, |_, id| {
            Send::Text(format!(r#"{{"id":"{id}","type":"ping","type":"rooms"}}"#))
        }),
        // --- Envelope: id and type -----------------------------------------
        case("id: missing", Owner, Err("invalid", Null), No, |_, _| Send::Text(r#"{"type":"ping"}"#.into())),
        case("id: number", Owner, Err("invalid", Null), No, |_, _| Send::Text(r#"{"id":7,"type":"ping"}"#.into())),
        case("id: empty", Owner, Err("invalid", Null), No, |_, _| Send::Text(r#"{"id":"","type":"ping"}"#.into())),
        case("id: 65 bytes", Owner, Err("invalid", Null), No, |_, _| {
            Send::Text(json!({"id": "i".repeat(65), "type": "ping"}).to_string())
        }),
        case("type: unknown", Owner, Err("unknown_type", Yes), No, |_, id| rq(id, json!({"type": "drop_table"}))),
        case("type: unknown, 10k chars", Owner, Err("unknown_type", Yes), No, |_, id| {
            rq(id, json!({"type": "x".repeat(10_000)}))
        }),
        case("type: missing", Owner, Err("invalid", Yes), No, |c, id| rq(id, json!({"room": c.room}))),
        case("type: number", Owner, Err("invalid", Yes), No, |_, id| rq(id, json!({"type": 3}))),
        case("type: hello again after welcome", Owner, Err("invalid", Yes), No, |_, id| {
            rq(id, json!({"type": "hello", "protocol": 2, "token": "x"}))
        }),
        // --- Wrong field types ---------------------------------------------
        case("field: room as number", Owner, Err("invalid", Yes), No, |_, id| {
            rq(id, json!({"type": "join", "room": 5}))
        }),
        case("field: room not a uuid", Owner, Err("invalid", Yes), No, |_, id| {
            rq(id, json!({"type": "join", "room": "../../etc/passwd"}))
        }),
        case("field: base as string", Owner, Err("invalid", Yes), No, |c, id| {
            rq(id, json!({"type": "edit", "room": c.room, "section": c.sec(), "base": "7", "op": [c.len()]}))
        }),
        case("field: base negative", Owner, Err("invalid", Yes), No, |c, id| {
            rq(id, json!({"type": "edit", "room": c.room, "section": c.sec(), "base": -1, "op": [c.len()]}))
        }),
        case("field: op as object", Owner, Err("invalid", Yes), No, |c, id| edit(c, id, json!({"retain": 3}))),
        case("field: op null", Owner, Err("invalid", Yes), No, |c, id| edit(c, id, Value::Null)),
        case("field: op component float", Owner, Err("invalid", Yes), No, |c, id| edit(c, id, json!([1.5]))),
        case("field: op component bool", Owner, Err("invalid", Yes), No, |c, id| edit(c, id, json!([true]))),
        case("field: op count above i64", Owner, Err("invalid", Yes), No, |c, id| edit(c, id, json!([u64::MAX]))),
        case("field: op missing", Owner, Err("invalid", Yes), No, |c, id| {
            rq(id, json!({"type": "edit", "room": c.room, "section": c.sec(), "base": c.rev}))
        }),
        case("field: since above u64", Owner, Err("invalid", Yes), No, |c, id| {
            Send::Text(format!(r#"{{"id":"{id}","type":"join","room":"{}","since":99999999999999999999}}"#, c.room))
        }),
        case("field: cursor pos negative", Owner, Err("invalid", Yes), No, |c, id| {
            rq(id, json!({"type": "cursor", "room": c.room, "section": c.sec(), "pos": -1}))
        }),
        case("field: unknown objection kind", Owner, Err("invalid", Yes), No, |c, id| {
            rq(id, json!({"type": "object", "room": c.room, "section": c.sec(), "kind": "sabotage", "text": "x"}))
        }),
        case("field: unknown objection status", Owner, Err("invalid", Yes), No, |c, id| {
            rq(
                id,
                json!({"type": "set_objection_status", "room": c.room, "objection": c.open_objection, "status": "deleted"}),
            )
        }),
        case("field: unknown release lane", Owner, Err("invalid", Yes), No, |c, id| {
            rq(id, json!({"type": "release", "room": c.room, "lane": "everyone"}))
        }),
        // --- Unknown ids ---------------------------------------------------
        case("id: unknown room", Owner, Err("not_found", Yes), Server, |_, id| {
            rq(id, json!({"type": "join", "room": RANDOM_UUID}))
        }),
        case("id: room of which sender is not a member", Outsider, Err("not_found", Yes), Room, |c, id| {
            rq(id, json!({"type": "join", "room": c.room}))
        }),
        case("id: unknown section (edit)", Owner, Err("not_found", Yes), Room, |c, id| {
            rq(id, json!({"type": "edit", "room": c.room, "section": RANDOM_UUID, "base": c.rev, "op": ["x"]}))
        }),
        case("id: unknown objection (reply)", Owner, Err("not_found", Yes), Room, |c, id| {
            rq(id, json!({"type": "reply", "room": c.room, "objection": RANDOM_UUID, "text": "hi"}))
        }),
        case("id: unknown annex (view_annex)", Owner, Err("not_found", Yes), Room, |c, id| {
            rq(id, json!({"type": "view_annex", "room": c.room, "annex": RANDOM_UUID}))
        }),
        case("id: unknown `after` section", Owner, Err("not_found", Yes), Room, |c, id| {
            rq(id, json!({"type": "add_section", "room": c.room, "title": "Hostile after", "after": RANDOM_UUID}))
        }),
        case("id: unknown section (cursor)", Owner, Err("not_found", Yes), Room, |c, id| {
            rq(id, json!({"type": "cursor", "room": c.room, "section": RANDOM_UUID, "pos": 0}))
        }),
        case("id: leave a room never joined", OwnerFresh, Err("not_found", Yes), No, |c, id| {
            rq(id, json!({"type": "leave", "room": c.room}))
        }),
        case("id: objection statement index usize::MAX", Owner, Err("invalid", Yes), Room, |c, id| {
            rq(
                id,
                json!({"type": "object", "room": c.room, "section": c.sec(), "kind": "wording", "text": "x", "statement": u64::MAX}),
            )
        }),
        // --- Revisions and operations --------------------------------------
        case("op: base revision from the future", Owner, Err("stale", Yes), Room, |c, id| {
            rq(
                id,
                json!({"type": "edit", "room": c.room, "section": c.sec(), "base": c.rev + 1_000, "op": [c.len(), "x"]}),
            )
        }),
        case("op: base revision u64::MAX", Owner, Err("stale", Yes), Room, |c, id| {
            rq(id, json!({"type": "edit", "room": c.room, "section": c.sec(), "base": u64::MAX, "op": [c.len(), "x"]}))
        }),
        case("op: shorter than the section", Owner, Err("invalid", Yes), Room, |c, id| {
            edit(c, id, json!([c.len() - 1, "x"]))
        }),
        case("op: longer than the section", Owner, Err("invalid", Yes), Room, |c, id| {
            edit(c, id, json!([c.len() + 5, "x"]))
        }),
        case("op: empty on a non-empty section", Owner, Err("invalid", Yes), Room, |c, id| edit(c, id, json!([]))),
        case("op: zero-length component", Owner, Err("invalid", Yes), Room, |c, id| {
            edit(c, id, json!([0, c.len(), "x"]))
        }),
        case("op: i64::MIN delete", Owner, Err("too_large", Yes), Room, |c, id| edit(c, id, json!([i64::MIN]))),
        case("op: i64::MAX retain", Owner, Err("too_large", Yes), Room, |c, id| {
            edit(c, id, json!([i64::MAX, i64::MAX, "x"]))
        }),
        case("op: empty insert string", Owner, Err("invalid", Yes), Room, |c, id| edit(c, id, json!([c.len(), ""]))),
        case("op: too many components", Owner, Err("too_large", Yes), Room, |c, id| {
            edit(c, id, Value::Array(vec![json!(1); MAX_COMPONENTS + 1]))
        }),
        case("op: insert grows section over limit", Owner, Err("too_large", Yes), Room, |c, id| {
            edit(c, id, json!([c.len(), "x".repeat(MAX_SECTION)]))
        }),
        case("op: insert with BEL control char", Owner, Err("invalid", Yes), Room, |c, id| {
            edit(c, id, json!([c.len(), "ding\u{7}"]))
        }),
        case("op: insert with NUL", Owner, Err("invalid", Yes), Room, |c, id| edit(c, id, json!([c.len(), "a\u{0}b"]))),
        // --- Frames --------------------------------------------------------
        case("frame: over max_frame_bytes", Owner, Err("too_large", Null), No, |_, id| {
            Send::Text(padded_ping(id, MAX_FRAME + 1))
        }),
        case("frame: fragmented message over max_frame_bytes", Owner, Err("too_large", Null), No, |_, id| {
            Send::Msgs(fragments(&padded_ping(id, MAX_FRAME + 1024), 5))
        }),
        case("frame: binary", Owner, Err("malformed", Null), No, |_, id| {
            Send::Msgs(vec![Message::binary(format!(r#"{{"id":"{id}","type":"ping"}}"#).into_bytes())])
        }),
        case("frame: over the hard limit", OwnerFresh, CloseOrDrop("too_large"), No, |_, id| {
            Send::Text(padded_ping(id, HARD_FRAME + 1))
        }),
        case("frame: fragments summing over the hard limit", OwnerFresh, CloseOrDrop("too_large"), No, |_, id| {
            Send::Msgs(fragments(&padded_ping(id, HARD_FRAME + 16 * 1024), 20))
        }),
        case("frame: invalid UTF-8 in a text frame", OwnerFresh, CloseOrDrop("malformed"), No, |_, id| {
            let mut bytes = format!(r#"{{"id":"{id}","type":"ping","x":""#).into_bytes();
            bytes.extend_from_slice(b"\xc3\x28\xed\xa0\x80\"}");
            Send::Msgs(vec![text_frame(bytes, true)])
        }),
        case("frame: reserved opcode", OwnerFresh, CloseOrDrop("malformed"), No, |_, id| {
            let body = format!(r#"{{"id":"{id}","type":"ping"}}"#).into_bytes();
            Send::Msgs(vec![Message::Frame(Frame::message(body, OpCode::Data(Data::Reserved(3)), true))])
        }),
        case("frame: continuation without a start", OwnerFresh, CloseOrDrop("malformed"), No, |_, id| {
            Send::Msgs(vec![continuation(format!(r#"{{"id":"{id}","type":"ping"}}"#).into_bytes(), true)])
        }),
        // --- Objections and free text --------------------------------------
        case("text: objection with ANSI escape", Owner, Err("invalid", Yes), Room, |c, id| {
            object(c, id, "looks fine \u{1b}[2J\u{1b}[H")
        }),
        case("text: objection with NUL", Owner, Err("invalid", Yes), Room, |c, id| object(c, id, "a\u{0}b")),
        case("text: objection over max_text_chars", Owner, Err("too_large", Yes), Room, |c, id| {
            object(c, id, &"é".repeat(MAX_TEXT + 1))
        }),
        case("text: objection whitespace only", Owner, Err("invalid", Yes), Room, |c, id| object(c, id, " \n\t ")),
        case("text: reply with control chars", Owner, Err("invalid", Yes), Room, |c, id| {
            rq(id, json!({"type": "reply", "room": c.room, "objection": c.open_objection, "text": "ok\u{8}\u{8}"}))
        }),
        case("text: quote not in the section", Owner, Err("invalid", Yes), Room, |c, id| {
            rq(
                id,
                json!({"type": "object", "room": c.room, "section": c.sec(), "kind": "wording", "text": "x",
                "quote": "this sentence is nowhere in the packet"}),
            )
        }),
        case("status: accepted-residual without rationale", Owner, Err("invalid", Yes), Room, |c, id| {
            rq(
                id,
                json!({"type": "set_objection_status", "room": c.room, "objection": c.open_objection,
                "status": "accepted-residual"}),
            )
        }),
        case("status: accepted-residual, blank rationale", Owner, Err("invalid", Yes), Room, |c, id| {
            rq(
                id,
                json!({"type": "set_objection_status", "room": c.room, "objection": c.open_objection,
                "status": "accepted-residual", "rationale": "   "}),
            )
        }),
        case("status: change on a closed objection", Owner, Err("conflict", Yes), Room, |c, id| {
            rq(
                id,
                json!({"type": "set_objection_status", "room": c.room, "objection": c.closed_objection,
                "status": "addressed"}),
            )
        }),
        case("status: back to open", Owner, Err("invalid", Yes), Room, |c, id| {
            rq(
                id,
                json!({"type": "set_objection_status", "room": c.room, "objection": c.closed_objection,
                "status": "open"}),
            )
        }),
        // --- Sections, cursors, release ------------------------------------
        case("section: title over 200 chars", Owner, Err("too_large", Yes), Room, |c, id| {
            rq(id, json!({"type": "add_section", "room": c.room, "title": "t".repeat(201)}))
        }),
        case("section: title with control chars", Owner, Err("invalid", Yes), Room, |c, id| {
            rq(id, json!({"type": "add_section", "room": c.room, "title": "Evil\u{1b}]0;pwned\u{7}"}))
        }),
        case("section: duplicate title", Owner, Err("conflict", Yes), Room, |c, id| {
            rq(id, json!({"type": "add_section", "room": c.room, "title": c.secs[1].1}))
        }),
        case("section: body over max_section_chars", Owner, Err("too_large", Yes), Room, |c, id| {
            rq(id, json!({"type": "add_section", "room": c.room, "title": "Big", "body": "b".repeat(MAX_SECTION + 1)}))
        }),
        case("cursor: beyond the section end", Owner, Err("invalid", Yes), Room, |c, id| {
            rq(id, json!({"type": "cursor", "room": c.room, "section": c.sec(), "pos": c.len() + 1}))
        }),
        case("cursor: anchor beyond the section end", Owner, Err("invalid", Yes), Room, |c, id| {
            rq(id, json!({"type": "cursor", "room": c.room, "section": c.sec(), "pos": 0, "anchor": usize::MAX}))
        }),
        case("authz: observer edits", ObserverRole, Err("forbidden", Yes), Room, |c, id| {
            edit(c, id, json!([c.len(), "x"]))
        }),
        case("release: before marked ready", Owner, Err("conflict", Yes), Room, |c, id| {
            rq(id, json!({"type": "release", "room": c.room, "lane": "privacy"}))
        }),
        case("release: hold with empty reason", Owner, Err("invalid", Yes), Room, |c, id| {
            rq(id, json!({"type": "hold", "room": c.room, "reason": ""}))
        }),
        // --- Positive controls: CRLF is normalized at the boundary ---------
        positive(
            "positive: CRLF/CR in a new section body -> LF",
            |c, id| {
                rq(
                    id,
                    json!({"type": "add_section", "room": c.room, "title": "CRLF control", "body": format!("top{CRLF_TEXT}")}),
                )
            },
            |_, state, stored| {
                let body = section_body(state, |s| s["title"] == "CRLF control")
                    .ok_or_else(|| "section not added".to_string())?;
                lf_only(stored, body, "CRLF-A\\nCRLF-B\\nCRLF-C", &format!("top{CRLF_STORED}"))
            },
        ),
        positive(
            "positive: CRLF/CR in an edit insert -> LF",
            |c, id| edit(c, id, json!([c.len(), CRLF_TEXT])),
            |c, state, stored| {
                let body = section_body(state, |s| s["id"] == c.sec()).ok_or_else(|| "section gone".to_string())?;
                if !body.ends_with(CRLF_STORED) {
                    return Result::Err(format!(
                        "insert not at the end of the section: {:?}",
                        body.chars().rev().take(30).collect::<String>()
                    ));
                }
                lf_only(stored, body, "CRLF-A\\nCRLF-B\\nCRLF-C", CRLF_STORED)
            },
        ),
    ]
}

// ---------------------------------------------------------------------------
// Running one case
// ---------------------------------------------------------------------------

struct Row {
    name: &'static str,
    want: String,
    usable: bool,
    got: String,
    ms: u128,
    problems: Vec<String>,
}

/// Sends the case on a fresh or the shared connection and reads the answer.
/// Returns what came back and the connection (if still around).
async fn deliver(
    env: &Env,
    case: &Case,
    send: Send,
    shared: &mut Option<Ws>,
) -> anyhow::Result<(Got, usize, Option<Ws>, Duration)> {
    if case.who == Who::Tcp {
        let Send::TcpBytes(bytes) = send else { anyhow::bail!("tcp case needs bytes") };
        let mut tcp = TcpStream::connect(env.addr).await?;
        let started = Instant::now();
        if !bytes.is_empty() {
            tcp.write_all(&bytes).await?;
        }
        let deadline = tokio::time::Instant::now() + HANDSHAKE * 3 + Duration::from_millis(700);
        let mut buf = [0u8; 1024];
        let got = loop {
            match tokio::time::timeout_at(deadline, tcp.read(&mut buf)).await {
                Err(_) => break Got::Silent,
                Ok(Ok(0)) | Ok(Err(_)) => break Got::Dropped("tcp closed".into()),
                Ok(Ok(_)) => continue, // e.g. an HTTP error response; wait for the close
            }
        };
        return Ok((got, 0, None, started.elapsed()));
    }
    let mut ws = match case.who {
        Who::Owner => match shared.take() {
            Some(ws) => ws,
            None => login(&env.url, &env.owner_token).await?,
        },
        Who::OwnerFresh => login(&env.url, &env.owner_token).await?,
        Who::ObserverRole => login(&env.url, &env.observer_token).await?,
        Who::Outsider => login(&env.url, &env.outsider_token).await?,
        Who::PreHello => connect(&env.url).await?,
        Who::Tcp => anyhow::bail!("handled above"),
    };
    let started = Instant::now();
    let mut send_error = None;
    match send {
        Send::Text(t) => {
            if let Err(e) = ws.send(Message::text(t)).await {
                send_error = Some(e.to_string());
            }
        }
        Send::Msgs(msgs) => {
            for m in msgs {
                if let Err(e) = ws.send(m).await {
                    // The server may legitimately hang up mid-message.
                    send_error = Some(e.to_string());
                    break;
                }
            }
        }
        Send::Nothing => {}
        Send::TcpBytes(_) => anyhow::bail!("tcp bytes on a websocket case"),
    }
    let (got, events) = answer(&mut ws, ANSWER_WAIT).await;
    let got = match (got, send_error) {
        (Got::Silent, Some(e)) => Got::Dropped(format!("send failed: {e}")),
        (g, _) => g,
    };
    Ok((got, events, Some(ws), started.elapsed()))
}

fn code_matches(want: Want, got: &Got, id: &str) -> bool {
    match (want, got) {
        (Want::Err(code, echo), Got::Error { id: got_id, code: c, .. }) => {
            c == code
                && match echo {
                    Echo::Yes => got_id.as_deref() == Some(id),
                    Echo::Null => got_id.is_none(),
                    Echo::Any => got_id.is_none() || got_id.as_deref() == Some(id),
                }
        }
        (Want::Close(code) | Want::CloseOrDrop(code), Got::Closing { code: c }) => c == code,
        (Want::CloseOrDrop(_), Got::Dropped(_)) => true,
        (Want::TcpClosed, Got::Dropped(_)) => true,
        (Want::Accept, Got::Ok) => true,
        _ => false,
    }
}

async fn run_case(
    env: &Env,
    observer: &mut Observer,
    shared: &mut Option<Ws>,
    n: usize,
    case: &Case,
) -> anyhow::Result<Row> {
    let mut problems = Vec::new();
    let before = observer.look().await?;
    if before.events > 0 {
        problems.push(format!("observer saw {} event(s) before the case", before.events));
    }
    let counts_before = env.counts().await?;
    let ctx = Ctx::from_state(&env.room, &before.state)?;
    let id = format!("c{n}");
    let send = (case.build)(&ctx, &id);

    let (got, own_events, ws, elapsed) = deliver(env, case, send, shared).await?;
    if !code_matches(case.want, &got, &id) {
        problems.push(format!("expected {} but got {} {}", case.want.show(), got.show(), got.detail()));
    }
    if case.name == "hs: handshake never completed"
        && (elapsed < HANDSHAKE.saturating_sub(Duration::from_millis(50))
            || elapsed > HANDSHAKE + Duration::from_secs(1))
    {
        problems.push(format!("timeout after {elapsed:?}, configured {HANDSHAKE:?}"));
    }
    if own_events > 0 && !matches!(case.want, Want::Accept) {
        problems.push(format!("sender received {own_events} event(s)"));
    }

    // The connection afterwards: usable, or closed.
    if let Some(mut ws) = ws {
        if case.want.usable() {
            let member = case.who != Who::Outsider;
            match check_usable(&mut ws, n, &env.room, member).await {
                Ok(()) => {
                    if case.who == Who::Owner {
                        *shared = Some(ws);
                    }
                }
                Err(e) => problems.push(format!("connection not usable afterwards: {e}")),
            }
        } else if matches!(got, Got::Closing { .. }) {
            if let Err(e) = check_closed(&mut ws).await {
                problems.push(e);
            }
        } else if case.who == Who::Owner && !matches!(got, Got::Dropped(_)) {
            *shared = Some(ws);
        }
    }

    // Room state, storage and audit.
    let after = observer.look().await?;
    let counts_after = env.counts().await?;
    if matches!(case.want, Want::Accept) {
        if after.revision != before.revision + 1 || counts_after.revisions != counts_before.revisions + 1 {
            problems.push(format!(
                "positive case: revision {} -> {}, stored revisions {} -> {}",
                before.revision, after.revision, counts_before.revisions, counts_after.revisions
            ));
        }
        if after.events != 1 {
            problems.push(format!("observer saw {} event(s), expected 1", after.events));
        }
        if let Some(check) = case.check {
            let stored = env.last_revision_body().await?;
            if let Err(e) = check(&ctx, &after.state, &stored) {
                problems.push(e);
            }
        }
    } else {
        if after.revision != before.revision || after.content_hash != before.content_hash {
            problems.push(format!(
                "room changed: revision {} -> {}, content hash {} -> {}",
                before.revision, after.revision, before.content_hash, after.content_hash
            ));
        }
        if after.events > 0 {
            problems.push(format!("observer saw {} event(s)", after.events));
        }
        if counts_after.revisions != counts_before.revisions || counts_after.snapshots != counts_before.snapshots {
            problems.push(format!(
                "something was stored: revisions {} -> {}, snapshots {} -> {}",
                counts_before.revisions, counts_after.revisions, counts_before.snapshots, counts_after.snapshots
            ));
        }
    }
    match case.audit {
        Audit::Room if counts_after.room_refused != counts_before.room_refused + 1 => problems.push(format!(
            "room audit `refused` entries {} -> {} (expected +1)",
            counts_before.room_refused, counts_after.room_refused
        )),
        Audit::Server if counts_after.server_refused != counts_before.server_refused + 1 => problems.push(format!(
            "server audit `refused` entries {} -> {} (expected +1)",
            counts_before.server_refused, counts_after.server_refused
        )),
        _ => {}
    }
    Ok(Row {
        name: case.name,
        want: case.want.show(),
        usable: case.want.usable(),
        got: got.show(),
        ms: elapsed.as_millis(),
        problems,
    })
}

// ---------------------------------------------------------------------------
// The test
// ---------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_input_catalogue() -> anyhow::Result<()> {
    let started = Instant::now();
    let env = start_server().await?;

    let mut observer = Observer { ws: login(&env.url, &env.observer_token).await?, n: 0, room: env.room.clone() };
    let mut shared = Some(login(&env.url, &env.owner_token).await?);
    // The long-lived hostile connection is joined, like a real editor.
    if let Some(ws) = shared.as_mut() {
        ws.send(Message::text(json!({"id": "join", "type": "join", "room": env.room}).to_string())).await?;
        let (got, _) = answer(ws, ANSWER_WAIT).await;
        anyhow::ensure!(matches!(got, Got::Ok), "owner cannot join: {got:?}");
    }
    let initial = observer.look().await?;
    let counts_initial = env.counts().await?;

    let cases = catalogue();
    let mut rows = Vec::new();
    for (n, case) in cases.iter().enumerate() {
        let row = run_case(&env, &mut observer, &mut shared, n + 1, case).await?;
        rows.push(row);
    }

    // The server is alive and well after all of it.
    let mut last = login(&env.url, &env.owner_token).await?;
    check_usable(&mut last, 0, &env.room, true).await.map_err(|e| anyhow::anyhow!("server unwell at the end: {e}"))?;
    let end = observer.look().await?;
    let counts_end = env.counts().await?;

    let mut table = String::new();
    let _ = writeln!(
        table,
        "\n{:<3} {:<48} {:<26} {:<6} {:<28} {:>6}  result",
        "#", "case", "expected", "usable", "actual", "ms"
    );
    for (i, r) in rows.iter().enumerate() {
        let verdict = if r.problems.is_empty() { "ok".to_string() } else { format!("FAIL: {}", r.problems.join("; ")) };
        let _ = writeln!(
            table,
            "{:<3} {:<48} {:<26} {:<6} {:<28} {:>6}  {verdict}",
            i + 1,
            r.name,
            r.want,
            if r.usable { "yes" } else { "no" },
            r.got,
            r.ms
        );
    }
    let failed: Vec<&Row> = rows.iter().filter(|r| !r.problems.is_empty()).collect();
    let _ = writeln!(
        table,
        "\n{} cases, {} failed; room revision {} -> {}, stored revisions {} -> {}, room refusals audited {} -> {}, server refusals {} -> {}; {:.1?}",
        rows.len(),
        failed.len(),
        initial.revision,
        end.revision,
        counts_initial.revisions,
        counts_end.revisions,
        counts_initial.room_refused,
        counts_end.room_refused,
        counts_initial.server_refused,
        counts_end.server_refused,
        started.elapsed()
    );
    println!("{table}");

    drop(observer);
    drop(shared);
    drop(last);
    env.stop().await?;

    assert!(rows.len() >= 30, "the catalogue must hold at least 30 hostile inputs, has {}", rows.len());
    assert!(
        failed.is_empty(),
        "{} hostile case(s) failed:\n{}",
        failed.len(),
        failed.iter().map(|r| format!("  - {}: {}", r.name, r.problems.join("; "))).collect::<Vec<_>>().join("\n")
    );
    // The positive controls are the only accepted changes of the whole run.
    let accepted = cases.iter().filter(|c| matches!(c.want, Want::Accept)).count() as u64;
    assert_eq!(end.revision, initial.revision + accepted, "only the positive controls may change the room");
    assert_eq!(
        counts_end.revisions,
        counts_initial.revisions + accepted as i64,
        "only the positive controls may be stored"
    );
    Ok(())
}

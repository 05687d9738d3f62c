//! One websocket connection: handshake, then a reader loop that parses
//! requests and routes them, and a writer task that drains the bounded
//! outbox to the socket.

use std::collections::HashSet;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use futures_util::{Sink, SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::sync::{oneshot, watch};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use trustroom_shared::protocol::{
    ErrorCode, PROTOCOL_VERSION, Request, RoomSummary, RoomsResult, ServerFrame, parse_hello, parse_request,
};
use trustroom_shared::{ClientId, RoomId, UserId};

use crate::auth::token_hash;
use crate::hub::{Hub, Located, room_not_found};
use crate::limits::{Admission, ConnectionLimits, TokenBucket};
use crate::metrics::METRICS;
use crate::outbox::{CloseSignal, ConnInfo, Frame, Outbox, Outgoing, encode};
use crate::room::{Answer, Refusal, RoomCmd};

static NEXT_CONN: AtomicU64 = AtomicU64::new(1);

/// Connection-level refusals audited one by one per connection; beyond
/// this a single summary entry is written when the connection ends, so a
/// hostile client cannot flood the audit log.
const AUDITED_REFUSALS_PER_CONNECTION: u64 = 20;

/// How long a closing connection may take to flush its last frames and
/// its `closing` frame before the socket is dropped.
const CLOSE_GRACE: Duration = Duration::from_secs(2);

/// Bytes read from a socket at a time. tungstenite's default (128 KiB) is
/// zero-filled up front, which made every idle connection cost 128 KiB of
/// resident memory; requests are small, and a large one is simply read in
/// more chunks.
const READ_BUFFER_BYTES: usize = 8 * 1024;

/// The websocket settings for a server configuration.
pub fn ws_config(hard_frame_bytes: usize) -> WebSocketConfig {
    WebSocketConfig::default()
        .max_message_size(Some(hard_frame_bytes))
        .max_frame_size(Some(hard_frame_bytes))
        .read_buffer_size(READ_BUFFER_BYTES)
}

fn error_frame(id: Option<String>, code: ErrorCode, message: impl Into<String>) -> Frame {
    encode(&ServerFrame::Error { id, code, message: message.into() })
}

/// The `moved` answer: an `error` frame with the owning node's URL in
/// `url` (docs/protocol.md §8, docs/cluster.md).
fn moved_frame(id: String, message: String, url: String) -> Frame {
    #[derive(serde::Serialize)]
    struct Moved {
        r#type: &'static str,
        id: String,
        code: ErrorCode,
        message: String,
        url: String,
    }
    let frame = Moved { r#type: "error", id, code: ErrorCode::Moved, message, url };
    Frame::from(serde_json::to_string(&frame).unwrap_or_default())
}

/// Audits refusals that happen outside any room, capped per connection.
struct RefusalLog {
    hub: Arc<Hub>,
    peer: SocketAddr,
    user: Option<UserId>,
    count: u64,
}

impl RefusalLog {
    /// Records a malformed-frame style refusal (capped per connection).
    async fn record(&mut self, what: &str, refusal: &Refusal) {
        self.count += 1;
        if self.count <= AUDITED_REFUSALS_PER_CONNECTION {
            self.hub.audit_refusal(self.user, what, refusal, json!({"peer": self.peer.ip().to_string()})).await;
        }
    }

    /// Records a refusal that is always worth an entry of its own (probing
    /// for rooms), whatever the cap.
    async fn record_always(&self, what: &str, refusal: &Refusal, room: RoomId) {
        let detail = json!({"peer": self.peer.ip().to_string(), "room": room.to_string()});
        self.hub.audit_refusal(self.user, what, refusal, detail).await;
    }

    async fn finish(self) {
        if self.count > AUDITED_REFUSALS_PER_CONNECTION {
            let more = self.count - AUDITED_REFUSALS_PER_CONNECTION;
            let refusal = (ErrorCode::Invalid, format!("{more} further refused frames on this connection"));
            self.hub
                .audit_refusal(
                    self.user,
                    "frames",
                    &refusal,
                    json!({"peer": self.peer.ip().to_string(), "count": more}),
                )
                .await;
        }
    }
}

/// Serves one accepted stream until it closes or the server shuts down.
/// `admission` is what the per-IP connection limit decided at accept.
pub async fn serve_connection<S>(
    stream: S,
    peer: SocketAddr,
    hub: Arc<Hub>,
    limits: Arc<ConnectionLimits>,
    admission: Admission,
    mut shutdown: watch::Receiver<bool>,
) where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let config = hub.config().clone();
    // One deadline covers the websocket upgrade and the `hello`, so a
    // client that never finishes either cannot hold a connection open.
    let deadline = tokio::time::Instant::now() + config.handshake_timeout;
    let upgrade = tokio_tungstenite::accept_async_with_config(stream, Some(ws_config(config.hard_frame_bytes)));
    let ws = match tokio::time::timeout_at(deadline, upgrade).await {
        Ok(Ok(ws)) => ws,
        Ok(Err(e)) => {
            tracing::debug!(%peer, "websocket upgrade failed: {e}");
            return;
        }
        Err(_) => {
            tracing::debug!(%peer, "websocket upgrade not completed within the handshake timeout");
            return;
        }
    };
    let (sink, mut stream) = ws.split();
    let (out, out_rx, close) = Outbox::new(config.outbox_frames);
    let (writer_done_tx, mut writer_done) = oneshot::channel::<()>();
    let (ping_every, write_timeout) = (config.ping_interval, config.idle_timeout);
    let mut writer = tokio::spawn(async move {
        write_loop(sink, out_rx, close, ping_every, write_timeout).await;
        drop(writer_done_tx);
    });

    let _ip_slot = match admission {
        Admission::Admitted(slot) => slot,
        Admission::Refused { slot: _slot, over } => {
            tracing::warn!(%peer, open = over.open, limit = over.limit, "connection refused: too many from this address");
            let reason = format!(
                "too many connections from your address ({} open, limit {}); close one and retry",
                over.open, over.limit
            );
            out.close_after_queued(ErrorCode::RateLimited, reason).await;
            drop(out);
            finish_writer(&mut writer).await;
            linger(&mut stream).await;
            return;
        }
    };
    let mut refusals = RefusalLog { hub: hub.clone(), peer, user: None, count: 0 };

    // Handshake: a valid `hello` before the deadline.
    let first = tokio::time::timeout_at(deadline, async {
        loop {
            match stream.next().await {
                Some(Ok(Message::Text(t))) => return Some(Ok(t.to_string())),
                Some(Ok(Message::Binary(_))) => return Some(Err("binary frames are not supported".to_string())),
                Some(Ok(Message::Close(_))) | None => return None,
                Some(Err(e)) => return Some(Err(format!("websocket protocol error: {e}"))),
                Some(Ok(_)) => continue,
            }
        }
    })
    .await;
    let hello = match first {
        Err(_) => Err((ErrorCode::Timeout, "no hello within the handshake timeout".to_string())),
        Ok(None) => {
            drop(out);
            finish_writer(&mut writer).await;
            return;
        }
        Ok(Some(Err(msg))) => Err((ErrorCode::Malformed, msg)),
        Ok(Some(Ok(text))) => parse_hello(&text).and_then(|h| {
            if h.protocol == PROTOCOL_VERSION {
                Ok(h)
            } else {
                Err((
                    ErrorCode::UnsupportedVersion,
                    format!("protocol version {} is not supported; this server speaks {PROTOCOL_VERSION}", h.protocol),
                ))
            }
        }),
    };
    // The token is checked only after a valid `hello`. Refusals are
    // audited; a storage failure is not the client's doing and is not.
    let accepted = match hello {
        Err(refusal) => Err((refusal, true)),
        Ok(hello) => match hub.store().user_by_token_hash(&token_hash(&hello.token)).await {
            Ok(Some(user)) => Ok((hello, user)),
            Ok(None) => Err(((ErrorCode::Unauthenticated, "unknown or revoked token".to_string()), true)),
            Err(e) => Err(((ErrorCode::Unavailable, format!("cannot check the token: {e}")), false)),
        },
    };
    let (hello, user) = match accepted {
        Ok(accepted) => accepted,
        Err((refusal, audited)) => {
            if audited {
                refusals.record("hello", &refusal).await;
            }
            out.close_after_queued(refusal.0, refusal.1).await;
            drop(out);
            finish_writer(&mut writer).await;
            linger(&mut stream).await;
            return;
        }
    };
    refusals.user = Some(user.id);
    let _user_slot = match limits.user_slot(user.id) {
        Ok(slot) => slot,
        Err(over) => {
            let refusal = (
                ErrorCode::RateLimited,
                format!(
                    "too many open connections for {} ({} open, limit {}); close one and retry",
                    user.name, over.open, over.limit
                ),
            );
            tracing::warn!(%peer, user = %user.name, "{}", refusal.1);
            refusals.record("hello", &refusal).await;
            out.close_after_queued(refusal.0, refusal.1).await;
            drop(out);
            finish_writer(&mut writer).await;
            linger(&mut stream).await;
            return;
        }
    };
    // Client ids are bound to the authenticated user (ClientId::bound): a
    // member who claims another member's client id gets a different one,
    // so resends can never be answered for someone else.
    let client = ClientId::bound(user.id, hello.client.unwrap_or_default());
    let conn_id = NEXT_CONN.fetch_add(1, Ordering::Relaxed);
    let info = ConnInfo { conn_id, user: user.id, client, out: out.clone() };
    hub.register_connection(conn_id, user.id, out.clone());
    METRICS.connection(1);
    let welcome = ServerFrame::Welcome {
        protocol: PROTOCOL_VERSION,
        user: user.id,
        name: user.name.clone(),
        client,
        server: format!("trustroom/{}", env!("CARGO_PKG_VERSION")),
    };
    out.frame(encode(&welcome)).await;
    tracing::debug!(%peer, user = %user.name, conn = conn_id, "connected");

    let mut joined: HashSet<RoomId> = HashSet::new();
    let mut bucket = TokenBucket::new(config.requests_per_second, config.request_burst, tokio::time::Instant::now());
    let mut last_seen = tokio::time::Instant::now();
    let mut writer_gone = false;
    // Set when the server ends the connection: it then waits (briefly) for
    // the client's Close before dropping the socket, as RFC 6455 asks, so
    // unread requests do not turn the close into a reset that would
    // discard the `closing` frame and the last events on the client side.
    let mut we_closed = false;
    loop {
        let idle_deadline = last_seen + config.idle_timeout;
        let msg = tokio::select! {
            m = stream.next() => m,
            _ = shutdown.changed() => {
                out.close_after_queued(ErrorCode::Unavailable, "the server is shutting down; reconnect later".into()).await;
                we_closed = true;
                break;
            }
            _ = tokio::time::sleep_until(idle_deadline) => {
                let secs = config.idle_timeout.as_secs_f64();
                tracing::debug!(%peer, conn = conn_id, "idle timeout");
                out.close_now(
                    ErrorCode::Timeout,
                    format!("nothing received for {secs:.0} s (no answer to our pings); reconnect"),
                );
                we_closed = true;
                break;
            }
            _ = &mut writer_done, if !writer_gone => {
                // The writer ended (closed on purpose, stalled, or the
                // socket failed): this connection is over.
                writer_gone = true;
                we_closed = true;
                break;
            }
        };
        last_seen = tokio::time::Instant::now();
        if out.is_closed() {
            break;
        }
        let text = match msg {
            None | Some(Ok(Message::Close(_))) => break,
            Some(Err(e)) => {
                use tokio_tungstenite::tungstenite::Error as WsError;
                use tokio_tungstenite::tungstenite::error::ProtocolError;
                // The network went away (a crash, a cut, a laptop lid): a
                // disconnect, not a refusal worth an audit entry.
                if matches!(
                    e,
                    WsError::Io(_)
                        | WsError::ConnectionClosed
                        | WsError::AlreadyClosed
                        | WsError::Protocol(ProtocolError::ResetWithoutClosingHandshake)
                ) {
                    tracing::debug!(%peer, conn = conn_id, "connection lost: {e}");
                    break;
                }
                let refusal = match e {
                    WsError::Capacity(c) => (ErrorCode::TooLarge, format!("frame over the hard limit: {c}")),
                    WsError::Utf8(_) => (ErrorCode::Malformed, "text frame is not valid UTF-8".to_string()),
                    other => (ErrorCode::Malformed, format!("websocket protocol error: {other}")),
                };
                refusals.record("frame", &refusal).await;
                out.close_now(refusal.0, refusal.1);
                break;
            }
            Some(Ok(Message::Text(t))) => {
                if !bucket.try_take(last_seen) {
                    let refusal = rate_limited(&config, &bucket);
                    refusals.record("frame", &refusal).await;
                    let id = request_id_hint(&t);
                    if !out.frame(error_frame(id, refusal.0, refusal.1)).await {
                        break;
                    }
                    continue;
                }
                t
            }
            Some(Ok(Message::Binary(_))) => {
                let refusal = if bucket.try_take(last_seen) {
                    (ErrorCode::Malformed, "binary frames are not supported; send JSON text frames".to_string())
                } else {
                    rate_limited(&config, &bucket)
                };
                refusals.record("frame", &refusal).await;
                out.frame(error_frame(None, refusal.0, refusal.1)).await;
                continue;
            }
            // Pings are answered by the websocket layer; Pongs only count as traffic.
            Some(Ok(_)) => continue,
        };
        if text.len() > config.max_frame_bytes {
            let refusal = (
                ErrorCode::TooLarge,
                format!("frame of {} bytes exceeds the limit of {} bytes", text.len(), config.max_frame_bytes),
            );
            refusals.record("frame", &refusal).await;
            out.frame(error_frame(None, refusal.0, refusal.1)).await;
            continue;
        }
        let frame = match parse_request(&text) {
            Ok(f) => f,
            Err((id, code, msg)) => {
                refusals.record("frame", &(code, msg.clone())).await;
                out.frame(error_frame(id, code, msg)).await;
                continue;
            }
        };
        let id = frame.id;
        let mut moved_to: Option<String> = None;
        let answer: Answer = match frame.request {
            Request::Ping => {
                out.frame(encode(&ServerFrame::Pong)).await;
                Ok(json!({}))
            }
            Request::Rooms => match hub.store().rooms_for_user(user.id).await {
                Ok(rooms) => {
                    let rooms =
                        rooms.into_iter().map(|(r, role)| RoomSummary { id: r.id, title: r.title, role }).collect();
                    Ok(serde_json::to_value(RoomsResult { rooms }).unwrap_or(Value::Null))
                }
                Err(e) => Err((ErrorCode::Unavailable, format!("cannot list rooms: {e}"))),
            },
            Request::Leave { room } => {
                if joined.remove(&room) {
                    if let Some(h) = hub.open_handle(room).await {
                        let _ = h.send(RoomCmd::Leave { conn_id }).await;
                    }
                    Ok(json!({}))
                } else {
                    let refusal = room_not_found();
                    refusals.record("leave", &refusal).await;
                    Err(refusal)
                }
            }
            request => route_to_room(&hub, &info, request, &mut joined, &mut refusals, &mut moved_to).await,
        };
        let frame = match answer {
            Ok(result) => encode(&ServerFrame::Ok { id, result }),
            Err((ErrorCode::Moved, message)) => moved_frame(id, message, moved_to.take().unwrap_or_default()),
            Err((code, message)) => error_frame(Some(id), code, message),
        };
        if !out.frame(frame).await {
            break;
        }
    }

    for room in joined {
        if let Some(h) = hub.open_handle(room).await {
            let _ = h.send(RoomCmd::Leave { conn_id }).await;
        }
    }
    hub.unregister_connection(conn_id);
    METRICS.connection(-1);
    refusals.finish().await;
    drop(info);
    drop(out);
    if !writer_gone {
        finish_writer(&mut writer).await;
    }
    if we_closed {
        linger(&mut stream).await;
    }
    tracing::debug!(%peer, conn = conn_id, "disconnected");
}

/// The `rate_limited` refusal for a request over the connection's budget.
fn rate_limited(config: &crate::config::ServerConfig, bucket: &TokenBucket) -> Refusal {
    (
        ErrorCode::RateLimited,
        format!(
            "too many requests: at most {} per second (bursts of {}); retry in {:.2} s",
            config.requests_per_second,
            config.request_burst,
            bucket.wait_secs()
        ),
    )
}

/// The request id of a frame, when it has a usable one (for refusals that
/// happen before the frame is parsed as a request).
fn request_id_hint(text: &str) -> Option<String> {
    #[derive(serde::Deserialize)]
    struct Probe {
        id: Option<Value>,
    }
    match serde_json::from_str::<Probe>(text).ok()?.id? {
        Value::String(s) if !s.is_empty() && s.len() <= trustroom_shared::protocol::MAX_REQUEST_ID_LEN => Some(s),
        _ => None,
    }
}

/// After the server sent its Close: reads (and drops) what the client still
/// sends until its Close or `CLOSE_GRACE`, as RFC 6455 asks, so unread
/// requests do not turn the close into a TCP reset that would discard the
/// `closing` frame on the client's side.
async fn linger<St, E>(stream: &mut St)
where
    St: futures_util::Stream<Item = Result<Message, E>> + Unpin,
{
    let _ = tokio::time::timeout(CLOSE_GRACE, async {
        while let Some(Ok(msg)) = stream.next().await {
            if matches!(msg, Message::Close(_)) {
                break;
            }
        }
    })
    .await;
}

/// Waits for the writer to flush what it holds (bounded), then makes it
/// stop, then aborts it: a connection task always ends.
async fn finish_writer(writer: &mut tokio::task::JoinHandle<()>) {
    if tokio::time::timeout(CLOSE_GRACE * 2, &mut *writer).await.is_ok() {
        return;
    }
    writer.abort();
    let _ = writer.await;
}

/// Most frames written with one flush.
const MAX_FRAMES_PER_FLUSH: usize = 512;

/// Stop adding queued frames to a flush beyond this many payload bytes.
const MAX_BYTES_PER_FLUSH: usize = 256 * 1024;

/// Drains the outbox to the socket, sends a websocket Ping every
/// `ping_every`, and closes the socket when asked. Everything queued when
/// the writer wakes up goes out with one flush (one `write` on the socket
/// for many small frames), so a burst of events costs one syscall per
/// connection, not one per event. A client that does not read cannot hold
/// it: every flush gives way to an out-of-band close and fails after
/// `write_timeout`.
async fn write_loop<K>(
    mut sink: K,
    mut rx: tokio::sync::mpsc::Receiver<Outgoing>,
    close: Arc<CloseSignal>,
    ping_every: Duration,
    write_timeout: Duration,
) where
    K: Sink<Message> + Unpin,
{
    let mut ping = tokio::time::interval_at(tokio::time::Instant::now() + ping_every, ping_every);
    ping.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut batch: Vec<Message> = Vec::new();
    let closing: Option<(ErrorCode, String)> = loop {
        let mut close_after: Option<(ErrorCode, String)> = None;
        let mut frames = 0usize;
        let first = tokio::select! {
            biased;
            reason = close.requested() => break reason,
            item = rx.recv() => match item {
                Some(Outgoing::Frame(text)) => {
                    frames += 1;
                    Message::Text(text)
                }
                Some(Outgoing::Close(code, reason)) => break Some((code, reason)),
                None => break None,
            },
            _ = ping.tick() => Message::Ping(Default::default()),
        };
        let mut bytes = first.len();
        batch.push(first);
        // Whatever else is queued already goes into the same flush.
        while batch.len() < MAX_FRAMES_PER_FLUSH && bytes < MAX_BYTES_PER_FLUSH {
            match rx.try_recv() {
                Ok(Outgoing::Frame(text)) => {
                    frames += 1;
                    bytes += text.len();
                    batch.push(Message::Text(text));
                }
                Ok(Outgoing::Close(code, reason)) => {
                    close_after = Some((code, reason));
                    break;
                }
                Err(_) => break,
            }
        }
        METRICS.dequeued(frames);
        let count = batch.len();
        let write = async {
            for msg in batch.drain(..) {
                sink.feed(msg).await?;
            }
            sink.flush().await
        };
        let sent = tokio::select! {
            biased;
            reason = close.requested() => break reason,
            sent = tokio::time::timeout(write_timeout, write) => sent,
        };
        match sent {
            Ok(Ok(())) => METRICS.flushed(count),
            Ok(Err(_)) => break None,
            Err(_) => {
                tracing::debug!("queued frames could not be written within {write_timeout:?}; closing");
                break None;
            }
        }
        if close_after.is_some() {
            break close_after;
        }
    };
    // Frames still queued are never written: take them off the queue-depth
    // gauge (nothing can be queued once the receiver is closed).
    rx.close();
    let mut dropped = 0;
    while let Ok(item) = rx.try_recv() {
        if matches!(item, Outgoing::Frame(_)) {
            dropped += 1;
        }
    }
    METRICS.dequeued(dropped);
    let _ = tokio::time::timeout(CLOSE_GRACE, async {
        if let Some((code, reason)) = closing {
            let frame = encode(&ServerFrame::Closing { code, reason });
            if sink.send(Message::Text(frame)).await.is_err() {
                return;
            }
        }
        let _ = sink.close().await;
    })
    .await;
}

/// Sends a room request to the room's actor and waits for its answer.
async fn route_to_room(
    hub: &Arc<Hub>,
    info: &ConnInfo,
    request: Request,
    joined: &mut HashSet<RoomId>,
    refusals: &mut RefusalLog,
    moved_to: &mut Option<String>,
) -> Answer {
    let Some(room) = request.room() else {
        return Err((ErrorCode::Invalid, "this request needs a room".into()));
    };
    let handle = match hub.locate(room).await {
        Ok(Located::Open(h)) => h,
        Ok(Located::NotFound) => {
            let refusal = room_not_found();
            refusals.record_always("room request", &refusal, room).await;
            return Err(refusal);
        }
        Ok(Located::Moved { node, url }) => {
            // Only members learn where a room lives; everyone else gets
            // the same `not_found` as for a room that does not exist.
            let member = match hub.store().rooms_for_user(info.user).await {
                Ok(rooms) => rooms.iter().any(|(r, _)| r.id == room),
                Err(e) => return Err((ErrorCode::Unavailable, format!("cannot check membership: {e}"))),
            };
            if !member {
                let refusal = room_not_found();
                refusals.record_always("room request", &refusal, room).await;
                return Err(refusal);
            }
            if url.is_empty() {
                return Err((
                    ErrorCode::Unavailable,
                    "an administrative command holds the room for a moment; retry".into(),
                ));
            }
            tracing::debug!(%room, %node, %url, "room sequenced by another node: redirecting");
            *moved_to = Some(url.clone());
            return Err((
                ErrorCode::Moved,
                format!("room {room} is served by another server node; reconnect to {url}"),
            ));
        }
        Err(e) => {
            tracing::error!(%room, "cannot open room: {e:#}");
            return Err((ErrorCode::Unavailable, "the room cannot be opened right now".into()));
        }
    };
    let (reply, wait) = oneshot::channel();
    let is_join = matches!(request, Request::Join { .. });
    let cmd = match request {
        Request::Join { since, .. } => RoomCmd::Join { conn: info.clone(), since, reply },
        request => RoomCmd::Request { conn: info.clone(), request, reply },
    };
    if handle.send(cmd).await.is_err() {
        return Err((ErrorCode::Unavailable, "the room is shutting down".into()));
    }
    let answer = wait.await.unwrap_or_else(|_| Err((ErrorCode::Unavailable, "the room stopped".into())));
    if is_join && answer.is_ok() {
        joined.insert(room);
    }
    answer
}

//! One websocket connection: handshake, then a reader loop that parses
//! requests and routes them (rooms.rs), and a writer task that drains the
//! bounded outbox to the socket (writer.rs).

mod refusals;
mod rooms;
mod writer;

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use futures_util::StreamExt;
use serde_json::{Value, json};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::sync::{oneshot, watch};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use trustroom_shared::ClientId;
use trustroom_shared::protocol::{
    ErrorCode, PROTOCOL_VERSION, Request, RoomSummary, RoomsResult, ServerFrame, parse_hello, parse_request,
};

use crate::auth::token_hash;
use crate::hub::{Hub, room_not_found};
use crate::limits::{Admission, ConnectionLimits, TokenBucket};
use crate::metrics::METRICS;
use crate::outbox::{ConnInfo, Outbox, encode};
use crate::room::Answer;
use refusals::{RefusalLog, error_frame, rate_limited, request_id_hint};
use rooms::{JoinedRooms, moved_frame, route_to_room};
use writer::{close_refused, finish_writer, linger, write_loop};

static NEXT_CONN: AtomicU64 = AtomicU64::new(1);

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
            close_refused(out, (ErrorCode::RateLimited, reason), &mut writer, &mut stream).await;
            return;
        }
    };
    let mut refusals = RefusalLog::new(hub.clone(), peer);

    // Handshake: a valid `hello` before the deadline.
    let first = tokio::time::timeout_at(deadline, async {
        loop {
            match stream.next().await {
                Some(Ok(Message::Text(t))) => return Some(Ok(t.to_string())),
                Some(Ok(Message::Binary(_))) => return Some(Err("binary frames are not supported".to_string())),
                Some(Ok(Message::Close(_))) | None => return None,
                Some(Err(e)) => return Some(Err(format!("websocket protocol error: {e}"))),
                Some(Ok(_)) => {}
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
            close_refused(out, refusal, &mut writer, &mut stream).await;
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
            close_refused(out, refusal, &mut writer, &mut stream).await;
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

    let mut joined = JoinedRooms::default();
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
                if joined.leave(room, conn_id).await {
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

    joined.leave_all(conn_id).await;
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

//! One websocket connection: handshake, then a reader loop that parses
//! requests and routes them, and a writer task that drains the bounded
//! outbox to the socket.

use std::collections::HashSet;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::sync::{mpsc, oneshot, watch};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use trustroom_shared::protocol::{
    ErrorCode, PROTOCOL_VERSION, Request, RoomSummary, RoomsResult, ServerFrame, parse_hello, parse_request,
};
use trustroom_shared::RoomId;

use crate::auth::token_hash;
use crate::hub::{Hub, room_not_found};
use crate::outbox::{ConnInfo, Outgoing, encode};
use crate::room::{Answer, RoomCmd};

static NEXT_CONN: AtomicU64 = AtomicU64::new(1);

/// The websocket settings for a server configuration.
pub fn ws_config(hard_frame_bytes: usize) -> WebSocketConfig {
    WebSocketConfig::default().max_message_size(Some(hard_frame_bytes)).max_frame_size(Some(hard_frame_bytes))
}

fn error_frame(id: Option<String>, code: ErrorCode, message: impl Into<String>) -> Arc<str> {
    encode(&ServerFrame::Error { id, code, message: message.into() })
}

/// Serves one accepted stream until it closes or the server shuts down.
pub async fn serve_connection<S>(stream: S, peer: SocketAddr, hub: Arc<Hub>, mut shutdown: watch::Receiver<bool>)
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let config = hub.config().clone();
    let ws = match tokio_tungstenite::accept_async_with_config(stream, Some(ws_config(config.hard_frame_bytes))).await {
        Ok(ws) => ws,
        Err(e) => {
            tracing::debug!(%peer, "websocket upgrade failed: {e}");
            return;
        }
    };
    let (mut sink, mut stream) = ws.split();
    let (out_tx, mut out_rx) = mpsc::channel::<Outgoing>(config.outbox_frames);

    let writer = tokio::spawn(async move {
        while let Some(item) = out_rx.recv().await {
            match item {
                Outgoing::Frame(text) => {
                    if sink.send(Message::text(text.as_ref())).await.is_err() {
                        return;
                    }
                }
                Outgoing::Close(code, reason) => {
                    let frame = encode(&ServerFrame::Closing { code, reason });
                    let _ = sink.send(Message::text(frame.as_ref())).await;
                    let _ = sink.close().await;
                    return;
                }
            }
        }
        let _ = sink.close().await;
    });

    // Handshake: a valid `hello` within the timeout.
    let first = tokio::time::timeout(config.handshake_timeout, async {
        loop {
            match stream.next().await {
                Some(Ok(Message::Text(t))) => return Some(Ok(t.to_string())),
                Some(Ok(Message::Binary(_))) => return Some(Err("binary frames are not supported".to_string())),
                Some(Ok(Message::Close(_))) | None | Some(Err(_)) => return None,
                Some(Ok(_)) => continue,
            }
        }
    })
    .await;
    let hello_text = match first {
        Err(_) => {
            let _ = out_tx.send(Outgoing::Close(ErrorCode::Timeout, "no hello within the handshake timeout".into())).await;
            let _ = writer.await;
            return;
        }
        Ok(None) => {
            drop(out_tx);
            let _ = writer.await;
            return;
        }
        Ok(Some(Err(msg))) => {
            let _ = out_tx.send(Outgoing::Close(ErrorCode::Malformed, msg)).await;
            let _ = writer.await;
            return;
        }
        Ok(Some(Ok(t))) => t,
    };
    let hello = match parse_hello(&hello_text) {
        Ok(h) => h,
        Err((code, msg)) => {
            let _ = out_tx.send(Outgoing::Close(code, msg)).await;
            let _ = writer.await;
            return;
        }
    };
    if hello.protocol != PROTOCOL_VERSION {
        let msg = format!("protocol version {} is not supported; this server speaks {PROTOCOL_VERSION}", hello.protocol);
        let _ = out_tx.send(Outgoing::Close(ErrorCode::UnsupportedVersion, msg)).await;
        let _ = writer.await;
        return;
    }
    let user = match hub.store().user_by_token_hash(&token_hash(&hello.token)).await {
        Ok(Some(u)) => u,
        Ok(None) => {
            let refusal = (ErrorCode::Unauthenticated, "unknown or revoked token".to_string());
            hub.audit_refusal(None, "hello", &refusal, json!({"peer": peer.ip().to_string()})).await;
            let _ = out_tx.send(Outgoing::Close(refusal.0, refusal.1)).await;
            let _ = writer.await;
            return;
        }
        Err(e) => {
            let _ = out_tx.send(Outgoing::Close(ErrorCode::Unavailable, format!("cannot check the token: {e}"))).await;
            let _ = writer.await;
            return;
        }
    };
    let client = hello.client.unwrap_or_default();
    let conn_id = NEXT_CONN.fetch_add(1, Ordering::Relaxed);
    let info = ConnInfo { conn_id, user: user.id, client, out: out_tx.clone() };
    hub.register_connection(conn_id, user.id, out_tx.clone());
    let welcome = ServerFrame::Welcome {
        protocol: PROTOCOL_VERSION,
        user: user.id,
        name: user.name.clone(),
        client,
        server: format!("trustroom/{}", env!("CARGO_PKG_VERSION")),
    };
    let _ = out_tx.send(Outgoing::Frame(encode(&welcome))).await;
    tracing::debug!(%peer, user = %user.name, conn = conn_id, "connected");

    let mut joined: HashSet<RoomId> = HashSet::new();
    loop {
        let msg = tokio::select! {
            m = stream.next() => m,
            _ = shutdown.changed() => {
                let _ = out_tx.send(Outgoing::Close(ErrorCode::Unavailable, "the server is shutting down; reconnect later".into())).await;
                break;
            }
        };
        let text = match msg {
            None | Some(Ok(Message::Close(_))) => break,
            Some(Err(e)) => {
                use tokio_tungstenite::tungstenite::Error as WsError;
                let (code, reason) = match e {
                    WsError::Capacity(c) => (ErrorCode::TooLarge, format!("frame over the hard limit: {c}")),
                    WsError::Utf8(_) => (ErrorCode::Malformed, "text frame is not valid UTF-8".to_string()),
                    other => (ErrorCode::Malformed, format!("websocket protocol error: {other}")),
                };
                let _ = out_tx.try_send(Outgoing::Close(code, reason));
                break;
            }
            Some(Ok(Message::Text(t))) => t,
            Some(Ok(Message::Binary(_))) => {
                let _ = out_tx.send(Outgoing::Frame(error_frame(None, ErrorCode::Malformed, "binary frames are not supported; send JSON text frames"))).await;
                continue;
            }
            Some(Ok(_)) => continue,
        };
        if text.len() > config.max_frame_bytes {
            let msg = format!("frame of {} bytes exceeds the limit of {} bytes", text.len(), config.max_frame_bytes);
            let _ = out_tx.send(Outgoing::Frame(error_frame(None, ErrorCode::TooLarge, msg))).await;
            continue;
        }
        let frame = match parse_request(&text) {
            Ok(f) => f,
            Err((id, code, msg)) => {
                let _ = out_tx.send(Outgoing::Frame(error_frame(id, code, msg))).await;
                continue;
            }
        };
        let id = frame.id;
        let answer: Answer = match frame.request {
            Request::Ping => {
                let _ = out_tx.send(Outgoing::Frame(encode(&ServerFrame::Pong))).await;
                Ok(json!({}))
            }
            Request::Rooms => match hub.store().rooms_for_user(user.id).await {
                Ok(rooms) => {
                    let rooms = rooms.into_iter().map(|(r, role)| RoomSummary { id: r.id, title: r.title, role }).collect();
                    Ok(serde_json::to_value(RoomsResult { rooms }).unwrap_or(Value::Null))
                }
                Err(e) => Err((ErrorCode::Unavailable, format!("cannot list rooms: {e}"))),
            },
            Request::Leave { room } => {
                if joined.remove(&room) {
                    if let Ok(Some(h)) = hub.room(room).await {
                        let _ = h.send(RoomCmd::Leave { conn_id }).await;
                    }
                    Ok(json!({}))
                } else {
                    Err(room_not_found())
                }
            }
            request => {
                let Some(room) = request.room() else {
                    continue;
                };
                match hub.room(room).await {
                    Ok(Some(handle)) => {
                        let (reply, wait) = oneshot::channel();
                        let cmd = match request {
                            Request::Join { since, .. } => RoomCmd::Join { conn: info.clone(), since, reply },
                            request => RoomCmd::Request { conn: info.clone(), request, reply },
                        };
                        let is_join = matches!(cmd, RoomCmd::Join { .. });
                        if handle.send(cmd).await.is_err() {
                            Err((ErrorCode::Unavailable, "the room is shutting down".into()))
                        } else {
                            let answer = wait.await.unwrap_or_else(|_| Err((ErrorCode::Unavailable, "the room stopped".into())));
                            if is_join && answer.is_ok() {
                                joined.insert(room);
                            }
                            answer
                        }
                    }
                    Ok(None) => {
                        let refusal = room_not_found();
                        hub.audit_refusal(Some(user.id), "room request", &refusal, json!({"room": room.to_string()})).await;
                        Err(refusal)
                    }
                    Err(e) => {
                        tracing::error!(%room, "cannot open room: {e:#}");
                        Err((ErrorCode::Unavailable, "the room cannot be opened right now".into()))
                    }
                }
            }
        };
        let frame = match answer {
            Ok(result) => encode(&ServerFrame::Ok { id, result }),
            Err((code, message)) => error_frame(Some(id), code, message),
        };
        if out_tx.send(Outgoing::Frame(frame)).await.is_err() {
            break;
        }
    }

    for room in joined {
        if let Ok(Some(h)) = hub.room(room).await {
            let _ = h.send(RoomCmd::Leave { conn_id }).await;
        }
    }
    hub.unregister_connection(conn_id);
    drop(info);
    drop(out_tx);
    let _ = writer.await;
    tracing::debug!(%peer, conn = conn_id, "disconnected");
}

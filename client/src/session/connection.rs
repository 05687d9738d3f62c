//! The long-lived connection of the TUI: a task that owns the
//! [`Conn`], reconnects with the one backoff policy ([`super::backoff`]),
//! forwards pushed frames and request answers to the UI loop over a bounded
//! channel, and never blocks it.
//!
//! Pushed frames are forwarded before answers that arrived after them
//! (`biased` select): the server sends a join's snapshot or catch-up events
//! before its `ok`, and the UI relies on seeing them in that order.
//!
//! A `moved` answer (the room is sequenced by another server node) makes
//! the task reconnect at once to the URL it names; the request resolves as
//! `Disconnected`, and the UI joins again on `Connected` as after any
//! reconnect. Later reconnects start from the configured URL again (the
//! load balancer), since the node redirected to may be the one that died.

use std::time::Duration;

use futures_util::StreamExt;
use futures_util::stream::FuturesUnordered;
use serde_json::Value;
use tokio::sync::mpsc;
use trustroom_shared::protocol::{ErrorCode, Request, ServerFrame};
use trustroom_shared::{ClientId, UserId};

use super::backoff::Backoff;
use super::pending::RequestError;
use super::tls::Trust;
use super::transport::{Conn, ConnectError, MAX_REDIRECTS, Pushed, follow_moved};

/// What the UI asks of the network task.
#[derive(Debug)]
pub enum NetCommand {
    Send {
        tag: u64,
        request: Request,
    },
    /// Skip the rest of the backoff wait.
    ReconnectNow,
}

/// What the network task reports.
#[derive(Debug)]
pub enum NetEvent {
    Connecting {
        attempt: u32,
    },
    Connected {
        user: UserId,
        name: String,
        client: ClientId,
    },
    Disconnected {
        reason: String,
        retry_in: Duration,
        attempt: u32,
    },
    /// The server refused us for good (bad token, unsupported protocol).
    Fatal(String),
    Frame(ServerFrame),
    Reply {
        tag: u64,
        result: Result<Value, RequestError>,
    },
}

#[derive(Clone, Debug)]
pub struct NetConfig {
    pub url: String,
    pub token: String,
    pub client: ClientId,
    /// Certificate authorities trusted for `wss://`.
    pub trust: Trust,
}

/// Runs until the UI drops its command sender or the server refuses us.
pub async fn run(cfg: NetConfig, mut cmds: mpsc::Receiver<NetCommand>, events: mpsc::Sender<NetEvent>) {
    let mut backoff = Backoff::default();
    let mut redirect: Option<String> = None;
    let mut hops: u32 = 0;
    loop {
        if events.send(NetEvent::Connecting { attempt: backoff.attempt() }).await.is_err() {
            return;
        }
        let url = redirect.take().unwrap_or_else(|| cfg.url.clone());
        let reason = match Conn::connect(&url, &cfg.token, Some(cfg.client), &cfg.trust).await {
            Err(ConnectError::Refused { code, message })
                if matches!(code, ErrorCode::Unauthenticated | ErrorCode::UnsupportedVersion) =>
            {
                let _ = events
                    .send(NetEvent::Fatal(format!("the server refused the connection: error[{code}]: {message}")))
                    .await;
                return;
            }
            Err(e @ (ConnectError::Untrusted { .. } | ConnectError::Trust(_))) => {
                let _ = events.send(NetEvent::Fatal(e.to_string())).await;
                return;
            }
            Err(e) => e.to_string(),
            Ok((conn, welcome, pushed)) => {
                backoff.reset();
                let connected = NetEvent::Connected { user: welcome.user, name: welcome.name, client: welcome.client };
                if events.send(connected).await.is_err() {
                    return;
                }
                match serve(&conn, pushed, &mut cmds, &events).await {
                    Served::Moved(to) if hops < MAX_REDIRECTS => {
                        tracing::info!("the room is served by {to}; reconnecting there");
                        hops += 1;
                        redirect = Some(to);
                        continue;
                    }
                    Served::Moved(to) => format!("redirected {hops} times in a row (last to {to})"),
                    Served::Closed(reason) => reason,
                    Served::Quit => return,
                }
            }
        };
        hops = 0;
        let retry_in = backoff.next_delay();
        let attempt = backoff.attempt();
        tracing::info!("disconnected ({reason}); retry {attempt} in {retry_in:?}");
        if events.send(NetEvent::Disconnected { reason, retry_in, attempt }).await.is_err() {
            return;
        }
        if !wait(retry_in, &mut cmds, &events).await {
            return;
        }
    }
}

enum Served {
    Closed(String),
    /// A request was answered `moved`: the room lives at this URL.
    Moved(String),
    Quit,
}

async fn serve(
    conn: &Conn,
    mut pushed: Pushed,
    cmds: &mut mpsc::Receiver<NetCommand>,
    events: &mpsc::Sender<NetEvent>,
) -> Served {
    let mut waiting = FuturesUnordered::new();
    let mut closing: Option<String> = None;
    let mut moved: Option<String> = None;
    loop {
        tokio::select! {
            biased;
            frame = pushed.recv() => match frame {
                Some(f) => {
                    if let ServerFrame::Closing { code, reason } = &f {
                        closing = Some(format!("server closing: error[{code}]: {reason}"));
                    }
                    if events.send(NetEvent::Frame(f)).await.is_err() {
                        return Served::Quit;
                    }
                }
                None => break,
            },
            Some((tag, result)) = waiting.next(), if !waiting.is_empty() => {
                if let Err(e) = &result
                    && let Some(url) = follow_moved(conn, e, 0)
                {
                    // Not applied here: the UI sends it again after the
                    // reconnect, to the room's node.
                    if events.send(NetEvent::Reply { tag, result: Err(RequestError::Disconnected) }).await.is_err() {
                        return Served::Quit;
                    }
                    moved = Some(url);
                    conn.close().await;
                    break;
                }
                if events.send(NetEvent::Reply { tag, result }).await.is_err() {
                    return Served::Quit;
                }
            }
            cmd = cmds.recv() => match cmd {
                Some(NetCommand::Send { tag, request }) => match conn.submit(request).await {
                    Ok(rx) => waiting.push(async move {
                        (tag, rx.await.unwrap_or(Err(RequestError::Disconnected)))
                    }),
                    Err(e) => {
                        if events.send(NetEvent::Reply { tag, result: Err(e) }).await.is_err() {
                            return Served::Quit;
                        }
                    }
                },
                Some(NetCommand::ReconnectNow) => {}
                None => return Served::Quit,
            },
        }
    }
    // The socket is gone: every outstanding request resolves (Disconnected).
    while let Some((tag, result)) = waiting.next().await {
        if events.send(NetEvent::Reply { tag, result }).await.is_err() {
            return Served::Quit;
        }
    }
    match moved {
        Some(url) => Served::Moved(url),
        None => Served::Closed(closing.unwrap_or_else(|| "connection lost".into())),
    }
}

/// Waits out a backoff; requests meanwhile fail at once with
/// `Disconnected`. Returns false when the UI is gone.
async fn wait(delay: Duration, cmds: &mut mpsc::Receiver<NetCommand>, events: &mpsc::Sender<NetEvent>) -> bool {
    let sleep = tokio::time::sleep(delay);
    tokio::pin!(sleep);
    loop {
        tokio::select! {
            _ = &mut sleep => return true,
            cmd = cmds.recv() => match cmd {
                Some(NetCommand::Send { tag, .. }) => {
                    let reply = NetEvent::Reply { tag, result: Err(RequestError::Disconnected) };
                    if events.send(reply).await.is_err() {
                        return false;
                    }
                }
                Some(NetCommand::ReconnectNow) => return true,
                None => return false,
            },
        }
    }
}

//! The network task: owns the connection, reconnects with exponential
//! backoff and jitter, forwards pushed frames and request answers to the UI
//! loop over a bounded channel, and never blocks it.
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
use rand::Rng;
use serde_json::Value;
use tokio::sync::mpsc;
use trustroom_shared::protocol::{ErrorCode, Request, ServerFrame};
use trustroom_shared::{ClientId, UserId};

use crate::conn::{Conn, ConnectError, MAX_REDIRECTS, RequestError, follow_moved};

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
}

/// Backoff before reconnect attempt `attempt` (1-based): 250 ms doubling up
/// to 10 s, with ±25% jitter so clients do not reconnect in lockstep.
pub fn backoff(attempt: u32) -> Duration {
    let base = 250u64.saturating_mul(1u64 << attempt.saturating_sub(1).min(6)).min(10_000);
    let jitter = rand::rng().random_range(0.75..1.25);
    Duration::from_millis((base as f64 * jitter) as u64)
}

/// Runs until the UI drops its command sender or the server refuses us.
pub async fn run(cfg: NetConfig, mut cmds: mpsc::Receiver<NetCommand>, events: mpsc::Sender<NetEvent>) {
    let mut attempt: u32 = 0;
    let mut redirect: Option<String> = None;
    let mut hops: u32 = 0;
    loop {
        if events.send(NetEvent::Connecting { attempt }).await.is_err() {
            return;
        }
        let url = redirect.take().unwrap_or_else(|| cfg.url.clone());
        let reason = match Conn::connect(&url, &cfg.token, Some(cfg.client)).await {
            Err(ConnectError::Refused { code, message })
                if matches!(code, ErrorCode::Unauthenticated | ErrorCode::UnsupportedVersion) =>
            {
                let _ = events
                    .send(NetEvent::Fatal(format!("the server refused the connection: error[{code}]: {message}")))
                    .await;
                return;
            }
            Err(e) => e.to_string(),
            Ok((conn, welcome, pushed)) => {
                attempt = 0;
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
        attempt = attempt.saturating_add(1);
        let retry_in = backoff(attempt);
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
    mut pushed: crate::conn::Pushed,
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_and_caps() {
        let first = backoff(1);
        assert!(first >= Duration::from_millis(180) && first <= Duration::from_millis(320), "{first:?}");
        for a in 8..40 {
            let d = backoff(a);
            assert!(d <= Duration::from_millis(12_500), "{d:?}");
            assert!(d >= Duration::from_millis(7_500), "{d:?}");
        }
    }
}

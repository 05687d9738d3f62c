//! One websocket connection to a Trustroom server (`ws://` or `wss://`):
//! the handshake, requests matched to answers by id through the
//! [`Ledger`], and a channel of pushed frames (snapshots, events,
//! presence). Network I/O runs in its own tasks; callers hold a cheap
//! [`Conn`] handle.
//!
//! When the socket closes, every pending request resolves to
//! [`RequestError::Disconnected`] and the push channel ends.
//!
//! Several server nodes: a request for a room another node sequences is
//! answered `moved` with that node's URL (docs/cluster.md). The connection
//! remembers the URL ([`Conn::moved_to`]); callers reconnect there with the
//! same client id and send the request again ([`follow_moved`] decides).

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use futures_util::{SinkExt, StreamExt};
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::Message;
use trustroom_shared::ClientId;
use trustroom_shared::protocol::{ClientFrame, ErrorCode, Hello, PROTOCOL_VERSION, Request, ServerFrame, hello_frame};

use super::pending::{Answer, AnswerRx, Ledger, RequestError};
use super::tls::{TlsError, Trust, is_tls_refusal};

/// Why connecting failed.
#[derive(Debug, thiserror::Error)]
pub enum ConnectError {
    #[error("cannot connect to {url}: {source}")]
    Socket { url: String, source: tokio_tungstenite::tungstenite::Error },
    /// The TLS handshake refused the server's certificate (retrying cannot help).
    #[error(
        "cannot connect to {url}: the server's certificate is not trusted ({source}); if your team signs its \
         servers with its own CA, name its certificate with --ca-file FILE, TRUSTROOM_CA_FILE or `ca_file` in \
         the config file"
    )]
    Untrusted { url: String, source: tokio_tungstenite::tungstenite::Error },
    /// The CA file cannot be used.
    #[error(transparent)]
    Trust(#[from] TlsError),
    #[error("error[{code}]: {message}")]
    Refused { code: ErrorCode, message: String },
    #[error("the server closed the connection during the handshake")]
    Closed,
    #[error("unexpected handshake answer: {0}")]
    Unexpected(String),
}

/// The server's welcome.
#[derive(Debug, Clone)]
pub struct Welcome {
    pub user: trustroom_shared::UserId,
    pub name: String,
    pub client: ClientId,
    pub server: String,
}

/// Redirects followed in a row before giving up (a room whose lease moves
/// between nodes faster than a client can follow is a server problem).
pub const MAX_REDIRECTS: u32 = 4;

/// Where to reconnect after `err`: the owning node's URL when the server
/// answered `moved` with one (and `hops` redirects were not exceeded).
pub fn follow_moved(conn: &Conn, err: &RequestError, hops: u32) -> Option<String> {
    (err.code() == Some(ErrorCode::Moved) && hops < MAX_REDIRECTS).then(|| conn.moved_to()).flatten()
}

/// The `url` of a `moved` error or closing frame.
fn moved_url(text: &str) -> Option<String> {
    #[derive(serde::Deserialize)]
    struct Moved {
        url: Option<String>,
    }
    let url = serde_json::from_str::<Moved>(text).ok()?.url?;
    (url.starts_with("ws://") || url.starts_with("wss://")).then_some(url)
}

/// Longest wait for the websocket upgrade and the server's welcome.
pub const HANDSHAKE_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(15);

/// Default silence after which a connection counts as dead. The server
/// pings every 30 s and answers our pings at once, so a healthy connection
/// is never this quiet; a stalled one (a dead NAT entry, a frozen proxy,
/// a server that stopped reading) is noticed within this time instead of
/// the minutes a TCP timeout takes.
pub const LIVENESS_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(75);

/// The liveness timeout: `TRUSTROOM_LIVENESS_SECS` when set to a positive
/// number of seconds (tests shorten it), else [`LIVENESS_TIMEOUT`].
pub fn liveness_timeout() -> std::time::Duration {
    std::env::var("TRUSTROOM_LIVENESS_SECS")
        .ok()
        .and_then(|v| v.trim().parse::<f64>().ok())
        .filter(|s| s.is_finite() && *s > 0.0 && *s < 86_400.0)
        .map_or(LIVENESS_TIMEOUT, std::time::Duration::from_secs_f64)
}

/// Handle to an open connection.
#[derive(Clone)]
pub struct Conn {
    out: mpsc::Sender<Message>,
    pending: Ledger,
    next_id: Arc<AtomicU64>,
    /// The URL of the last `moved` answer on this connection.
    moved: Arc<std::sync::Mutex<Option<String>>>,
}

/// Frames pushed by the server (everything but `ok`/`error` answers).
pub type Pushed = mpsc::Receiver<ServerFrame>;

#[allow(dead_code)] // part of the connection API; not every binary path uses every method
impl Conn {
    /// Connects, performs the handshake (within [`HANDSHAKE_TIMEOUT`]) and
    /// starts the I/O tasks.
    pub async fn connect(
        url: &str,
        token: &str,
        client: Option<ClientId>,
        trust: &Trust,
    ) -> Result<(Conn, Welcome, Pushed), ConnectError> {
        match tokio::time::timeout(HANDSHAKE_TIMEOUT, Self::connect_inner(url, token, client, trust)).await {
            Ok(result) => result,
            Err(_) => Err(ConnectError::Refused {
                code: ErrorCode::Timeout,
                message: format!("no answer from {url} within {} s", HANDSHAKE_TIMEOUT.as_secs()),
            }),
        }
    }

    async fn connect_inner(
        url: &str,
        token: &str,
        client: Option<ClientId>,
        trust: &Trust,
    ) -> Result<(Conn, Welcome, Pushed), ConnectError> {
        let connector = if url.starts_with("wss://") { Some(trust.connector()?) } else { None };
        let (mut ws, _) =
            tokio_tungstenite::connect_async_tls_with_config(url, None, false, connector).await.map_err(|source| {
                match is_tls_refusal(&source) {
                    true => ConnectError::Untrusted { url: url.to_string(), source },
                    false => ConnectError::Socket { url: url.to_string(), source },
                }
            })?;
        let hello = Hello { protocol: PROTOCOL_VERSION, token: token.to_string(), client };
        ws.send(Message::text(hello_frame(&hello)))
            .await
            .map_err(|source| ConnectError::Socket { url: url.to_string(), source })?;
        let welcome = loop {
            match ws.next().await {
                None => return Err(ConnectError::Closed),
                Some(Err(source)) => return Err(ConnectError::Socket { url: url.to_string(), source }),
                Some(Ok(Message::Text(t))) => match serde_json::from_str::<ServerFrame>(&t) {
                    Ok(ServerFrame::Welcome { user, name, client, server, .. }) => {
                        break Welcome { user, name, client, server };
                    }
                    Ok(ServerFrame::Error { code, message, .. } | ServerFrame::Closing { code, reason: message }) => {
                        return Err(ConnectError::Refused { code, message });
                    }
                    Ok(other) => return Err(ConnectError::Unexpected(format!("{other:?}"))),
                    Err(e) => return Err(ConnectError::Unexpected(e.to_string())),
                },
                Some(Ok(Message::Close(_))) => return Err(ConnectError::Closed),
                Some(Ok(_)) => continue,
            }
        };

        let (mut sink, mut stream) = ws.split();
        let (out_tx, mut out_rx) = mpsc::channel::<Message>(256);
        let (push_tx, push_rx) = mpsc::channel::<ServerFrame>(4096);
        let pending = Ledger::default();

        // Liveness: the reader stamps every message it receives; the writer
        // pings when the line has been quiet for a third of the timeout, and
        // the reader gives up after the whole timeout without a byte.
        let liveness = liveness_timeout();
        let started = std::time::Instant::now();
        let heard = Arc::new(AtomicU64::new(0));
        let writer_heard = heard.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(liveness / 3);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                let msg = tokio::select! {
                    msg = out_rx.recv() => match msg {
                        Some(m) => m,
                        None => break,
                    },
                    _ = tick.tick() => {
                        let quiet = started.elapsed().saturating_sub(std::time::Duration::from_millis(writer_heard.load(Ordering::Relaxed)));
                        if quiet < liveness / 3 {
                            continue;
                        }
                        Message::Ping(Vec::new().into())
                    }
                };
                let closing = matches!(msg, Message::Close(_));
                if sink.send(msg).await.is_err() || closing {
                    break;
                }
            }
            // A stalled socket may never take the close frame: do not wait on it.
            let _ = tokio::time::timeout(std::time::Duration::from_secs(2), sink.close()).await;
        });

        let reader_pending = pending.clone();
        let moved: Arc<std::sync::Mutex<Option<String>>> = Arc::default();
        let reader_moved = moved.clone();
        // Weak: once every `Conn` handle is dropped the writer ends and the
        // socket is closed with a Close frame.
        let pong_tx = out_tx.downgrade();
        tokio::spawn(async move {
            loop {
                let msg = match tokio::time::timeout(liveness, stream.next()).await {
                    Ok(Some(msg)) => msg,
                    Ok(None) => break,
                    Err(_) => {
                        tracing::warn!(
                            "nothing heard from the server for {liveness:?}: treating the connection as lost"
                        );
                        break;
                    }
                };
                heard.store(started.elapsed().as_millis() as u64, Ordering::Relaxed);
                let text = match msg {
                    Ok(Message::Text(t)) => t,
                    Ok(Message::Ping(p)) => {
                        if let Some(tx) = pong_tx.upgrade() {
                            let _ = tx.try_send(Message::Pong(p));
                        }
                        continue;
                    }
                    Ok(Message::Close(_)) | Err(_) => break,
                    Ok(_) => continue,
                };
                let frame: ServerFrame = match serde_json::from_str(&text) {
                    Ok(f) => f,
                    Err(e) => {
                        tracing::warn!("unreadable frame from server: {e}");
                        continue;
                    }
                };
                if let ServerFrame::Error { code: ErrorCode::Moved, .. } = &frame
                    && let Some(url) = moved_url(&text)
                    && let Ok(mut m) = reader_moved.lock()
                {
                    *m = Some(url);
                }
                match frame {
                    ServerFrame::Ok { id, result } => {
                        // An answer to nothing we asked is dropped.
                        let _ = reader_pending.resolve(&id, Ok(result));
                    }
                    ServerFrame::Error { id: Some(id), code, message } => {
                        let refusal = Err(RequestError::Server { code, message });
                        if let Err(Err(RequestError::Server { code, message })) = reader_pending.resolve(&id, refusal) {
                            let _ = push_tx.send(ServerFrame::Error { id: Some(id), code, message }).await;
                        }
                    }
                    other => {
                        if push_tx.send(other).await.is_err() {
                            // Nobody listens for pushed frames; keep serving answers.
                        }
                    }
                }
            }
            // Drain: every pending request learns the connection is gone.
            reader_pending.drain();
        });

        let conn = Conn { out: out_tx, pending, next_id: Arc::new(AtomicU64::new(1)), moved };
        Ok((conn, welcome, push_rx))
    }

    /// Sends a request and waits for its answer.
    pub async fn request(&self, request: Request) -> Answer {
        let rx = self.submit(request).await?;
        rx.await.unwrap_or(Err(RequestError::Disconnected))
    }

    /// Sends a request and returns a receiver for its answer (for callers
    /// that must not wait, like the TUI loop).
    pub async fn submit(&self, request: Request) -> Result<AnswerRx, RequestError> {
        let id = format!("r{}", self.next_id.fetch_add(1, Ordering::Relaxed));
        let rx = self.pending.register(id.clone());
        let frame = ClientFrame { id: id.clone(), request };
        let text = match serde_json::to_string(&frame) {
            Ok(text) => text,
            Err(e) => {
                self.pending.forget(&id);
                return Err(RequestError::Server { code: ErrorCode::Invalid, message: e.to_string() });
            }
        };
        if self.out.send(Message::text(text)).await.is_err() {
            self.pending.forget(&id);
            return Err(RequestError::Disconnected);
        }
        Ok(rx)
    }

    /// Sends a raw text frame (tests and hostile-input tools).
    pub async fn send_raw(&self, text: String) -> Result<(), RequestError> {
        self.out.send(Message::text(text)).await.map_err(|_| RequestError::Disconnected)
    }

    /// Closes the connection cleanly (a websocket Close frame).
    pub async fn close(&self) {
        let _ = self.out.send(Message::Close(None)).await;
    }

    /// The URL the server last answered `moved` with: the node that
    /// sequences the room asked for (reconnect there and ask again).
    pub fn moved_to(&self) -> Option<String> {
        self.moved.lock().ok().and_then(|m| m.clone())
    }

    /// True while the writer task still runs.
    pub fn is_open(&self) -> bool {
        !self.out.is_closed()
    }
}

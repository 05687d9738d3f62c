//! Requests and answers over one connection the caller holds (no
//! background task of its own): the CLI's commands open one per command,
//! the agents one per connection they keep. The handshake with a
//! per-process client id, requests with a timeout and fresh idempotency
//! `seq`s, joining a room to read its snapshot, and turning a lost
//! connection into the reason the server gave (its `closing` frame) when
//! there was one. A request for a room another server node sequences
//! (`moved`) is sent again on a new connection to that node, with the same
//! client id (docs/cluster.md).
//!
//! Failover: when the node named by `moved` cannot be reached, or the
//! node dies under a request that may be repeated, the request is asked
//! again of every known node with the one backoff ([`super::failover`])
//! until the timeout is spent; only then is the failure reported.

use std::time::Duration;

use anyhow::Context;
use serde::de::DeserializeOwned;
use serde_json::Value;
use tokio::sync::oneshot;
use tokio::time::Instant;
use trustroom_shared::ClientId;
use trustroom_shared::change::Revision;
use trustroom_shared::ids::RoomId;
use trustroom_shared::protocol::{ErrorCode, Request, RoomSummary, RoomsResult, ServerFrame};
use trustroom_shared::view::Snapshot;

use super::backoff::Backoff;
use super::failover::{self, Dialer, Nodes};
use super::transport::follow_moved;
use super::{Conn, ConnectError, Pushed, RequestError, Trust};

/// A failure found by the client itself, reported with a server error code
/// so scripts see one vocabulary (a request that got no answer in time is
/// `timeout`; the CLI's unknown section title is `not_found`).
#[derive(Debug, Clone, thiserror::Error)]
#[error("{message}")]
pub struct LocalError {
    pub code: ErrorCode,
    pub message: String,
}

impl LocalError {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Self { code, message: message.into() }
    }

    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::NotFound, message)
    }

    pub fn invalid(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::Invalid, message)
    }
}

/// An open connection and what it needs to follow a room to another node.
pub struct Session {
    conn: Conn,
    pub pushed: Pushed,
    next_seq: u64,
    timeout: Duration,
    dialer: Dialer,
    /// Every node heard of: the configured URL, then `moved` targets.
    nodes: Nodes,
    /// Connections opened after the first (redirects and failovers): rooms
    /// joined before are not joined on the new connection.
    reconnects: u64,
}

fn timed_out(what: &str, timeout: Duration) -> anyhow::Error {
    anyhow::Error::new(LocalError::new(
        ErrorCode::Timeout,
        format!("no answer to {what} within {}s (see --timeout)", timeout.as_secs_f32()),
    ))
}

/// The server's `closing` frame (its code and reason) as the error a
/// caller reports for the lost connection.
pub fn closed_by_server(code: ErrorCode, reason: &str) -> RequestError {
    RequestError::Server { code, message: format!("the server closed the connection: {reason}") }
}

impl Session {
    /// Connects to `url` and completes the handshake, with a fresh client
    /// id; every request then waits at most `timeout` for its answer.
    pub async fn open(url: &str, token: &str, trust: Trust, timeout: Duration) -> anyhow::Result<Session> {
        let client = ClientId::new();
        let dialer = Dialer { token: token.to_string(), client, trust };
        let (conn, pushed) = Self::connect(&dialer, url, timeout).await?;
        Ok(Session { conn, pushed, next_seq: 1, timeout, dialer, nodes: Nodes::new(url), reconnects: 0 })
    }

    async fn connect(dialer: &Dialer, url: &str, timeout: Duration) -> anyhow::Result<(Conn, Pushed)> {
        tracing::debug!(%url, client = %dialer.client, "connecting");
        let deadline = Instant::now() + timeout;
        let (conn, welcome, pushed) = match dialer.connect(url, deadline).await {
            Err(ConnectError::Refused { code: ErrorCode::Timeout, .. }) if Instant::now() >= deadline => {
                return Err(timed_out("the handshake", timeout));
            }
            other => other?,
        };
        tracing::debug!(user = %welcome.user, name = %welcome.name, server = %welcome.server, "welcome");
        Ok((conn, pushed))
    }

    /// Sends `request`, following `moved` answers to the room's node, and
    /// riding out a failover until the timeout is spent.
    async fn call_following(&mut self, request: Request, what: &str) -> anyhow::Result<Result<Value, RequestError>> {
        let deadline = Instant::now() + self.timeout;
        let mut backoff = Backoff::default();
        let mut hops = 0;
        loop {
            let answer = match self.submit(request.clone()).await {
                Ok(rx) => tokio::time::timeout_at(deadline, rx)
                    .await
                    .map_err(|_| timed_out(what, self.timeout))?
                    .unwrap_or(Err(RequestError::Disconnected)),
                Err(e) => match e.downcast::<RequestError>() {
                    Ok(RequestError::Disconnected) => Err(RequestError::Disconnected),
                    Ok(other) => return Err(anyhow::Error::new(other)),
                    Err(e) => return Err(e),
                },
            };
            let failure = match &answer {
                Err(e) => match follow_moved(&self.conn, e, hops) {
                    Some(url) => {
                        tracing::info!(%url, "the room is served by another server node; reconnecting there");
                        self.conn.close().await;
                        self.nodes.learn(&url);
                        hops += 1;
                        match self.dialer.connect(&url, deadline).await {
                            Ok((conn, _, pushed)) => {
                                (self.conn, self.pushed) = (conn, pushed);
                                self.reconnects += 1;
                                continue;
                            }
                            Err(e) => e,
                        }
                    }
                    None if matches!(e, RequestError::Disconnected) && failover::may_repeat(&request) => {
                        match self.closing_reason() {
                            // The node went away (or handed the room on): ask again.
                            None => ConnectError::Closed,
                            Some(e) if matches!(e.code(), Some(ErrorCode::Moved | ErrorCode::Unavailable)) => {
                                ConnectError::Closed
                            }
                            Some(e) => return Ok(Err(e)),
                        }
                    }
                    None => return Ok(answer),
                },
                Ok(_) => return Ok(answer),
            };
            if !failover::is_transient(&failure) {
                return Err(failure.into());
            }
            // Failover under way: wait and ask every node we know again.
            let (conn, _, pushed, url) = match self.dialer.reconnect(&self.nodes, &mut backoff, deadline, failure).await
            {
                Ok(connected) => connected,
                Err(ConnectError::Refused { code: ErrorCode::Timeout, .. }) => {
                    return Err(timed_out(what, self.timeout));
                }
                Err(e) => return Err(e.into()),
            };
            tracing::info!(%url, "reconnected; asking again");
            (self.conn, self.pushed) = (conn, pushed);
            self.reconnects += 1;
            hops = 0;
        }
    }

    /// How many times the session moved to a new connection (a redirect or
    /// a failover). Pushed frames of rooms joined before stop then: a
    /// caller that follows a room joins it again.
    pub fn reconnects(&self) -> u64 {
        self.reconnects
    }

    /// The next idempotency sequence number (1, 2, …) for this process's client id.
    pub fn seq(&mut self) -> Option<u64> {
        let seq = self.next_seq;
        self.next_seq += 1;
        Some(seq)
    }

    /// Sends a request and waits (bounded) for its answer.
    pub async fn call(&mut self, request: Request) -> anyhow::Result<Value> {
        match self.call_following(request, "the request").await? {
            Ok(v) => Ok(v),
            Err(e) => Err(self.explain(e)),
        }
    }

    /// Sends a request and decodes the `ok` result.
    pub async fn call_as<T: DeserializeOwned>(&mut self, request: Request) -> anyhow::Result<T> {
        let value = self.call(request).await?;
        serde_json::from_value(value.clone())
            .map_err(|e| anyhow::anyhow!("unexpected answer from the server ({e}): {value}"))
    }

    async fn submit(&mut self, request: Request) -> anyhow::Result<oneshot::Receiver<Result<Value, RequestError>>> {
        tracing::debug!(?request, "request");
        match self.conn.submit(request).await {
            Ok(rx) => Ok(rx),
            Err(e) => Err(self.explain(e)),
        }
    }

    async fn answer(
        &mut self,
        rx: oneshot::Receiver<Result<Value, RequestError>>,
        what: &str,
    ) -> anyhow::Result<Value> {
        let answer = tokio::time::timeout(self.timeout, rx).await.map_err(|_| timed_out(what, self.timeout))?;
        match answer.unwrap_or(Err(RequestError::Disconnected)) {
            Ok(v) => Ok(v),
            Err(e) => Err(self.explain(e)),
        }
    }

    /// A lost connection reported with the server's reason when it sent one.
    fn explain(&mut self, err: RequestError) -> anyhow::Error {
        if matches!(err, RequestError::Disconnected)
            && let Some(reason) = self.closing_reason()
        {
            return anyhow::Error::new(reason);
        }
        anyhow::Error::new(err)
    }

    /// The reason the server gave for closing the connection, if it did
    /// (its `closing` frame, or an error frame not tied to a request).
    fn closing_reason(&mut self) -> Option<RequestError> {
        while let Ok(frame) = self.pushed.try_recv() {
            match frame {
                ServerFrame::Closing { code, reason } => return Some(closed_by_server(code, &reason)),
                ServerFrame::Error { id: None, code, message } => return Some(RequestError::Server { code, message }),
                _ => {}
            }
        }
        None
    }

    /// The rooms this member belongs to.
    pub async fn rooms(&mut self) -> anyhow::Result<Vec<RoomSummary>> {
        let result: RoomsResult = self.call_as(Request::Rooms).await.context("listing rooms")?;
        Ok(result.rooms)
    }

    /// Joins (following `moved` to the room's node); the caller reads the
    /// pushed frames and the answer (used by `watch`).
    pub async fn start_join(
        &mut self,
        room: RoomId,
        since: Option<u64>,
    ) -> anyhow::Result<oneshot::Receiver<Result<Value, RequestError>>> {
        let answer = self.call_following(Request::Join { room, since }, "join").await?;
        let (tx, rx) = oneshot::channel();
        let _ = tx.send(answer);
        Ok(rx)
    }

    /// Joins a room and returns the snapshot the server pushes before its `ok`.
    pub async fn join(&mut self, room: RoomId) -> anyhow::Result<Snapshot> {
        let rx = self.start_join(room, None).await?;
        self.answer(rx, "join").await.context("joining the room")?;
        let timeout = self.timeout;
        let wait = async {
            while let Some(frame) = self.pushed.recv().await {
                if let ServerFrame::Snapshot { room: r, snapshot } = frame
                    && r == room
                {
                    return Some(*snapshot);
                }
            }
            None
        };
        match tokio::time::timeout(timeout, wait).await {
            Ok(Some(snapshot)) => Ok(snapshot),
            Ok(None) => Err(self.explain(RequestError::Disconnected)).context("waiting for the room snapshot"),
            Err(_) => Err(timed_out("join (no snapshot)", timeout)),
        }
    }

    /// Waits briefly for the event of `revision` (the echo of our own change).
    pub async fn event_of(&mut self, room: RoomId, revision: u64, within: Duration) -> Option<Revision> {
        let wait = async {
            while let Some(frame) = self.pushed.recv().await {
                if let ServerFrame::Event { room: r, rev } = frame
                    && r == room
                    && rev.revision == revision
                {
                    return Some(*rev);
                }
            }
            None
        };
        tokio::time::timeout(within, wait).await.ok().flatten()
    }
}

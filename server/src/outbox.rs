//! What a room sends to one connection: pre-serialized frames shared
//! between recipients, over a bounded queue, plus a close signal that
//! bypasses the queue (so a stalled or revoked connection is always told
//! and closed, even when its queue is full).

use std::sync::{Arc, Mutex};

use tokio::sync::{Notify, mpsc};
use trustroom_shared::protocol::{ErrorCode, ServerFrame};
use trustroom_shared::{ClientId, UserId};

use crate::metrics::METRICS;

/// A serialized text frame. Cloning it shares the bytes (a reference
/// count), so one event serialized once goes to every recipient without a
/// copy until the websocket layer frames it.
pub type Frame = tokio_tungstenite::tungstenite::Utf8Bytes;

/// One item for a connection's writer, in order.
#[derive(Debug, Clone)]
pub enum Outgoing {
    /// A serialized frame (shared by every recipient of the same event).
    Frame(Frame),
    /// Send a `closing` frame after what is queued, and close the socket.
    Close(ErrorCode, String),
}

/// Serializes a frame once.
pub fn encode(frame: &ServerFrame) -> Frame {
    match serde_json::to_string(frame) {
        Ok(s) => Frame::from(s),
        Err(e) => Frame::from(
            serde_json::json!({"type": "error", "id": null, "code": "internal", "message": e.to_string()}).to_string(),
        ),
    }
}

/// Out-of-band close request, read by the writer before anything queued.
/// `Some(reason)`: send a `closing` frame first; `None`: just close.
#[derive(Debug, Default)]
pub struct CloseSignal {
    reason: Mutex<CloseState>,
    notify: Notify,
}

/// Whether a close was requested, and with which reason (`None`: silent).
#[derive(Debug, Default, Clone)]
enum CloseState {
    #[default]
    Open,
    Requested(Option<(ErrorCode, String)>),
}

impl CloseSignal {
    /// Waits until a close is requested; returns its reason (`None` for a
    /// silent close).
    pub async fn requested(&self) -> Option<(ErrorCode, String)> {
        loop {
            // Register for the notification before checking, so a close
            // requested in between is not missed.
            let notified = self.notify.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            if let Some(CloseState::Requested(r)) = self.reason.lock().ok().map(|g| g.clone()) {
                return r;
            }
            notified.await;
        }
    }

    fn set(&self, reason: Option<(ErrorCode, String)>) {
        if let Ok(mut r) = self.reason.lock()
            && matches!(*r, CloseState::Open)
        {
            *r = CloseState::Requested(reason);
        }
        self.notify.notify_waiters();
        self.notify.notify_one();
    }
}

/// The sending side of one connection.
#[derive(Debug, Clone)]
pub struct Outbox {
    frames: mpsc::Sender<Outgoing>,
    close: Arc<CloseSignal>,
}

impl Outbox {
    /// A new outbox and the writer's receiving ends.
    pub fn new(capacity: usize) -> (Outbox, mpsc::Receiver<Outgoing>, Arc<CloseSignal>) {
        let (tx, rx) = mpsc::channel(capacity);
        let close = Arc::new(CloseSignal::default());
        (Outbox { frames: tx, close: close.clone() }, rx, close)
    }

    /// Queues a frame without waiting; false when the queue is full or closed.
    pub fn try_frame(&self, frame: Frame) -> bool {
        let queued = self.frames.try_send(Outgoing::Frame(frame)).is_ok();
        if queued {
            METRICS.queued(1);
        }
        queued
    }

    /// Queues a frame, waiting for room; false when the connection is gone.
    pub async fn frame(&self, frame: Frame) -> bool {
        let queued = self.frames.send(Outgoing::Frame(frame)).await.is_ok();
        if queued {
            METRICS.queued(1);
        }
        queued
    }

    /// Queues an orderly close after the frames already queued.
    pub async fn close_after_queued(&self, code: ErrorCode, reason: String) {
        let _ = self.frames.send(Outgoing::Close(code, reason)).await;
    }

    /// Closes now, ahead of anything queued (stalled, revoked, removed):
    /// the writer sends a `closing` frame if it can within a short grace
    /// and then closes the socket, even when the client stopped reading.
    pub fn close_now(&self, code: ErrorCode, reason: impl Into<String>) {
        self.close.set(Some((code, reason.into())));
    }

    /// Closes now without a `closing` frame (the client is gone already).
    pub fn close_silently(&self) {
        self.close.set(None);
    }

    pub fn is_closed(&self) -> bool {
        self.frames.is_closed()
    }
}

/// A connection as a room sees it.
#[derive(Debug, Clone)]
pub struct ConnInfo {
    pub conn_id: u64,
    pub user: UserId,
    pub client: ClientId,
    pub out: Outbox,
}

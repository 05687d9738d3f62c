//! What a room sends to one connection: pre-serialized frames shared
//! between recipients, over a bounded queue.

use std::sync::Arc;

use tokio::sync::mpsc;
use trustroom_shared::protocol::{ErrorCode, ServerFrame};
use trustroom_shared::{ClientId, UserId};

/// One item for a connection's writer.
#[derive(Debug, Clone)]
pub enum Outgoing {
    /// A serialized frame (shared by every recipient of the same event).
    Frame(Arc<str>),
    /// Send a `closing` frame and close the socket.
    Close(ErrorCode, String),
}

/// Serializes a frame once.
pub fn encode(frame: &ServerFrame) -> Arc<str> {
    match serde_json::to_string(frame) {
        Ok(s) => Arc::from(s),
        Err(e) => Arc::from(
            serde_json::json!({"type": "error", "id": null, "code": "internal", "message": e.to_string()}).to_string(),
        ),
    }
}

/// A connection as a room sees it.
#[derive(Debug, Clone)]
pub struct ConnInfo {
    pub conn_id: u64,
    pub user: UserId,
    pub client: ClientId,
    pub out: mpsc::Sender<Outgoing>,
}

//! Every frame the server sends, and the live cursors it relays.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::ErrorCode;
use crate::change::Revision;
use crate::ids::{ClientId, RoomId, SectionId, UserId};
use crate::view::Snapshot;

/// A live cursor of another member.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Presence {
    pub user: UserId,
    pub name: String,
    pub client: ClientId,
    pub section: SectionId,
    pub pos: usize,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub anchor: Option<usize>,
    /// Room revision the position refers to.
    pub revision: u64,
}

/// Every frame the server sends.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ServerFrame {
    /// Handshake accepted.
    Welcome {
        protocol: u32,
        user: UserId,
        name: String,
        client: ClientId,
        server: String,
    },
    /// A request succeeded.
    Ok {
        id: String,
        #[serde(default)]
        result: Value,
    },
    /// A request (or a frame without a usable id) failed.
    Error {
        #[serde(default)]
        id: Option<String>,
        code: ErrorCode,
        message: String,
    },
    /// Full state of a room as this member may see it.
    Snapshot {
        room: RoomId,
        snapshot: Box<Snapshot>,
    },
    /// One accepted change (redacted), in revision order.
    Event {
        room: RoomId,
        rev: Box<Revision>,
    },
    /// A member's cursor moved.
    Presence {
        room: RoomId,
        presence: Presence,
    },
    /// A member's client left the room.
    PresenceGone {
        room: RoomId,
        client: ClientId,
    },
    /// You were removed from a room: drop its state.
    Removed {
        room: RoomId,
        reason: String,
    },
    /// The server is closing this connection.
    Closing {
        code: ErrorCode,
        reason: String,
    },
    /// To downstream members of `lane` only (after a lane request on this
    /// connection): a release of their lane changed status (superseded or
    /// withdrawn). Nothing else of the room reaches them.
    LaneStatus {
        room: RoomId,
        lane: crate::release::Lane,
        manifest_hash: String,
        packet_revision: u64,
        /// `current`, `superseded` or `withdrawn`.
        status: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        why: Option<String>,
        /// The room revision the status was computed at.
        revision: u64,
    },
    Pong,
}

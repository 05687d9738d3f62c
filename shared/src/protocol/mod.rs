//! The wire protocol: JSON text frames over a websocket.
//!
//! The first client frame is `hello` (protocol version + token). Every
//! later client frame is a request `{"id": "…", "type": "…", …}`; the server
//! answers each with `ok` or `error` carrying the same `id`, and pushes
//! `snapshot`, `event` and `presence` frames for joined rooms. See
//! `docs/protocol.md` for the full description with examples.

mod error_code;
mod parse;
mod request;
mod results;
mod server_frame;

use serde::{Deserialize, Serialize};

use crate::ids::ClientId;

pub use error_code::ErrorCode;
pub use parse::{hello_frame, parse_hello, parse_request};
pub use request::Request;
pub use results::{
    AcceptAck, Ack, AddSourceAck, AnnexContent, ExportResult, HoldsResult, Joined, LaneReleaseResult,
    LaneReleasesResult, ManifestsResult, RecordAck, ReleaseAck, ReleaseStatusResult, RoomSummary, RoomsResult,
    SectionCitations, SourceContent, SourcesResult, SuggestAck, SuggestionsResult,
};
pub use server_frame::{Presence, ServerFrame};

/// The protocol version this build speaks.
/// Version 2: the request table (agents and observers refused by it),
/// identity-bound client ids, `seq` ≤ 2^63−1, the `restricted` and
/// `probe_limited` codes, lane- and audience-bound co-signatures.
pub const PROTOCOL_VERSION: u32 = 2;

/// Longest request id accepted.
pub const MAX_REQUEST_ID_LEN: usize = 64;

/// The handshake, the first frame a client sends.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Hello {
    pub protocol: u32,
    pub token: String,
    /// A stable id for this client process; resends are deduplicated by
    /// `(client, seq)`. The server makes one up when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client: Option<ClientId>,
}

/// A client request: `{"id": "r1", "type": "join", "room": "…"}`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ClientFrame {
    pub id: String,
    #[serde(flatten)]
    pub request: Request,
}

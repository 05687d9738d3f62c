//! The wire protocol: JSON text frames over a websocket.
//!
//! The first client frame is `hello` (protocol version + token). Every
//! later client frame is a request `{"id": "…", "type": "…", …}`; the server
//! answers each with `ok` or `error` carrying the same `id`, and pushes
//! `snapshot`, `event` and `presence` frames for joined rooms. See
//! `docs/protocol.md` for the full description with examples.

use std::fmt;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::access::Sealed;
use crate::boundary::{BoundaryFlag, BoundaryRule};
use crate::change::Revision;
use crate::checks::CheckKind;
use crate::export::ExportFormat;
use crate::ids::SuggestionId;
use crate::ids::{AccessRequestId, BreakGlassId, PromotionId};
use crate::ids::{AnnexId, ClientId, ObjectionId, RoomId, SectionId, UserId};
use crate::manifest::ManifestRecord;
use crate::objection::{ObjectionKind, ObjectionStatus};
use crate::ot::WireOp;
use crate::release::Lane;
use crate::role::Discipline;
use crate::suggestion::{RegisterProposal, Suggestion};
use crate::view::Snapshot;

/// The protocol version this build speaks.
/// Version 2: the request table (agents and observers refused by it),
/// identity-bound client ids, `seq` ≤ 2^63−1, the `restricted` and
/// `probe_limited` codes, lane- and audience-bound co-signatures.
pub const PROTOCOL_VERSION: u32 = 2;

/// Longest request id accepted.
pub const MAX_REQUEST_ID_LEN: usize = 64;

/// Stable, machine-readable error codes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    /// No valid token, or the handshake was not completed.
    Unauthenticated,
    /// The client speaks a protocol version the server does not.
    UnsupportedVersion,
    /// The frame is not JSON, not UTF-8 text, or not an object.
    Malformed,
    /// `type` names no message this server knows.
    UnknownType,
    /// Fields missing, of the wrong type, or values out of range.
    Invalid,
    /// No such room/section/objection/annex visible to you.
    NotFound,
    /// You are a member but your role lacks the capability.
    Forbidden,
    /// The request is based on a revision the server no longer keeps or
    /// never had, or the room changed since the step it depends on: resync.
    Stale,
    /// The frame, text or operation exceeds a limit.
    TooLarge,
    /// The request conflicts with the current state.
    Conflict,
    /// The room is escalated and read-only.
    ReadOnly,
    /// Too many requests; slow down.
    RateLimited,
    /// The server cannot store changes right now; reads still work.
    Unavailable,
    /// The handshake was not completed in time.
    Timeout,
    /// A bug on the server; nothing was stored.
    Internal,
    /// A free-text field holds restricted annex detail: nothing was stored
    /// or sent to anyone. The message names the field (and, only to a
    /// member entitled to the annex, the annex).
    Restricted,
    /// Too many of your requests were refused for restricted detail: your
    /// free-text requests in this room are refused unread until the
    /// message's time (docs/access.md, "probe budget").
    ProbeLimited,
    /// Another server node sequences this room: reconnect to the URL the
    /// frame's `url` field names (docs/cluster.md). Nothing was applied.
    Moved,
}

impl ErrorCode {
    pub fn as_str(&self) -> &'static str {
        match self {
            ErrorCode::Unauthenticated => "unauthenticated",
            ErrorCode::UnsupportedVersion => "unsupported_version",
            ErrorCode::Malformed => "malformed",
            ErrorCode::UnknownType => "unknown_type",
            ErrorCode::Invalid => "invalid",
            ErrorCode::NotFound => "not_found",
            ErrorCode::Forbidden => "forbidden",
            ErrorCode::Stale => "stale",
            ErrorCode::TooLarge => "too_large",
            ErrorCode::Conflict => "conflict",
            ErrorCode::ReadOnly => "read_only",
            ErrorCode::RateLimited => "rate_limited",
            ErrorCode::Unavailable => "unavailable",
            ErrorCode::Timeout => "timeout",
            ErrorCode::Internal => "internal",
            ErrorCode::Moved => "moved",
            ErrorCode::Restricted => "restricted",
            ErrorCode::ProbeLimited => "probe_limited",
        }
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

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

/// Every request a client may make after the handshake.
///
/// Mutating requests carry an optional `seq`: with the connection's client
/// id it makes the request idempotent (a resend returns the first answer).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Request {
    /// Rooms you are a member of.
    Rooms,
    /// Subscribe to a room. Without `since`, a `snapshot` frame precedes the
    /// `ok`; with `since`, the missed `event` frames do (or a snapshot when
    /// the server no longer keeps them).
    Join {
        room: RoomId,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        since: Option<u64>,
    },
    Leave {
        room: RoomId,
    },
    AddSection {
        room: RoomId,
        title: String,
        #[serde(default)]
        body: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        after: Option<SectionId>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        seq: Option<u64>,
    },
    /// A text operation on a section, against room revision `base`.
    Edit {
        room: RoomId,
        section: SectionId,
        base: u64,
        op: WireOp,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        seq: Option<u64>,
    },
    Object {
        room: RoomId,
        section: SectionId,
        kind: ObjectionKind,
        #[serde(default)]
        blocking: bool,
        text: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        statement: Option<usize>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        quote: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        seq: Option<u64>,
    },
    Reply {
        room: RoomId,
        objection: ObjectionId,
        text: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        seq: Option<u64>,
    },
    SetObjectionStatus {
        room: RoomId,
        objection: ObjectionId,
        status: ObjectionStatus,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        rationale: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        seq: Option<u64>,
    },
    /// Read an annex's content (audited; only for members with access).
    ViewAnnex {
        room: RoomId,
        annex: AnnexId,
    },
    /// Share your cursor; not stored, not revisioned.
    Cursor {
        room: RoomId,
        section: SectionId,
        pos: usize,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        anchor: Option<usize>,
    },
    Hold {
        room: RoomId,
        reason: String,
    },
    MarkReady {
        room: RoomId,
    },
    /// Release the packet revision to one downstream lane, readable by
    /// `audience` (default `lane-reviewers`); the co-signatures the policy
    /// requires must cover this lane and this audience (or a wider one).
    Release {
        room: RoomId,
        lane: Lane,
        #[serde(default)]
        audience: crate::release::Audience,
    },
    Escalate {
        room: RoomId,
        reason: String,
    },
    /// The server's readiness record of the room (with the annex-boundary
    /// checks a client cannot run); any member.
    Readiness {
        room: RoomId,
    },
    /// Set the co-signatures a release needs besides the owner's (owner
    /// only). Replaces the previous policy; empty lists clear it.
    SetReleasePolicy {
        room: RoomId,
        #[serde(default)]
        members: Vec<UserId>,
        #[serde(default)]
        disciplines: Vec<Discipline>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        seq: Option<u64>,
    },
    /// Co-sign the packet with this content hash (which must be the
    /// current one) for a release to `lane` (required), readable by up to
    /// `audience` (default `lane-reviewers`). Agents and owners never co-sign.
    Cosign {
        room: RoomId,
        content_hash: String,
        lane: Lane,
        #[serde(default)]
        audience: crate::release::Audience,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        seq: Option<u64>,
    },
    /// Export the bundle of the room at a revision (default: now); any
    /// member; audited.
    Export {
        room: RoomId,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        revision: Option<u64>,
        #[serde(default)]
        format: ExportFormat,
    },
    /// The room's manifest history and the server's public key; any member.
    Manifests {
        room: RoomId,
    },
    // --- Annex access governance (docs/access.md) ---
    /// Ask for read access to annexes, with a reason and a duration
    /// (default and maximum set by the room's access policy). Overlapping
    /// requests for the same annex fold into the existing one.
    RequestAccess {
        room: RoomId,
        annexes: Vec<AnnexId>,
        reason: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        duration_ms: Option<u64>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        seq: Option<u64>,
    },
    /// Withdraw your own pending request.
    WithdrawAccess {
        room: RoomId,
        request: AccessRequestId,
    },
    /// Approve a request (an owner who is not the requester).
    ApproveAccess {
        room: RoomId,
        request: AccessRequestId,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        note: Option<String>,
    },
    /// Deny a request (an owner who is not the requester).
    DenyAccess {
        room: RoomId,
        request: AccessRequestId,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        note: Option<String>,
    },
    /// End an active grant now (owner only).
    RevokeGrant {
        room: RoomId,
        grant: AccessRequestId,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        note: Option<String>,
    },
    /// Emergency read access to annexes for at most 30 minutes (members on
    /// the room's break-glass list).
    BreakGlass {
        room: RoomId,
        annexes: Vec<AnnexId>,
        reason: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        duration_ms: Option<u64>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        seq: Option<u64>,
    },
    /// End a break-glass early (its invoker or an owner).
    EndBreakGlass {
        room: RoomId,
        invocation: BreakGlassId,
    },
    /// Ask to promote an exact annex passage into a section.
    RequestPromotion {
        room: RoomId,
        annex: AnnexId,
        section: SectionId,
        passage: Sealed,
        reason: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        seq: Option<u64>,
    },
    /// Read a pending promotion's passage (owners who may decide it, and
    /// its requester); audited like an annex view.
    ViewPromotion {
        room: RoomId,
        promotion: PromotionId,
    },
    /// Approve a promotion: the passage is inserted with its provenance.
    ApprovePromotion {
        room: RoomId,
        promotion: PromotionId,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        note: Option<String>,
    },
    DenyPromotion {
        room: RoomId,
        promotion: PromotionId,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        note: Option<String>,
    },
    /// Override one failing room check with a rationale (owner only).
    OverrideCheck {
        room: RoomId,
        check: CheckKind,
        rationale: String,
    },
    /// Change the room's access policy (owner only); absent fields stay.
    SetAccessPolicy {
        room: RoomId,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        reason_min_chars: Option<usize>,
        /// A regular expression every reason must contain a match of; `""` clears it.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        reason_pattern: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        default_duration_ms: Option<u64>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        max_duration_ms: Option<u64>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        break_glass: Option<Vec<UserId>>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        auditors: Option<Vec<UserId>>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        retention_days: Option<u32>,
    },
    /// The room's access history (members with the audit capability);
    /// the export is audited. `format` is recorded in the audit entry.
    AccessHistory {
        room: RoomId,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        format: Option<String>,
    },
    // --- Suggestions (docs/suggestions.md) ---
    /// Propose a text operation on a section as a suggestion, against room
    /// revision `base` (transformed to the current text like an edit).
    Suggest {
        room: RoomId,
        section: SectionId,
        base: u64,
        op: WireOp,
        rationale: String,
        /// Evidence references (source record ids, `O-N`, annex codes).
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        evidence: Vec<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        seq: Option<u64>,
    },
    /// Propose a register change: merge duplicate objections, reword one,
    /// set a missing kind or anchor.
    SuggestRegister {
        room: RoomId,
        change: RegisterProposal,
        rationale: String,
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        evidence: Vec<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        seq: Option<u64>,
    },
    /// Accept an open suggestion (owners, and reviewers the owner allowed):
    /// it is applied as a normal change by you, naming its proposer.
    AcceptSuggestion {
        room: RoomId,
        suggestion: SuggestionId,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        note: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        seq: Option<u64>,
    },
    /// Reject an open or conflicting suggestion, with a reason.
    RejectSuggestion {
        room: RoomId,
        suggestion: SuggestionId,
        reason: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        seq: Option<u64>,
    },
    /// Withdraw your own open or conflicting suggestion.
    WithdrawSuggestion {
        room: RoomId,
        suggestion: SuggestionId,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        seq: Option<u64>,
    },
    /// The room's suggestions, acceptors and boundary rules; any member.
    Suggestions {
        room: RoomId,
    },
    /// Set which reviewers may accept and reject suggestions (owner only);
    /// replaces the list.
    SetSuggestionAcceptors {
        room: RoomId,
        #[serde(default)]
        members: Vec<UserId>,
    },
    /// Replace the room's boundary rules (owner only); absent or `null`
    /// `rules` restores the defaults.
    SetBoundaryRules {
        room: RoomId,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        rules: Option<Vec<BoundaryRule>>,
    },
    /// The room's working metrics; any member.
    Stats {
        room: RoomId,
    },
    Ping,
}

impl Request {
    /// Whether `ty` names a request kind (telling `unknown_type` from
    /// `invalid`): the names come from the request table.
    pub fn is_type(ty: &str) -> bool {
        crate::requests::TABLE.iter().any(|s| s.name == ty)
    }

    /// The room the request is about, if any.
    pub fn room(&self) -> Option<RoomId> {
        match self {
            Request::Rooms | Request::Ping => None,
            Request::Join { room, .. }
            | Request::Leave { room }
            | Request::AddSection { room, .. }
            | Request::Edit { room, .. }
            | Request::Object { room, .. }
            | Request::Reply { room, .. }
            | Request::SetObjectionStatus { room, .. }
            | Request::ViewAnnex { room, .. }
            | Request::Cursor { room, .. }
            | Request::Hold { room, .. }
            | Request::MarkReady { room }
            | Request::Release { room, .. }
            | Request::Escalate { room, .. }
            | Request::Readiness { room }
            | Request::SetReleasePolicy { room, .. }
            | Request::Cosign { room, .. }
            | Request::Export { room, .. }
            | Request::Manifests { room }
            | Request::RequestAccess { room, .. }
            | Request::WithdrawAccess { room, .. }
            | Request::ApproveAccess { room, .. }
            | Request::DenyAccess { room, .. }
            | Request::RevokeGrant { room, .. }
            | Request::BreakGlass { room, .. }
            | Request::EndBreakGlass { room, .. }
            | Request::RequestPromotion { room, .. }
            | Request::ViewPromotion { room, .. }
            | Request::ApprovePromotion { room, .. }
            | Request::DenyPromotion { room, .. }
            | Request::OverrideCheck { room, .. }
            | Request::SetAccessPolicy { room, .. }
            | Request::AccessHistory { room, .. }
            | Request::Suggest { room, .. }
            | Request::SuggestRegister { room, .. }
            | Request::AcceptSuggestion { room, .. }
            | Request::RejectSuggestion { room, .. }
            | Request::WithdrawSuggestion { room, .. }
            | Request::Suggestions { room }
            | Request::SetSuggestionAcceptors { room, .. }
            | Request::SetBoundaryRules { room, .. }
            | Request::Stats { room } => Some(*room),
        }
    }

    /// The idempotency sequence number, if the request carries one.
    pub fn seq(&self) -> Option<u64> {
        match self {
            Request::AddSection { seq, .. }
            | Request::Edit { seq, .. }
            | Request::Object { seq, .. }
            | Request::Reply { seq, .. }
            | Request::SetObjectionStatus { seq, .. }
            | Request::SetReleasePolicy { seq, .. }
            | Request::Cosign { seq, .. }
            | Request::RequestAccess { seq, .. }
            | Request::BreakGlass { seq, .. }
            | Request::RequestPromotion { seq, .. }
            | Request::Suggest { seq, .. }
            | Request::SuggestRegister { seq, .. }
            | Request::AcceptSuggestion { seq, .. }
            | Request::RejectSuggestion { seq, .. }
            | Request::WithdrawSuggestion { seq, .. } => *seq,
            Request::Rooms
            | Request::Join { .. }
            | Request::Leave { .. }
            | Request::ViewAnnex { .. }
            | Request::Cursor { .. }
            | Request::Hold { .. }
            | Request::MarkReady { .. }
            | Request::Release { .. }
            | Request::Escalate { .. }
            | Request::Readiness { .. }
            | Request::Export { .. }
            | Request::Manifests { .. }
            | Request::WithdrawAccess { .. }
            | Request::ApproveAccess { .. }
            | Request::DenyAccess { .. }
            | Request::RevokeGrant { .. }
            | Request::EndBreakGlass { .. }
            | Request::ViewPromotion { .. }
            | Request::ApprovePromotion { .. }
            | Request::DenyPromotion { .. }
            | Request::OverrideCheck { .. }
            | Request::SetAccessPolicy { .. }
            | Request::AccessHistory { .. }
            | Request::Suggestions { .. }
            | Request::SetSuggestionAcceptors { .. }
            | Request::SetBoundaryRules { .. }
            | Request::Stats { .. }
            | Request::Ping => None,
        }
    }
}

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
    Pong,
}

/// `ok` result of `rooms`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RoomsResult {
    pub rooms: Vec<RoomSummary>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RoomSummary {
    pub id: RoomId,
    pub title: String,
    pub role: String,
}

/// `ok` result of a mutating request.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Ack {
    /// The revision the change got.
    pub revision: u64,
    /// True when this was a resend of an already-applied request.
    #[serde(default)]
    pub duplicate: bool,
    /// Id of the created entity (section, objection, reply), if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created: Option<String>,
}

/// `ok` result of `join`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Joined {
    pub revision: u64,
}

/// `ok` result of `view_annex`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AnnexContent {
    pub annex: AnnexId,
    pub code: String,
    pub title: String,
    pub classification: String,
    pub content: String,
    /// Reminder shown by clients: this view is in the audit log.
    pub logged: bool,
}

/// `ok` result of `export`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ExportResult {
    pub format: ExportFormat,
    /// The room revision exported.
    pub revision: u64,
    /// Its packet revision (newest content change at or before it).
    pub packet_revision: u64,
    pub content_hash: String,
    /// False when restricted detail had to be redacted from the content.
    pub exact: bool,
    /// True when the bundle carries a release manifest.
    pub released: bool,
    /// The bundle, byte for byte as the server encoded it.
    pub text: String,
}

/// `ok` result of `manifests`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ManifestsResult {
    /// The server's Ed25519 public key (hex).
    pub public_key: String,
    /// Every release of the room, oldest first.
    pub manifests: Vec<ManifestRecord>,
}

/// `ok` result of `suggest` and `suggest_register` (a resend answers
/// with the plain [`Ack`]: `code` and `flags` absent).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SuggestAck {
    pub revision: u64,
    #[serde(default)]
    pub duplicate: bool,
    /// The suggestion's id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created: Option<String>,
    /// `S-N`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code: Option<String>,
    /// Boundary rules the suggestion tripped (stored with it).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub flags: Vec<BoundaryFlag>,
}

/// `ok` result of `accept_suggestion`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AcceptAck {
    /// The revision of the newest change the acceptance made (the edit, or
    /// the last register change).
    pub revision: u64,
    #[serde(default)]
    pub duplicate: bool,
    /// The revision of the `suggestion_decided` change.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub decision_revision: Option<u64>,
}

/// `ok` result of `suggestions`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SuggestionsResult {
    /// Every suggestion, in number order.
    pub suggestions: Vec<Suggestion>,
    /// Reviewers the owner allowed to decide (owners always may).
    pub acceptors: Vec<UserId>,
    /// The boundary rules in force.
    pub rules: Vec<BoundaryRule>,
    /// True when the room uses the default rules.
    pub default_rules: bool,
}

/// Parses one client text frame after the handshake into a request, with
/// stable error codes for each kind of bad input.
pub fn parse_request(text: &str) -> Result<ClientFrame, (Option<String>, ErrorCode, String)> {
    let value: Value =
        serde_json::from_str(text).map_err(|e| (None, ErrorCode::Malformed, format!("not valid JSON: {e}")))?;
    let id_hint = value.get("id").and_then(Value::as_str).filter(|s| s.len() <= MAX_REQUEST_ID_LEN).map(String::from);
    reject_duplicate_keys(text).map_err(|m| (id_hint, ErrorCode::Invalid, m))?;
    let Value::Object(obj) = &value else {
        return Err((None, ErrorCode::Malformed, "a frame must be a JSON object".into()));
    };
    let id = match obj.get("id") {
        Some(Value::String(s)) if !s.is_empty() && s.len() <= MAX_REQUEST_ID_LEN => s.clone(),
        Some(Value::String(_)) => {
            return Err((None, ErrorCode::Invalid, format!("`id` must be 1..={MAX_REQUEST_ID_LEN} bytes")));
        }
        Some(_) => return Err((None, ErrorCode::Invalid, "`id` must be a string".into())),
        None => return Err((None, ErrorCode::Invalid, "missing request `id`".into())),
    };
    let ty = match obj.get("type") {
        Some(Value::String(s)) => s.as_str(),
        Some(_) => return Err((Some(id), ErrorCode::Invalid, "`type` must be a string".into())),
        None => return Err((Some(id), ErrorCode::Invalid, "missing `type`".into())),
    };
    if ty == "hello" {
        return Err((Some(id), ErrorCode::Invalid, "already authenticated: `hello` only once".into()));
    }
    if !Request::is_type(ty) {
        let shown: String = ty.chars().take(40).collect();
        return Err((Some(id), ErrorCode::UnknownType, format!("unknown message type {shown:?}")));
    }
    let request: Request =
        serde_json::from_value(value.clone()).map_err(|e| (Some(id.clone()), ErrorCode::Invalid, e.to_string()))?;
    // Sequence numbers are stored as signed 64-bit integers: a larger one
    // could not be told apart from another after a restart.
    if request.seq().is_some_and(|s| s > crate::requests::MAX_SEQ) {
        return Err((
            Some(id),
            ErrorCode::Invalid,
            format!(
                "`seq` must be between 0 and {} (it is stored as a signed 64-bit integer)",
                crate::requests::MAX_SEQ
            ),
        ));
    }
    Ok(ClientFrame { id, request })
}

/// Parses the handshake frame.
pub fn parse_hello(text: &str) -> Result<Hello, (ErrorCode, String)> {
    let value: Value =
        serde_json::from_str(text).map_err(|e| (ErrorCode::Malformed, format!("not valid JSON: {e}")))?;
    reject_duplicate_keys(text).map_err(|m| (ErrorCode::Invalid, m))?;
    match value.get("type") {
        Some(Value::String(t)) if t == "hello" => {}
        _ => return Err((ErrorCode::Unauthenticated, "the first frame must be `hello`".into())),
    }
    serde_json::from_value(value).map_err(|e| (ErrorCode::Invalid, format!("bad hello: {e}")))
}

/// Serializes the handshake frame.
pub fn hello_frame(hello: &Hello) -> String {
    let mut v = serde_json::to_value(hello).unwrap_or(Value::Null);
    if let Value::Object(m) = &mut v {
        m.insert("type".into(), Value::String("hello".into()));
    }
    v.to_string()
}

/// Refuses JSON objects that repeat a key: a proxy reading the first
/// occurrence and the server reading the last must never disagree.
fn reject_duplicate_keys(text: &str) -> Result<(), String> {
    use serde::de::{Deserializer, MapAccess, SeqAccess, Visitor};

    struct Check;
    impl<'de> serde::Deserialize<'de> for Check {
        fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
            d.deserialize_any(CheckVisitor)
        }
    }
    struct CheckVisitor;
    impl<'de> Visitor<'de> for CheckVisitor {
        type Value = Check;
        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str("any JSON value")
        }
        fn visit_bool<E>(self, _: bool) -> Result<Check, E> {
            Ok(Check)
        }
        fn visit_i64<E>(self, _: i64) -> Result<Check, E> {
            Ok(Check)
        }
        fn visit_u64<E>(self, _: u64) -> Result<Check, E> {
            Ok(Check)
        }
        fn visit_f64<E>(self, _: f64) -> Result<Check, E> {
            Ok(Check)
        }
        fn visit_str<E>(self, _: &str) -> Result<Check, E> {
            Ok(Check)
        }
        fn visit_unit<E>(self) -> Result<Check, E> {
            Ok(Check)
        }
        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Check, A::Error> {
            while seq.next_element::<Check>()?.is_some() {}
            Ok(Check)
        }
        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Check, A::Error> {
            let mut seen = std::collections::HashSet::new();
            while let Some(key) = map.next_key::<String>()? {
                if !seen.insert(key.clone()) {
                    let shown: String = key.chars().take(40).collect();
                    return Err(serde::de::Error::custom(format!("duplicate key {shown:?}")));
                }
                map.next_value::<Check>()?;
            }
            Ok(Check)
        }
    }
    serde_json::from_str::<Check>(text).map(|_| ()).map_err(|e| format!("invalid JSON object: {e}"))
}

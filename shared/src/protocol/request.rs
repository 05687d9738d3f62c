//! Every request a client may make after the handshake.

use serde::{Deserialize, Serialize};

use crate::access::Sealed;
use crate::boundary::BoundaryRule;
use crate::checks::CheckKind;
use crate::downstream::{FindingKind, IntakeDecision};
use crate::export::ExportFormat;
use crate::ids::SuggestionId;
use crate::ids::{AccessRequestId, BreakGlassId, PromotionId};
use crate::ids::{AnnexId, ObjectionId, RoomId, SectionId, UserId};
use crate::objection::{ObjectionKind, ObjectionStatus};
use crate::ot::WireOp;
use crate::release::Lane;
use crate::role::Discipline;
use crate::suggestion::RegisterProposal;

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
    /// Place a hold on the release with a reason (owner): a new record
    /// `H-n` of the hold register; the room is HELD while any hold is open.
    Hold {
        room: RoomId,
        reason: String,
    },
    /// Clear one open hold of the register with a rationale (owner). A hold
    /// a room check placed cannot be cleared by hand while that check still
    /// fails (the release-rules hold can: clearing it is the owner's review
    /// of the changed packet). With no hold left open the room is drafting.
    ClearHold {
        room: RoomId,
        /// The hold's number (`H-3` is 3).
        hold: u32,
        rationale: String,
    },
    /// The hold register of the room, open and cleared; any member.
    Holds {
        room: RoomId,
    },
    /// Withdraw a release (owner), named by its manifest hash, with a
    /// reason: its status becomes `withdrawn`.
    WithdrawRelease {
        room: RoomId,
        manifest: String,
        reason: String,
    },
    /// The signed status of every release of the room; any member.
    ReleaseStatus {
        room: RoomId,
    },
    /// The releases of the asking downstream member's lane, with their
    /// status and its own intake decision (`downstream.rs`). Also
    /// subscribes the connection to `lane_status` pushes of that lane.
    LaneReleases {
        room: RoomId,
    },
    /// The redacted export bundle of one release of the member's lane.
    LaneRelease {
        room: RoomId,
        manifest: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        format: Option<ExportFormat>,
    },
    /// A downstream member's intake decision on one release of its lane:
    /// `accepted`, or `returned` with a `reason`.
    Intake {
        room: RoomId,
        manifest: String,
        decision: IntakeDecision,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        reason: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        seq: Option<u64>,
    },
    /// A finding discovered downstream after the handoff, pinned to one
    /// release of the member's lane: opens an objection marked found
    /// downstream (blocking unless `blocking` is false).
    ReportFinding {
        room: RoomId,
        manifest: String,
        kind: FindingKind,
        text: String,
        #[serde(default = "blocking_by_default")]
        blocking: bool,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        seq: Option<u64>,
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
    /// Release exactly the packet revision the owner reviewed (the one the
    /// confirm prompt showed), in one step: from drafting, held, ready or
    /// released, the room is marked ready at `packet_revision` and released
    /// in one commit, or the request is refused and nothing changes (a hold
    /// and its reasons stay). `stale` when the packet changed since
    /// `packet_revision`, naming what changed.
    ReleasePacket {
        room: RoomId,
        lane: Lane,
        #[serde(default)]
        audience: crate::release::Audience,
        packet_revision: u64,
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
    /// Register source records (evidence the packet cites with
    /// `[verified: ID]`): a new id is added, a known id with other content
    /// becomes a new version, the same content changes nothing. A record
    /// with `annex` follows that annex's rules (only its readers register it).
    AddSource {
        room: RoomId,
        records: Vec<crate::source::SourceRecord>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        seq: Option<u64>,
    },
    /// The source register (without text) and each citation's state; any member.
    Sources {
        room: RoomId,
    },
    /// One record's text (newest version, or `version`); audited. A
    /// restricted record only for members who may read its annex.
    ViewSource {
        room: RoomId,
        source: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        version: Option<u32>,
    },
    /// Re-confirm a section's stale citation of `source` against the
    /// record's newest version (editors).
    ConfirmEvidence {
        room: RoomId,
        section: SectionId,
        source: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        seq: Option<u64>,
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
            | Request::ClearHold { room, .. }
            | Request::Holds { room }
            | Request::WithdrawRelease { room, .. }
            | Request::ReleaseStatus { room }
            | Request::LaneReleases { room }
            | Request::LaneRelease { room, .. }
            | Request::Intake { room, .. }
            | Request::ReportFinding { room, .. }
            | Request::MarkReady { room }
            | Request::Release { room, .. }
            | Request::ReleasePacket { room, .. }
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
            | Request::Stats { room }
            | Request::AddSource { room, .. }
            | Request::Sources { room }
            | Request::ViewSource { room, .. }
            | Request::ConfirmEvidence { room, .. } => Some(*room),
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
            | Request::WithdrawSuggestion { seq, .. }
            | Request::AddSource { seq, .. }
            | Request::ConfirmEvidence { seq, .. }
            | Request::Intake { seq, .. }
            | Request::ReportFinding { seq, .. } => *seq,
            Request::Rooms
            | Request::Join { .. }
            | Request::Leave { .. }
            | Request::ViewAnnex { .. }
            | Request::Cursor { .. }
            | Request::Hold { .. }
            | Request::ClearHold { .. }
            | Request::Holds { .. }
            | Request::WithdrawRelease { .. }
            | Request::ReleaseStatus { .. }
            | Request::LaneReleases { .. }
            | Request::LaneRelease { .. }
            | Request::MarkReady { .. }
            | Request::Release { .. }
            | Request::ReleasePacket { .. }
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
            | Request::Sources { .. }
            | Request::ViewSource { .. }
            | Request::Ping => None,
        }
    }
}

fn blocking_by_default() -> bool {
    true
}

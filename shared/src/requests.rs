//! The request table: for every request kind, what the server needs to
//! know before it looks at the request's content.
//!
//! [`Request::spec`] is one exhaustive `match` with no wildcard arm: a new
//! request kind does not compile until someone decided its wire name, the
//! capability it needs, whether it changes the room, whether it is allowed
//! in an escalated (read-only) room, whether agents may send it, and which
//! of its fields are free text that the ingress gate checks for restricted
//! annex detail. The server's dispatch reads only this table; every name
//! list (`Request::is_type`, audit names) is derived from it.

use std::borrow::Cow;

use crate::objection::ObjectionStatus;
use crate::ot::WireComponent;
use crate::policy::Capability;
use crate::protocol::Request;
use crate::suggestion::RegisterProposal;

/// Who, besides the capability, decides: some requests have a rule that
/// depends on room state (the owner's acceptor list, the auditor list, the
/// break-glass list, the requester). The table names it so a reader knows
/// where to look; the rule itself lives beside the request's handler.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Also {
    /// Nothing beyond the capability.
    Nothing,
    /// Only the member who made the record (or an owner).
    OwnRecord,
    /// Members on the room's break-glass list.
    BreakGlassList,
    /// Owners other than the requester (no self-approval).
    AnotherOwner,
    /// Reviewers co-sign; observers only when the policy names them.
    CosignRules,
    /// Members who may read the annex the request is about.
    AnnexReaders,
    /// Owners who may decide the promotion, and its requester.
    PromotionParties,
    /// Releases of the downstream member's own lane only (another lane's
    /// release is `not_found`, as if it did not exist).
    OwnLane,
}

/// What one request kind needs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RequestSpec {
    /// The wire `type`.
    pub name: &'static str,
    /// The capability the member's role (plus delegated capabilities) must have.
    pub capability: Capability,
    /// Whether an accepted request changes the room (is sequenced, audited
    /// as a change, may carry a `seq`).
    pub mutates: bool,
    /// Whether it is served in an escalated, read-only room.
    pub read_only_ok: bool,
    /// Whether agent members may send it (agents only ever propose).
    pub agents: bool,
    /// The rule beyond the capability, if any.
    pub also: Also,
    /// Names of the free-text fields the ingress gate checks.
    pub free_text: &'static [&'static str],
    /// Whether a successful answer carries annex detail by design, to a
    /// member its handler authorised and audited (`view_annex`,
    /// `view_promotion`): the egress filter leaves that answer as it is.
    pub discloses: bool,
}

const fn spec(
    name: &'static str,
    capability: Capability,
    mutates: bool,
    read_only_ok: bool,
    agents: bool,
    also: Also,
    free_text: &'static [&'static str],
) -> RequestSpec {
    RequestSpec { name, capability, mutates, read_only_ok, agents, also, free_text, discloses: false }
}

/// A read whose answer is annex detail for an authorised, audited reader.
const fn disclosing(spec: RequestSpec) -> RequestSpec {
    RequestSpec { discloses: true, ..spec }
}

use Also::*;
use Capability as C;

const ROOMS: RequestSpec = spec("rooms", C::Read, false, true, true, Nothing, &[]);
const JOIN: RequestSpec = spec("join", C::Read, false, true, true, Nothing, &[]);
const LEAVE: RequestSpec = spec("leave", C::Read, false, true, true, Nothing, &[]);
const ADD_SECTION: RequestSpec = spec("add_section", C::Edit, true, false, false, Nothing, &["title", "body"]);
const EDIT: RequestSpec = spec("edit", C::Edit, true, false, false, Nothing, &["op"]);
const OBJECT: RequestSpec = spec("object", C::Object, true, false, true, Nothing, &["text", "quote"]);
const REPLY: RequestSpec = spec("reply", C::Object, true, false, true, Nothing, &["text"]);
const SET_OBJECTION_STATUS: RequestSpec =
    spec("set_objection_status", C::ResolveObjection, true, false, false, OwnRecord, &["rationale"]);
const VIEW_ANNEX: RequestSpec = disclosing(spec("view_annex", C::Read, false, true, true, AnnexReaders, &[]));
const CURSOR: RequestSpec = spec("cursor", C::Read, false, true, true, Nothing, &[]);
const HOLD: RequestSpec = spec("hold", C::DecideRelease, true, false, false, Nothing, &["reason"]);
const CLEAR_HOLD: RequestSpec = spec("clear_hold", C::DecideRelease, true, false, false, Nothing, &["rationale"]);
const HOLDS: RequestSpec = spec("holds", C::Read, false, true, true, Nothing, &[]);
const WITHDRAW_RELEASE: RequestSpec =
    spec("withdraw_release", C::DecideRelease, true, true, false, Nothing, &["reason"]);
const RELEASE_STATUS: RequestSpec = spec("release_status", C::Read, false, true, true, Nothing, &[]);
const LANE_RELEASES: RequestSpec = spec("lane_releases", C::Intake, false, true, false, OwnLane, &[]);
const LANE_RELEASE: RequestSpec = spec("lane_release", C::Intake, false, true, false, OwnLane, &[]);
const INTAKE: RequestSpec = spec("intake", C::Intake, true, true, false, OwnLane, &["reason"]);
const REPORT_FINDING: RequestSpec = spec("report_finding", C::Intake, true, false, false, OwnLane, &["text"]);
const MARK_READY: RequestSpec = spec("mark_ready", C::DecideRelease, true, false, false, Nothing, &[]);
const RELEASE: RequestSpec = spec("release", C::DecideRelease, true, false, false, Nothing, &[]);
const RELEASE_PACKET: RequestSpec = spec("release_packet", C::DecideRelease, true, false, false, Nothing, &[]);
const ESCALATE: RequestSpec = spec("escalate", C::DecideRelease, true, false, false, Nothing, &["reason"]);
const READINESS: RequestSpec = spec("readiness", C::Read, false, true, true, Nothing, &[]);
const SET_RELEASE_POLICY: RequestSpec = spec("set_release_policy", C::DecideRelease, true, false, false, Nothing, &[]);
const COSIGN: RequestSpec = spec("cosign", C::Cosign, true, false, false, CosignRules, &[]);
const EXPORT: RequestSpec = spec("export", C::Read, false, true, true, Nothing, &[]);
const MANIFESTS: RequestSpec = spec("manifests", C::Read, false, true, true, Nothing, &[]);
const REQUEST_ACCESS: RequestSpec = spec("request_access", C::Read, true, false, true, Nothing, &["reason"]);
const WITHDRAW_ACCESS: RequestSpec = spec("withdraw_access", C::Read, true, true, true, OwnRecord, &[]);
const APPROVE_ACCESS: RequestSpec =
    spec("approve_access", C::GovernAccess, true, false, false, AnotherOwner, &["note"]);
const DENY_ACCESS: RequestSpec = spec("deny_access", C::GovernAccess, true, true, false, AnotherOwner, &["note"]);
const REVOKE_GRANT: RequestSpec = spec("revoke_grant", C::GovernAccess, true, true, false, Nothing, &["note"]);
const BREAK_GLASS: RequestSpec = spec("break_glass", C::Read, true, false, false, BreakGlassList, &["reason"]);
const END_BREAK_GLASS: RequestSpec = spec("end_break_glass", C::Read, true, true, false, OwnRecord, &[]);
const REQUEST_PROMOTION: RequestSpec =
    spec("request_promotion", C::Read, true, false, false, AnnexReaders, &["reason"]);
const VIEW_PROMOTION: RequestSpec =
    disclosing(spec("view_promotion", C::Read, false, true, false, PromotionParties, &[]));
const APPROVE_PROMOTION: RequestSpec =
    spec("approve_promotion", C::GovernAccess, true, false, false, AnotherOwner, &["note"]);
const DENY_PROMOTION: RequestSpec = spec("deny_promotion", C::GovernAccess, true, true, false, AnotherOwner, &["note"]);
const OVERRIDE_CHECK: RequestSpec =
    spec("override_check", C::DecideRelease, true, false, false, Nothing, &["rationale"]);
const SET_ACCESS_POLICY: RequestSpec =
    spec("set_access_policy", C::GovernAccess, true, false, false, Nothing, &["reason_pattern"]);
const ACCESS_HISTORY: RequestSpec = spec("access_history", C::Audit, false, true, false, Nothing, &["format"]);
const SUGGEST: RequestSpec = spec("suggest", C::Suggest, true, false, true, Nothing, &["op", "rationale", "evidence"]);
const SUGGEST_REGISTER: RequestSpec =
    spec("suggest_register", C::Suggest, true, false, true, Nothing, &["change", "rationale", "evidence"]);
const ACCEPT_SUGGESTION: RequestSpec =
    spec("accept_suggestion", C::DecideSuggestion, true, false, false, Nothing, &["note"]);
const REJECT_SUGGESTION: RequestSpec =
    spec("reject_suggestion", C::DecideSuggestion, true, false, false, Nothing, &["reason"]);
const WITHDRAW_SUGGESTION: RequestSpec = spec("withdraw_suggestion", C::Suggest, true, false, true, OwnRecord, &[]);
const SUGGESTIONS: RequestSpec = spec("suggestions", C::Read, false, true, true, Nothing, &[]);
const SET_SUGGESTION_ACCEPTORS: RequestSpec =
    spec("set_suggestion_acceptors", C::GovernRoom, true, false, false, Nothing, &[]);
const SET_BOUNDARY_RULES: RequestSpec =
    spec("set_boundary_rules", C::GovernRoom, true, false, false, Nothing, &["rules"]);
const STATS: RequestSpec = spec("stats", C::Read, false, true, true, Nothing, &[]);
const PING: RequestSpec = spec("ping", C::Read, false, true, true, Nothing, &[]);
const ADD_SOURCE: RequestSpec = spec("add_source", C::Suggest, true, false, true, AnnexReaders, &["records"]);
const SOURCES: RequestSpec = spec("sources", C::Read, false, true, true, Nothing, &[]);
const VIEW_SOURCE: RequestSpec = disclosing(spec("view_source", C::Read, false, true, true, AnnexReaders, &[]));
const CONFIRM_EVIDENCE: RequestSpec = spec("confirm_evidence", C::Edit, true, false, false, Nothing, &[]);

/// Every request kind's spec, in wire order (for `Request::is_type`, docs and
/// tests).
pub const TABLE: &[RequestSpec] = &[
    ROOMS,
    JOIN,
    LEAVE,
    ADD_SECTION,
    EDIT,
    OBJECT,
    REPLY,
    SET_OBJECTION_STATUS,
    VIEW_ANNEX,
    CURSOR,
    HOLD,
    CLEAR_HOLD,
    HOLDS,
    WITHDRAW_RELEASE,
    RELEASE_STATUS,
    LANE_RELEASES,
    LANE_RELEASE,
    INTAKE,
    REPORT_FINDING,
    MARK_READY,
    RELEASE,
    RELEASE_PACKET,
    ESCALATE,
    READINESS,
    SET_RELEASE_POLICY,
    COSIGN,
    EXPORT,
    MANIFESTS,
    REQUEST_ACCESS,
    WITHDRAW_ACCESS,
    APPROVE_ACCESS,
    DENY_ACCESS,
    REVOKE_GRANT,
    BREAK_GLASS,
    END_BREAK_GLASS,
    REQUEST_PROMOTION,
    VIEW_PROMOTION,
    APPROVE_PROMOTION,
    DENY_PROMOTION,
    OVERRIDE_CHECK,
    SET_ACCESS_POLICY,
    ACCESS_HISTORY,
    SUGGEST,
    SUGGEST_REGISTER,
    ACCEPT_SUGGESTION,
    REJECT_SUGGESTION,
    WITHDRAW_SUGGESTION,
    SUGGESTIONS,
    SET_SUGGESTION_ACCEPTORS,
    SET_BOUNDARY_RULES,
    STATS,
    ADD_SOURCE,
    SOURCES,
    VIEW_SOURCE,
    CONFIRM_EVIDENCE,
    PING,
];

/// Largest `seq` accepted: sequence numbers are stored as signed 64-bit
/// integers, so every valid one round-trips through storage losslessly.
pub const MAX_SEQ: u64 = i64::MAX as u64;

/// One free-text value of a request, with the field it came from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FreeText<'a> {
    pub field: &'static str,
    pub text: Cow<'a, str>,
}

fn field<'a>(field: &'static str, text: &'a str) -> FreeText<'a> {
    FreeText { field, text: Cow::Borrowed(text) }
}

fn inserted(op: &[WireComponent]) -> Cow<'_, str> {
    Cow::Owned(
        op.iter()
            .filter_map(|c| match c {
                WireComponent::Text(t) => Some(t.as_str()),
                WireComponent::Count(_) => None,
            })
            .collect::<Vec<_>>()
            .join("\n"),
    )
}

impl Request {
    /// This request kind's row of the table: the one exhaustive match over
    /// request kinds (no wildcard arm).
    pub fn spec(&self) -> RequestSpec {
        match self {
            Request::Rooms => ROOMS,
            Request::Join { .. } => JOIN,
            Request::Leave { .. } => LEAVE,
            Request::AddSection { .. } => ADD_SECTION,
            Request::Edit { .. } => EDIT,
            Request::Object { .. } => OBJECT,
            Request::Reply { .. } => REPLY,
            Request::SetObjectionStatus { .. } => SET_OBJECTION_STATUS,
            Request::ViewAnnex { .. } => VIEW_ANNEX,
            Request::Cursor { .. } => CURSOR,
            Request::Hold { .. } => HOLD,
            Request::ClearHold { .. } => CLEAR_HOLD,
            Request::Holds { .. } => HOLDS,
            Request::WithdrawRelease { .. } => WITHDRAW_RELEASE,
            Request::ReleaseStatus { .. } => RELEASE_STATUS,
            Request::LaneReleases { .. } => LANE_RELEASES,
            Request::LaneRelease { .. } => LANE_RELEASE,
            Request::Intake { .. } => INTAKE,
            Request::ReportFinding { .. } => REPORT_FINDING,
            Request::MarkReady { .. } => MARK_READY,
            Request::Release { .. } => RELEASE,
            Request::ReleasePacket { .. } => RELEASE_PACKET,
            Request::Escalate { .. } => ESCALATE,
            Request::Readiness { .. } => READINESS,
            Request::SetReleasePolicy { .. } => SET_RELEASE_POLICY,
            Request::Cosign { .. } => COSIGN,
            Request::Export { .. } => EXPORT,
            Request::Manifests { .. } => MANIFESTS,
            Request::RequestAccess { .. } => REQUEST_ACCESS,
            Request::WithdrawAccess { .. } => WITHDRAW_ACCESS,
            Request::ApproveAccess { .. } => APPROVE_ACCESS,
            Request::DenyAccess { .. } => DENY_ACCESS,
            Request::RevokeGrant { .. } => REVOKE_GRANT,
            Request::BreakGlass { .. } => BREAK_GLASS,
            Request::EndBreakGlass { .. } => END_BREAK_GLASS,
            Request::RequestPromotion { .. } => REQUEST_PROMOTION,
            Request::ViewPromotion { .. } => VIEW_PROMOTION,
            Request::ApprovePromotion { .. } => APPROVE_PROMOTION,
            Request::DenyPromotion { .. } => DENY_PROMOTION,
            Request::OverrideCheck { .. } => OVERRIDE_CHECK,
            Request::SetAccessPolicy { .. } => SET_ACCESS_POLICY,
            Request::AccessHistory { .. } => ACCESS_HISTORY,
            Request::Suggest { .. } => SUGGEST,
            Request::SuggestRegister { .. } => SUGGEST_REGISTER,
            Request::AcceptSuggestion { .. } => ACCEPT_SUGGESTION,
            Request::RejectSuggestion { .. } => REJECT_SUGGESTION,
            Request::WithdrawSuggestion { .. } => WITHDRAW_SUGGESTION,
            Request::Suggestions { .. } => SUGGESTIONS,
            Request::SetSuggestionAcceptors { .. } => SET_SUGGESTION_ACCEPTORS,
            Request::SetBoundaryRules { .. } => SET_BOUNDARY_RULES,
            Request::Stats { .. } => STATS,
            Request::AddSource { .. } => ADD_SOURCE,
            Request::Sources { .. } => SOURCES,
            Request::ViewSource { .. } => VIEW_SOURCE,
            Request::ConfirmEvidence { .. } => CONFIRM_EVIDENCE,
            Request::Ping => PING,
        }
    }

    /// The wire `type` of this request.
    pub fn kind_name(&self) -> &'static str {
        self.spec().name
    }

    /// The capability this request needs: the table's, except where the
    /// request's own content picks a stricter one.
    pub fn capability(&self) -> Capability {
        match self {
            Request::SetObjectionStatus { status: ObjectionStatus::AcceptedResidual, .. } => Capability::AcceptResidual,
            other => other.spec().capability,
        }
    }

    /// Every free-text value the request carries, named by field (the
    /// table's `free_text` names, and no others). Inserted text of an
    /// operation is reported as one value (`op`); the server also checks
    /// the section text around each edit (text can be assembled from
    /// pieces). A promotion's `passage` is not free text: it is the one
    /// audited way annex detail enters the packet.
    pub fn free_text(&self) -> Vec<FreeText<'_>> {
        match self {
            Request::Rooms
            | Request::Join { .. }
            | Request::Leave { .. }
            | Request::ViewAnnex { .. }
            | Request::Cursor { .. }
            | Request::Holds { .. }
            | Request::ReleaseStatus { .. }
            | Request::LaneReleases { .. }
            | Request::LaneRelease { .. }
            | Request::MarkReady { .. }
            | Request::Release { .. }
            | Request::ReleasePacket { .. }
            | Request::Readiness { .. }
            | Request::SetReleasePolicy { .. }
            | Request::Cosign { .. }
            | Request::Export { .. }
            | Request::Manifests { .. }
            | Request::WithdrawAccess { .. }
            | Request::EndBreakGlass { .. }
            | Request::ViewPromotion { .. }
            | Request::WithdrawSuggestion { .. }
            | Request::Suggestions { .. }
            | Request::SetSuggestionAcceptors { .. }
            | Request::Stats { .. }
            | Request::Sources { .. }
            | Request::ViewSource { .. }
            | Request::ConfirmEvidence { .. }
            | Request::Ping => Vec::new(),
            // A restricted record's text belongs to its annex (only its
            // readers may register or read it); every other field, and
            // every field of an unrestricted record, is seen by every
            // member: free text.
            Request::AddSource { records, .. } => records
                .iter()
                .flat_map(|r| {
                    let text = r.annex.is_none().then_some(&r.text);
                    [Some(&r.id), Some(&r.time), Some(&r.kind), text, Some(&r.actor), Some(&r.origin)]
                })
                .flatten()
                .filter(|t| !t.is_empty())
                .map(|t| field("records", t))
                .collect(),
            Request::AddSection { title, body, .. } => vec![field("title", title), field("body", body)],
            Request::Edit { op, .. } => vec![FreeText { field: "op", text: inserted(op) }],
            Request::Object { text, quote, .. } => {
                let mut v = vec![field("text", text)];
                v.extend(quote.as_deref().map(|q| field("quote", q)));
                v
            }
            Request::Reply { text, .. } => vec![field("text", text)],
            Request::SetObjectionStatus { rationale, .. } => {
                rationale.as_deref().map(|r| field("rationale", r)).into_iter().collect()
            }
            Request::Hold { reason, .. }
            | Request::Escalate { reason, .. }
            | Request::RequestAccess { reason, .. }
            | Request::BreakGlass { reason, .. }
            | Request::RequestPromotion { reason, .. }
            | Request::RejectSuggestion { reason, .. } => vec![field("reason", reason)],
            Request::WithdrawRelease { reason, .. } => vec![field("reason", reason)],
            Request::Intake { reason, .. } => reason.as_deref().map(|r| field("reason", r)).into_iter().collect(),
            Request::ReportFinding { text, .. } => vec![field("text", text)],
            Request::ApproveAccess { note, .. }
            | Request::DenyAccess { note, .. }
            | Request::RevokeGrant { note, .. }
            | Request::ApprovePromotion { note, .. }
            | Request::DenyPromotion { note, .. }
            | Request::AcceptSuggestion { note, .. } => note.as_deref().map(|n| field("note", n)).into_iter().collect(),
            Request::OverrideCheck { rationale, .. } | Request::ClearHold { rationale, .. } => {
                vec![field("rationale", rationale)]
            }
            Request::SetAccessPolicy { reason_pattern, .. } => {
                reason_pattern.as_deref().map(|p| field("reason_pattern", p)).into_iter().collect()
            }
            Request::AccessHistory { format, .. } => {
                format.as_deref().map(|f| field("format", f)).into_iter().collect()
            }
            Request::Suggest { op, rationale, evidence, .. } => {
                let mut v = vec![FreeText { field: "op", text: inserted(op) }, field("rationale", rationale)];
                v.extend(evidence.iter().map(|e| field("evidence", e)));
                v
            }
            Request::SuggestRegister { change, rationale, evidence, .. } => {
                let mut v = Vec::new();
                match change {
                    RegisterProposal::Reword { text, .. } => v.push(field("change", text)),
                    RegisterProposal::SetAnchor { quote: Some(q), .. } => v.push(field("change", q)),
                    RegisterProposal::SetAnchor { quote: None, .. }
                    | RegisterProposal::MergeObjections { .. }
                    | RegisterProposal::SetKind { .. } => {}
                }
                v.push(field("rationale", rationale));
                v.extend(evidence.iter().map(|e| field("evidence", e)));
                v
            }
            Request::SetBoundaryRules { rules, .. } => rules
                .iter()
                .flatten()
                .flat_map(|r| {
                    std::iter::once(r.id.as_str())
                        .chain(r.phrases.iter().map(String::as_str))
                        .chain(r.patterns.iter().map(String::as_str))
                })
                .map(|t| field("rules", t))
                .collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{Value, json};

    #[test]
    fn every_row_has_a_unique_name_and_types_are_derived() {
        let mut names: Vec<&str> = TABLE.iter().map(|s| s.name).collect();
        let n = names.len();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), n, "duplicate names in the request table");
        assert!(TABLE.iter().all(|s| Request::is_type(s.name)));
        assert!(!Request::is_type("hello"));
    }

    /// A request of kind `name` with its required fields, parsed from JSON.
    pub(crate) fn sample(name: &str) -> Request {
        let id = "00000000-0000-7000-8000-000000000001";
        let extra = match name {
            "join" | "leave" | "readiness" | "export" | "manifests" | "suggestions" | "stats" | "mark_ready"
            | "holds" | "release_status" | "lane_releases" => {
                json!({})
            }
            "add_section" => json!({"title": "T", "body": "B"}),
            "edit" => json!({"section": id, "base": 0, "op": ["x"]}),
            "object" => json!({"section": id, "kind": "other", "text": "t", "quote": "q"}),
            "reply" => json!({"objection": id, "text": "t"}),
            "set_objection_status" => json!({"objection": id, "status": "addressed", "rationale": "r"}),
            "view_annex" => json!({"annex": id}),
            "cursor" => json!({"section": id, "pos": 0}),
            "hold" | "escalate" => json!({"reason": "r"}),
            "clear_hold" => json!({"hold": 1, "rationale": "r"}),
            "withdraw_release" => json!({"manifest": "m", "reason": "r"}),
            "lane_release" => json!({"manifest": "m"}),
            "intake" => json!({"manifest": "m", "decision": "returned", "reason": "r"}),
            "report_finding" => json!({"manifest": "m", "kind": "stale-chronology", "text": "t"}),
            "release" => json!({"lane": "privacy"}),
            "release_packet" => json!({"lane": "privacy", "packet_revision": 3}),
            "set_release_policy" => json!({}),
            "cosign" => json!({"content_hash": "h", "lane": "privacy"}),
            "request_access" | "break_glass" => json!({"annexes": [id], "reason": "r"}),
            "withdraw_access" => json!({"request": id}),
            "approve_access" | "deny_access" => json!({"request": id, "note": "n"}),
            "revoke_grant" => json!({"grant": id, "note": "n"}),
            "end_break_glass" => json!({"invocation": id}),
            "request_promotion" => json!({"annex": id, "section": id, "passage": "p", "reason": "r"}),
            "view_promotion" => json!({"promotion": id}),
            "approve_promotion" | "deny_promotion" => json!({"promotion": id, "note": "n"}),
            "override_check" => json!({"check": "annex_boundary", "rationale": "r"}),
            "set_access_policy" => json!({"reason_pattern": "x"}),
            "access_history" => json!({"format": "csv"}),
            "suggest" => json!({"section": id, "base": 0, "op": ["x"], "rationale": "r", "evidence": ["e"]}),
            "suggest_register" => {
                json!({"change": {"action": "reword", "objection": id, "text": "t"}, "rationale": "r", "evidence": ["e"]})
            }
            "accept_suggestion" => json!({"suggestion": id, "note": "n"}),
            "reject_suggestion" => json!({"suggestion": id, "reason": "r"}),
            "withdraw_suggestion" => json!({"suggestion": id}),
            "set_suggestion_acceptors" => json!({"members": []}),
            "set_boundary_rules" => json!({"rules": [{"id": "x", "category": "other", "phrases": ["p"]}]}),
            "add_source" => json!({"records": [{"id": "S-1", "time": "2026-11-17T09:00Z", "kind": "k", "text": "t"}]}),
            "sources" => json!({}),
            "view_source" => json!({"source": "S-1"}),
            "confirm_evidence" => json!({"section": id, "source": "S-1"}),
            _ => json!({}),
        };
        let mut v = json!({"type": name});
        if !matches!(name, "rooms" | "ping") {
            v["room"] = json!(id);
        }
        if let (Value::Object(m), Value::Object(e)) = (&mut v, extra) {
            m.extend(e);
        }
        match serde_json::from_value(v.clone()) {
            Ok(r) => r,
            Err(e) => panic!("sample {name}: {e} in {v}"),
        }
    }

    #[test]
    fn every_kind_has_its_own_row() {
        for s in TABLE {
            let r = sample(s.name);
            assert_eq!(r.spec(), *s, "{}", s.name);
            let fields: Vec<&str> = r.free_text().iter().map(|t| t.field).collect();
            for f in &fields {
                assert!(s.free_text.contains(f), "{}: field {f} not in the table", s.name);
            }
            for f in s.free_text {
                assert!(fields.contains(f), "{}: table field {f} not reported by free_text()", s.name);
            }
        }
    }

    #[test]
    fn readers_and_agents_are_never_let_through_by_default() {
        for s in TABLE.iter().filter(|s| s.mutates) {
            // A mutating request an observer could send must be an access
            // request about themselves, never a decision.
            if s.capability == C::Read {
                assert!(
                    matches!(
                        s.name,
                        "request_access" | "withdraw_access" | "break_glass" | "end_break_glass" | "request_promotion"
                    ),
                    "{} mutates with only the read capability",
                    s.name
                );
            }
        }
        // Lane requests are the downstream members' own: nobody else has
        // the capability, and they never change the packet itself.
        for s in TABLE.iter().filter(|s| s.capability == C::Intake) {
            assert!(!s.agents && s.also == OwnLane, "{} is a lane request", s.name);
        }
        for s in TABLE.iter().filter(|s| s.agents) {
            assert!(
                matches!(s.capability, C::Read | C::Object | C::Suggest),
                "{} is open to agents with capability {:?}",
                s.name,
                s.capability
            );
        }
    }
}

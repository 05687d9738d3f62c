//! Server-side guardrails for agent members: agents only ever propose.
//!
//! An agent may read, raise objections and reply, propose suggestions and
//! withdraw its own, request annex access like anyone else (and read an
//! annex only once granted). Everything that decides, edits directly,
//! grants, promotes or changes who may do what is refused with
//! `forbidden` (and audited by the caller), whatever else the role might
//! allow: this list is the single place that says so.

use trustroom_shared::protocol::{ErrorCode, Request};
use trustroom_shared::role::Role;

use super::Refusal;

/// What an agent may never do, by request; `None` when the request is not
/// one of them (or the member is not an agent).
pub(super) fn agent_refusal(role: &Role, request: &Request) -> Option<Refusal> {
    let Role::Agent { agent_role } = role else { return None };
    let what = match request {
        Request::AddSection { .. } | Request::Edit { .. } => "edit the packet directly (agents propose suggestions)",
        Request::SetObjectionStatus { .. } => "resolve objections",
        Request::Hold { .. } => "hold the room",
        Request::MarkReady { .. } => "mark the room ready",
        Request::Release { .. } => "release the packet",
        Request::Escalate { .. } => "escalate the room",
        Request::SetReleasePolicy { .. } => "set the release policy",
        Request::Cosign { .. } => "co-sign (agents never sign)",
        Request::ApproveAccess { .. } => "approve annex access",
        Request::DenyAccess { .. } => "deny annex access",
        Request::RevokeGrant { .. } => "revoke grants",
        Request::BreakGlass { .. } => "break glass",
        Request::RequestPromotion { .. } => "promote annex content",
        Request::ApprovePromotion { .. } | Request::DenyPromotion { .. } => "decide promotions",
        Request::ViewPromotion { .. } => "read promotion passages",
        Request::OverrideCheck { .. } => "override room checks",
        Request::SetAccessPolicy { .. } => "change the access policy or membership lists",
        Request::AccessHistory { .. } => "export the access history",
        Request::AcceptSuggestion { .. } => "accept suggestions",
        Request::RejectSuggestion { .. } => "reject suggestions",
        Request::SetSuggestionAcceptors { .. } => "choose who decides suggestions",
        Request::SetBoundaryRules { .. } => "set boundary rules",
        _ => return None,
    };
    Some((ErrorCode::Forbidden, format!("agents only propose: an agent ({agent_role}) may not {what}")))
}

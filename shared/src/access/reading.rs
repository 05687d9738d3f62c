//! Who may read which annex right now, and who holds which capability.

use serde::{Deserialize, Serialize};

use crate::ids::{AccessRequestId, AnnexId, BreakGlassId, UserId};
use crate::policy::{Capability, capabilities};
use crate::role::Role;
use crate::room::RoomState;

/// How a member reads an annex.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "via", rename_all = "snake_case")]
pub enum Via {
    NeedToKnow,
    Grant { grant: AccessRequestId },
    BreakGlass { invocation: BreakGlassId },
}

impl Via {
    pub fn describe(&self) -> String {
        match self {
            Via::NeedToKnow => "need_to_know".into(),
            Via::Grant { grant } => format!("grant:{grant}"),
            Via::BreakGlass { invocation } => format!("break_glass:{invocation}"),
        }
    }
}

/// Whether (and how) `user` may read `annex`. With `now`, grants and
/// break-glass past their end no longer count even before the server's
/// timer recorded the end (the server always passes its clock).
pub fn access_via(state: &RoomState, user: UserId, annex: AnnexId, now: Option<i64>) -> Option<Via> {
    state.member(user)?;
    let a = state.annexes.get(&annex)?;
    if a.allows(user) {
        return Some(Via::NeedToKnow);
    }
    if let Some(g) =
        state.access.requests.values().find(|r| r.requester == user && r.annex == annex && r.is_active_grant(now))
    {
        return Some(Via::Grant { grant: g.id });
    }
    state
        .access
        .break_glass
        .values()
        .find(|b| b.user == user && b.annexes.contains(&annex) && b.is_active(now))
        .map(|b| Via::BreakGlass { invocation: b.id })
}

/// The annexes `user` may read per the room's records (snapshot `me.annex_access`).
pub fn annex_access(state: &RoomState, user: UserId) -> Vec<AnnexId> {
    state.annexes.keys().copied().filter(|a| access_via(state, user, *a, None).is_some()).collect()
}

/// Owners, and members the owners gave the audit capability.
pub fn is_auditor(state: &RoomState, user: UserId) -> bool {
    match state.member(user) {
        Some(m) => m.role == Role::Owner || state.access.policy.auditors.contains(&user),
        None => false,
    }
}

/// A member's capabilities: the role's, plus `audit` when delegated.
pub fn capabilities_of(state: &RoomState, user: UserId, role: &Role) -> Vec<Capability> {
    let mut caps = capabilities(role);
    // Downstream members gain nothing by delegation (an auditor or
    // acceptor list naming one changes nothing): they never join the room.
    if let Role::Downstream { .. } = role {
        return caps;
    }
    if !caps.contains(&Capability::Audit) && state.access.policy.auditors.contains(&user) {
        caps.push(Capability::Audit);
    }
    if !caps.contains(&Capability::DecideSuggestion)
        && crate::suggestion::may_decide(&state.suggestions, user, role).is_ok()
    {
        caps.push(Capability::DecideSuggestion);
    }
    caps
}

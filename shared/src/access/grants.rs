//! Access requests and the grants they become: records, lifecycle,
//! folding of overlapping requests, who may decide, and expiry.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::ids::{AccessRequestId, AnnexId, UserId};
use crate::role::{ParseEnumError, Role, kebab_enum_text};
use crate::room::RoomState;

/// What a request asks to do with an annex. Only reading exists today.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum AccessScope {
    #[default]
    Read,
}

/// An access request's status.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum RequestStatus {
    Requested,
    Approved,
    Denied,
    Withdrawn,
    Expired,
    Revoked,
}

kebab_enum_text!(RequestStatus, "request status", [
    RequestStatus::Requested => "requested",
    RequestStatus::Approved => "approved",
    RequestStatus::Denied => "denied",
    RequestStatus::Withdrawn => "withdrawn",
    RequestStatus::Expired => "expired",
    RequestStatus::Revoked => "revoked",
]);

/// Whether `from → to` is a legal move (one-way lifecycle).
pub fn request_move_allowed(from: RequestStatus, to: RequestStatus) -> bool {
    use RequestStatus::*;
    matches!((from, to), (Requested, Approved | Denied | Withdrawn) | (Approved, Expired | Revoked))
}

/// Who decided, with an optional note, and when.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Decided {
    pub by: UserId,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    pub at_ms: i64,
}

/// Why a grant or break-glass ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum EndCause {
    /// Its time ran out (enforced by the server's clock).
    Expired,
    /// An owner revoked the grant.
    Revoked,
    /// The member left (or was removed from) the room.
    MemberLeft,
    /// The invoker or an owner ended a break-glass early.
    EndedEarly,
}

kebab_enum_text!(EndCause, "end cause", [
    EndCause::Expired => "expired",
    EndCause::Revoked => "revoked",
    EndCause::MemberLeft => "member-left",
    EndCause::EndedEarly => "ended-early",
]);

/// How a grant or break-glass ended.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ended {
    pub at_ms: i64,
    /// Who ended it ([`SYSTEM`](super::SYSTEM) for expiry and departures).
    pub by: UserId,
    pub cause: EndCause,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// What a later, overlapping request folded into.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum FoldInto {
    /// A pending request: its duration becomes the longer of the two.
    Pending,
    /// An active grant: nothing changes (timers never stack).
    Grant,
}

/// A later request for the same member, annex and scope, folded into an
/// existing record instead of becoming a second one.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Fold {
    pub reason: String,
    pub duration_ms: u64,
    pub at_ms: i64,
    pub into: FoldInto,
}

/// A request for access to one annex; once approved, the grant it became.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccessRequest {
    pub id: AccessRequestId,
    /// Per-room number, shown as `R-N`.
    pub number: u32,
    pub requester: UserId,
    pub annex: AnnexId,
    #[serde(default)]
    pub scope: AccessScope,
    pub reason: String,
    pub duration_ms: u64,
    pub at_ms: i64,
    pub status: RequestStatus,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub decided: Option<Decided>,
    /// Set on approval: the grant ends here at the latest.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ended: Option<Ended>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub folds: Vec<Fold>,
}

impl AccessRequest {
    /// `R-N`.
    pub fn code(&self) -> String {
        format!("R-{}", self.number)
    }

    pub fn is_pending(&self) -> bool {
        self.status == RequestStatus::Requested
    }

    /// An approved grant not yet ended; with `now`, also not past its expiry.
    pub fn is_active_grant(&self, now: Option<i64>) -> bool {
        self.status == RequestStatus::Approved && now.is_none_or(|n| self.expires_at.is_some_and(|e| n < e))
    }
}

/// Why a member may not decide a request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DecideRefusal {
    /// Only owners approve and deny.
    NotOwner,
    /// Nobody decides their own request; another owner must.
    OwnRequest,
}

/// Whether `approver` may decide a request (or promotion) by `requester`.
/// Self-approval is impossible by construction: an owner's own request
/// waits for another owner.
pub fn may_decide(state: &RoomState, approver: UserId, requester: UserId) -> Result<(), DecideRefusal> {
    match state.member(approver) {
        Some(m) if m.role == Role::Owner => {}
        _ => return Err(DecideRefusal::NotOwner),
    }
    if approver == requester {
        return Err(DecideRefusal::OwnRequest);
    }
    Ok(())
}

/// Owners other than `requester` who could decide their request.
pub fn possible_approvers(state: &RoomState, requester: UserId) -> Vec<UserId> {
    state.owners().map(|m| m.user).filter(|u| *u != requester).collect()
}

/// The record a new request for (`requester`, `annex`, `scope`) folds into:
/// a pending request, or an active grant.
pub fn fold_target(
    state: &RoomState,
    requester: UserId,
    annex: AnnexId,
    scope: AccessScope,
    now: i64,
) -> Option<(AccessRequestId, FoldInto)> {
    let same = |r: &&AccessRequest| r.requester == requester && r.annex == annex && r.scope == scope;
    if let Some(r) = state.access.requests.values().filter(same).find(|r| r.is_pending()) {
        return Some((r.id, FoldInto::Pending));
    }
    state.access.requests.values().filter(same).find(|r| r.is_active_grant(Some(now))).map(|r| (r.id, FoldInto::Grant))
}

/// Approved grants whose time is up at `now`.
pub fn due_grants(state: &RoomState, now: i64) -> Vec<AccessRequestId> {
    state
        .access
        .requests
        .values()
        .filter(|r| r.status == RequestStatus::Approved && r.expires_at.is_some_and(|e| e <= now))
        .map(|r| r.id)
        .collect()
}

impl FromStr for AccessScope {
    type Err = ParseEnumError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "read" => Ok(AccessScope::Read),
            _ => Err(ParseEnumError { what: "access scope", value: s.into(), expected: "read" }),
        }
    }
}

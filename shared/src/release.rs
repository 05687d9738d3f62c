//! Release state: drafting → held / ready → released / escalated.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::ids::UserId;
use crate::role::{Discipline, ParseEnumError, kebab_enum_text};

/// A downstream review lane.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Lane {
    Privacy,
    ProductSecurity,
    AccountGovernance,
}

kebab_enum_text!(Lane, "lane", [
    Lane::Privacy => "privacy",
    Lane::ProductSecurity => "product-security",
    Lane::AccountGovernance => "account-governance",
]);

/// The room's release state.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "kebab-case")]
pub enum ReleaseState {
    Drafting,
    Held { reasons: Vec<String>, by: UserId, at_ms: i64 },
    Ready { revision: u64, by: UserId, at_ms: i64 },
    Released { revision: u64, content_hash: String, lane: Lane, by: UserId, at_ms: i64 },
    Escalated { reason: String, by: UserId, at_ms: i64 },
}

impl ReleaseState {
    /// Upper-case name for status bars.
    pub fn name(&self) -> &'static str {
        match self {
            ReleaseState::Drafting => "DRAFTING",
            ReleaseState::Held { .. } => "HELD",
            ReleaseState::Ready { .. } => "READY",
            ReleaseState::Released { .. } => "RELEASED",
            ReleaseState::Escalated { .. } => "ESCALATED",
        }
    }

    /// Escalated rooms are read-only for everyone.
    pub fn is_read_only(&self) -> bool {
        matches!(self, ReleaseState::Escalated { .. })
    }
}

/// Co-signatures a room requires besides the owner's release: named
/// members, and one member of each named reviewer discipline.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReleasePolicy {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub members: Vec<UserId>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub disciplines: Vec<Discipline>,
}

impl ReleasePolicy {
    /// True when no co-signature is required.
    pub fn is_empty(&self) -> bool {
        self.members.is_empty() && self.disciplines.is_empty()
    }

    /// The same policy with members and disciplines sorted and deduplicated.
    pub fn normalized(mut self) -> Self {
        self.members.sort();
        self.members.dedup();
        self.disciplines.sort();
        self.disciplines.dedup();
        self
    }
}

/// One co-signature: a member's statement that they reviewed the packet
/// with this exact content hash. Any later content change voids it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Cosignature {
    pub user: UserId,
    pub name: String,
    /// The signer's role label when signing (`reviewer/privacy`, …).
    pub role: String,
    /// The signer's discipline, for reviewers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub discipline: Option<Discipline>,
    /// The packet revision signed (the room's `content_revision` then).
    pub revision: u64,
    /// The content hash signed.
    pub content_hash: String,
    pub at_ms: i64,
    /// The revision of the content change that voided it; `None` while valid.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub voided_at: Option<u64>,
}

impl Cosignature {
    pub fn is_valid(&self) -> bool {
        self.voided_at.is_none()
    }
}

/// The newest release of the room, kept after the release state moves on
/// (hold, ready, escalate) so staleness stays visible.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LastRelease {
    /// The packet revision released (the newest content change then).
    pub revision: u64,
    pub content_hash: String,
    pub lane: Lane,
    pub by: UserId,
    pub at_ms: i64,
    /// The room revision of the `release_changed` event.
    pub release_revision: u64,
    /// The revision of the first content change after the release.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub superseded_at: Option<u64>,
}

impl LastRelease {
    /// `RELEASED rev N` or `RELEASED rev N — superseded at rev M`.
    pub fn status_line(&self) -> String {
        match self.superseded_at {
            Some(m) => format!("RELEASED rev {} — superseded at rev {m}", self.revision),
            None => format!("RELEASED rev {}", self.revision),
        }
    }
}

/// Start of the reason of the automatic hold placed when the packet changes
/// after the owner marked it ready (the "release rules" room check).
pub const RELEASE_RULES_HOLD: &str = "room check failed: release rules";

/// The reason of that automatic hold.
pub fn release_rules_hold_reason(content_revision: u64, ready_revision: u64) -> String {
    format!(
        "{RELEASE_RULES_HOLD}: the room changed at rev {content_revision} after it was marked ready at rev \
         {ready_revision}; review it and mark it ready again"
    )
}

/// Why a release may not happen from the current release state.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ReleaseRefusal {
    /// The room is not ready (nor released at this very packet revision):
    /// answered with `conflict`.
    NotReady(String),
    /// The content changed since the owner marked it ready (or since the
    /// release being repeated): answered with `stale`.
    Stale(String),
}

/// The state-machine part of `release`: legal from `READY` when nothing
/// changed since the reviewed packet revision, and from `RELEASED` when
/// nothing changed since that release (a repeat, e.g. to another lane).
/// Blockers and co-signatures are checked separately.
pub fn release_precondition(release: &ReleaseState, content_revision: u64) -> Result<(), ReleaseRefusal> {
    match release {
        ReleaseState::Ready { revision, .. } | ReleaseState::Released { revision, .. } if content_revision > *revision => {
            let what = if matches!(release, ReleaseState::Ready { .. }) { "marked ready" } else { "released" };
            Err(ReleaseRefusal::Stale(format!(
                "the room changed at rev {content_revision} after it was {what} at rev {revision}; review it and mark it ready again"
            )))
        }
        ReleaseState::Ready { .. } | ReleaseState::Released { .. } => Ok(()),
        ReleaseState::Held { reasons, .. } if reasons.iter().any(|r| r.starts_with(RELEASE_RULES_HOLD)) => {
            Err(ReleaseRefusal::Stale(reasons.join("; ")))
        }
        other => Err(ReleaseRefusal::NotReady(format!("the room is {}; mark it ready first", other.name()))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn release_needs_ready_and_no_change_since() {
        let by = UserId(uuid::Uuid::nil());
        let ready = ReleaseState::Ready { revision: 5, by, at_ms: 0 };
        assert_eq!(release_precondition(&ready, 5), Ok(()));
        assert!(matches!(release_precondition(&ready, 6), Err(ReleaseRefusal::Stale(_))));
        let released = ReleaseState::Released { revision: 5, content_hash: String::new(), lane: Lane::Privacy, by, at_ms: 0 };
        assert_eq!(release_precondition(&released, 5), Ok(()), "a repeat of the same packet revision");
        assert!(matches!(release_precondition(&released, 7), Err(ReleaseRefusal::Stale(_))));
        for state in [
            ReleaseState::Drafting,
            ReleaseState::Held { reasons: vec![], by, at_ms: 0 },
            ReleaseState::Escalated { reason: String::new(), by, at_ms: 0 },
        ] {
            assert!(matches!(release_precondition(&state, 5), Err(ReleaseRefusal::NotReady(_))));
        }
    }
}

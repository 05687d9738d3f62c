//! Downstream lanes talking back: a downstream member (`Role::Downstream`)
//! is scoped to one lane. It reads only the releases bound to its lane,
//! records an intake decision per release (accepted, or returned with a
//! reason) and reports findings discovered after the handoff, pinned to a
//! release's manifest hash. A finding opens a blocking objection in the
//! room, marked *found downstream*.
//!
//! Pure rules only; the server's handler is `server/src/room/downstream.rs`.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::ids::UserId;
use crate::objection::ObjectionKind;
use crate::release::Lane;
use crate::release_status::{StatusBody, StatusKind};
use crate::role::{ParseEnumError, Role, kebab_enum_text};
use crate::room::RoomState;

/// A downstream lane's decision on one release.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum IntakeDecision {
    /// Accepted for intake.
    Accepted,
    /// Returned to the room, with a reason.
    Returned,
}

kebab_enum_text!(IntakeDecision, "intake decision", [
    IntakeDecision::Accepted => "accepted",
    IntakeDecision::Returned => "returned",
]);

/// One intake decision, kept as history: the newest per (member, release)
/// is the current one.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Intake {
    /// The release decided on.
    pub manifest_hash: String,
    /// The room revision of that release's (first) release event.
    pub release_revision: u64,
    pub lane: Lane,
    pub by: UserId,
    pub decision: IntakeDecision,
    /// Required when returned.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    pub at_ms: i64,
    /// The room revision of this decision.
    pub revision: u64,
}

/// What a downstream lane found after the handoff.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum FindingKind {
    /// A disagreement the packet should have shown and did not.
    HiddenObjection,
    /// The chronology is out of date.
    StaleChronology,
    /// More annex material was exposed than the lane needs.
    OverBroadAnnexExposure,
    /// A statement needs correcting.
    CorrectionNeeded,
}

kebab_enum_text!(FindingKind, "finding kind", [
    FindingKind::HiddenObjection => "hidden-objection",
    FindingKind::StaleChronology => "stale-chronology",
    FindingKind::OverBroadAnnexExposure => "over-broad-annex-exposure",
    FindingKind::CorrectionNeeded => "correction-needed",
]);

impl FindingKind {
    /// Every kind, in wire order.
    pub const ALL: [FindingKind; 4] = [
        FindingKind::HiddenObjection,
        FindingKind::StaleChronology,
        FindingKind::OverBroadAnnexExposure,
        FindingKind::CorrectionNeeded,
    ];

    /// The register's kind for the objection a finding opens.
    pub fn objection_kind(self) -> ObjectionKind {
        match self {
            FindingKind::HiddenObjection => ObjectionKind::Other,
            FindingKind::StaleChronology => ObjectionKind::EvidenceSufficiency,
            FindingKind::OverBroadAnnexExposure => ObjectionKind::ExposureScope,
            FindingKind::CorrectionNeeded => ObjectionKind::Wording,
        }
    }
}

/// The mark of an objection a downstream lane opened: which release it is
/// pinned to and what kind of finding it is.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FoundDownstream {
    pub manifest_hash: String,
    /// The room revision of the release event it is pinned to.
    pub release_revision: u64,
    pub lane: Lane,
    pub finding: FindingKind,
}

/// The lane of a downstream member, `None` for every other role.
pub fn lane_of(role: &Role) -> Option<Lane> {
    match role {
        Role::Downstream { lane } => Some(*lane),
        Role::Owner | Role::Reviewer { .. } | Role::Agent { .. } | Role::Observer => None,
    }
}

/// A manifest hash as sent by a client: 64 hex characters (any case,
/// surrounding blanks ignored); lower-case on success.
pub fn manifest_hash(text: &str) -> Result<String, String> {
    let h = text.trim().to_lowercase();
    if h.len() != 64 || !h.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err("`manifest` is a manifest hash: 64 hex characters, as `lane releases` prints it".into());
    }
    Ok(h)
}

/// Why a release is no longer current, if it is not.
pub fn status_why(status: &StatusKind) -> Option<String> {
    match status {
        StatusKind::Current => None,
        StatusKind::Superseded { why, .. } => Some(why.clone()),
        StatusKind::Withdrawn { reason, .. } => Some(format!("withdrawn: {reason}")),
    }
}

/// The current intake decision of `user` on release `manifest_hash`.
pub fn current_intake<'a>(state: &'a RoomState, user: UserId, manifest_hash: &str) -> Option<&'a Intake> {
    state.intakes.iter().rev().find(|i| i.by == user && i.manifest_hash == manifest_hash)
}

/// One release of a lane, as its downstream members see it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LaneReleaseEntry {
    pub manifest_hash: String,
    pub packet_revision: u64,
    /// The room revision of its (first) release event.
    pub release_revision: u64,
    pub released_at_ms: i64,
    /// `current`, `superseded` or `withdrawn`.
    pub status: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub why: Option<String>,
    /// The asking member's current intake decision, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub intake: Option<IntakeDecision>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub intake_reason: Option<String>,
    /// Findings reported on this release (by anyone of the lane).
    pub findings: u64,
}

/// The releases of `lane` (oldest first) as `user` sees them, from the
/// room's release statuses and the release times (`released_at`:
/// manifest hash → time of its first release event).
pub fn lane_releases(
    state: &RoomState,
    statuses: &[StatusBody],
    released_at: impl Fn(&str) -> i64,
    user: UserId,
    lane: Lane,
) -> Vec<LaneReleaseEntry> {
    statuses
        .iter()
        .filter(|s| s.lane == lane)
        .map(|s| {
            let intake = current_intake(state, user, &s.manifest_hash);
            LaneReleaseEntry {
                manifest_hash: s.manifest_hash.clone(),
                packet_revision: s.packet_revision,
                release_revision: s.release_revision,
                released_at_ms: released_at(&s.manifest_hash),
                status: s.status.name().to_string(),
                why: status_why(&s.status),
                intake: intake.map(|i| i.decision),
                intake_reason: intake.and_then(|i| i.reason.clone()),
                findings: findings_on(state, &s.manifest_hash) as u64,
            }
        })
        .collect()
}

/// How many objections were found downstream on release `manifest_hash`.
pub fn findings_on(state: &RoomState, manifest_hash: &str) -> usize {
    state
        .objections
        .values()
        .filter(|o| o.found_downstream.as_ref().is_some_and(|f| f.manifest_hash == manifest_hash))
        .count()
}

/// Why an intake decision is refused, before anything is recorded: a
/// returned release needs a reason; a withdrawn release takes no decision.
pub fn intake_refusal(
    decision: IntakeDecision,
    reason: Option<&str>,
    status: &StatusKind,
) -> Option<(IntakeRefusal, String)> {
    if let StatusKind::Withdrawn { .. } = status {
        return Some((IntakeRefusal::Conflict, "this release was withdrawn: it takes no intake decision".into()));
    }
    match (decision, reason) {
        (IntakeDecision::Returned, None) => {
            Some((IntakeRefusal::Invalid, "a returned release needs a `reason` (why it goes back)".into()))
        }
        (IntakeDecision::Returned, Some(r)) if crate::blank::is_blank(r) => {
            Some((IntakeRefusal::Invalid, "`reason` must not be empty (or only invisible characters)".into()))
        }
        (IntakeDecision::Accepted, Some(_)) => {
            Some((IntakeRefusal::Invalid, "an accepted release takes no `reason`".into()))
        }
        (IntakeDecision::Returned, Some(_)) | (IntakeDecision::Accepted, None) => None,
    }
}

/// The kind of refusal of [`intake_refusal`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IntakeRefusal {
    Invalid,
    Conflict,
}

/// `found downstream (LANE, KIND)`: how people read the mark.
impl fmt::Display for FoundDownstream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "found downstream ({}, {})", self.lane, self.finding)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_downstream_members_have_the_intake_capability_and_nothing_else() {
        use crate::policy::{Capability, capabilities};
        use crate::role::{AgentRole, Discipline};
        for lane in Lane::ALL {
            let role = Role::Downstream { lane };
            assert_eq!(capabilities(&role), vec![Capability::Intake]);
            assert_eq!(lane_of(&role), Some(lane));
        }
        for role in [
            Role::Owner,
            Role::Observer,
            Role::Reviewer { discipline: Discipline::Privacy },
            Role::Agent { agent_role: AgentRole::Chronology },
        ] {
            assert!(!capabilities(&role).contains(&Capability::Intake), "{}", role.label());
            assert_eq!(lane_of(&role), None);
        }
    }

    #[test]
    fn kinds_and_decisions_round_trip_through_their_text() {
        for k in FindingKind::ALL {
            assert_eq!(k.to_string().parse::<FindingKind>().ok(), Some(k));
        }
        assert!("hidden_objection".parse::<FindingKind>().is_err());
        assert_eq!("returned".parse::<IntakeDecision>().ok(), Some(IntakeDecision::Returned));
    }

    #[test]
    fn a_manifest_hash_is_64_hex_characters() {
        let h = "A".repeat(64);
        assert_eq!(manifest_hash(&format!(" {h} ")).ok(), Some("a".repeat(64)));
        for bad in ["", "abc", &"g".repeat(64), &"a".repeat(65), &"a".repeat(63)] {
            assert!(manifest_hash(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn returned_needs_a_reason_and_withdrawn_takes_nothing() {
        use IntakeDecision::*;
        let cur = StatusKind::Current;
        assert_eq!(intake_refusal(Returned, None, &cur).map(|r| r.0), Some(IntakeRefusal::Invalid));
        assert_eq!(intake_refusal(Returned, Some("\u{200b} "), &cur).map(|r| r.0), Some(IntakeRefusal::Invalid));
        assert_eq!(intake_refusal(Accepted, Some("x"), &cur).map(|r| r.0), Some(IntakeRefusal::Invalid));
        assert!(intake_refusal(Returned, Some("stale"), &cur).is_none());
        assert!(intake_refusal(Accepted, None, &cur).is_none());
        let w = StatusKind::Withdrawn { reason: "r".into(), by: "o".into(), at_ms: 0, at_revision: 3 };
        assert_eq!(intake_refusal(Accepted, None, &w).map(|r| r.0), Some(IntakeRefusal::Conflict));
    }
}

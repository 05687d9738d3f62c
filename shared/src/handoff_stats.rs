//! The measures the handoff is judged by, from the room state and its
//! revision log (deterministic: the same log gives the same figures):
//! time spent held, per kind of hold; time to each release; releases
//! superseded or withdrawn after the handoff (post-approval corrections),
//! and why.
//!
//! Downstream lanes talking back: per release, the findings reported
//! after the handoff (per kind), the found-later rate, and the releases
//! accepted for intake without ever being returned.
//!
//! Time to maintain stale evidence comes from the source records and
//! evidence bindings in the log (`evidence::maintain_time`).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::change::{Change, Revision};
use crate::holds::HoldActor;
use crate::release::{Lane, ReleaseState};
use crate::room::RoomState;

/// Time held for one kind of hold.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct HeldFor {
    /// `owner` (a member's hold) or the check's title (`annex boundary`).
    pub kind: String,
    pub holds: u64,
    pub open: u64,
    /// Sum of each hold's time open (an open hold counts up to the newest
    /// revision's time).
    pub total_ms: i64,
    /// The longest single hold.
    pub longest_ms: i64,
}

/// One release and what became of it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReleaseFate {
    /// The room revision of the release.
    pub revision: u64,
    pub packet_revision: u64,
    pub lane: Lane,
    /// Time from the room's opening to this release.
    pub after_ms: i64,
    /// `current`, `superseded` or `withdrawn`.
    pub fate: String,
    /// Why, for a superseded or withdrawn release.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub why: Option<String>,
}

/// The handoff measures.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct HandoffStats {
    /// Per kind of hold, sorted by kind.
    pub held: Vec<HeldFor>,
    /// Every release, oldest first.
    pub releases: Vec<ReleaseFate>,
    /// Releases superseded by a later change (post-approval corrections).
    pub superseded: u64,
    /// Releases an owner withdrew.
    pub withdrawn: u64,
    /// Time to maintain stale evidence (see `evidence`).
    #[serde(default)]
    pub maintain: crate::evidence::MaintainTime,
    /// What downstream lanes said back (absent while none did).
    #[serde(default, skip_serializing_if = "DownstreamMeasures::is_empty")]
    pub downstream: DownstreamMeasures,
}

/// One release as its downstream lane took it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LaneIntake {
    /// The room revision of the release.
    pub revision: u64,
    pub packet_revision: u64,
    pub lane: Lane,
    /// Findings reported after the handoff, per kind (`stale-chronology` …).
    pub found_later: BTreeMap<String, u64>,
    pub findings: u64,
    /// Members of the lane whose current decision is accepted.
    pub accepted: u64,
    /// Times the release was returned (any member, any time).
    pub returned: u64,
}

/// The downstream measures.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DownstreamMeasures {
    /// Every release, oldest first.
    pub releases: Vec<LaneIntake>,
    /// Findings reported after the handoff, over all releases.
    pub findings: u64,
    /// Releases with at least one finding …
    pub releases_with_findings: u64,
    /// … per thousand releases (the found-later rate; 0 without releases).
    pub found_later_per_mille: u64,
    /// Releases accepted for intake and never returned by anyone.
    pub accepted_never_returned: u64,
}

impl DownstreamMeasures {
    pub fn is_empty(&self) -> bool {
        self.findings == 0 && self.releases.iter().all(|r| r.accepted == 0 && r.returned == 0)
    }

    /// `N of M releases (R‰)`: the found-later rate as people read it.
    pub fn rate_text(&self) -> String {
        format!(
            "{} of {} release(s) had findings later ({}.{}%)",
            self.releases_with_findings,
            self.releases.len(),
            self.found_later_per_mille / 10,
            self.found_later_per_mille % 10
        )
    }

    /// One release's line: its findings per kind and its intake.
    pub fn release_text(r: &LaneIntake) -> String {
        let kinds: Vec<String> = r.found_later.iter().map(|(k, n)| format!("{k} {n}")).collect();
        let kinds = if kinds.is_empty() { "no findings".to_string() } else { kinds.join(", ") };
        format!(
            "packet rev {} to {} at rev {}: {kinds}; accepted by {}, returned {} time(s)",
            r.packet_revision, r.lane, r.revision, r.accepted, r.returned
        )
    }
}

fn downstream(state: &RoomState, releases: &[ReleaseFate]) -> DownstreamMeasures {
    use crate::downstream::IntakeDecision;
    let mut seen = std::collections::BTreeSet::new();
    let mut out: Vec<LaneIntake> = Vec::new();
    for f in releases {
        // One entry per release event; a findings' or decision's release
        // revision names the first event of its manifest.
        if !seen.insert(f.revision) {
            continue;
        }
        let mut found_later = BTreeMap::new();
        for o in state.objections.values() {
            if let Some(d) = o.found_downstream.as_ref().filter(|d| d.release_revision == f.revision) {
                *found_later.entry(d.finding.to_string()).or_insert(0) += 1;
            }
        }
        let of_release: Vec<&crate::downstream::Intake> =
            state.intakes.iter().filter(|i| i.release_revision == f.revision).collect();
        let mut current: BTreeMap<crate::ids::UserId, IntakeDecision> = BTreeMap::new();
        for i in &of_release {
            current.insert(i.by, i.decision);
        }
        out.push(LaneIntake {
            revision: f.revision,
            packet_revision: f.packet_revision,
            lane: f.lane,
            findings: found_later.values().sum(),
            found_later,
            accepted: current.values().filter(|d| **d == IntakeDecision::Accepted).count() as u64,
            returned: of_release.iter().filter(|i| i.decision == IntakeDecision::Returned).count() as u64,
        });
    }
    let findings = out.iter().map(|r| r.findings).sum();
    let with = out.iter().filter(|r| r.findings > 0).count() as u64;
    let rate = if out.is_empty() { 0 } else { with * 1000 / out.len() as u64 };
    let never_returned = out.iter().filter(|r| r.accepted > 0 && r.returned == 0).count() as u64;
    DownstreamMeasures {
        releases: out,
        findings,
        releases_with_findings: with,
        found_later_per_mille: rate,
        accepted_never_returned: never_returned,
    }
}

/// Computes the handoff measures of `state` from `log` (revisions up to
/// `state.revision`, oldest first).
pub fn compute(state: &RoomState, log: &[&Revision]) -> HandoffStats {
    let now = log.last().map_or(state.created_ms, |r| r.at_ms);
    let mut held: BTreeMap<String, HeldFor> = BTreeMap::new();
    for h in &state.holds {
        let kind = match h.placed_by {
            HoldActor::Member { .. } => "owner".to_string(),
            HoldActor::Check { check } => check.title().to_string(),
        };
        let until = h.cleared.as_ref().map_or(now, |c| c.at_ms);
        let ms = (until - h.at_ms).max(0);
        let e = held.entry(kind.clone()).or_insert(HeldFor { kind, holds: 0, open: 0, total_ms: 0, longest_ms: 0 });
        e.holds += 1;
        e.open += u64::from(h.is_open());
        e.total_ms += ms;
        e.longest_ms = e.longest_ms.max(ms);
    }
    // Releases from the log; the first content change after each, and the
    // next release of a newer packet revision.
    let mut releases: Vec<ReleaseFate> = Vec::new();
    let mut content_after: Vec<Option<u64>> = Vec::new();
    for r in log {
        if let Change::ReleaseChanged { release: ReleaseState::Released { revision, lane, .. } } = &r.change {
            releases.push(ReleaseFate {
                revision: r.revision,
                packet_revision: *revision,
                lane: *lane,
                after_ms: r.at_ms - state.created_ms,
                fate: "current".into(),
                why: None,
            });
            content_after.push(None);
        } else if r.change.touches_content() {
            for (f, c) in releases.iter().zip(content_after.iter_mut()) {
                if c.is_none() && r.revision > f.revision {
                    *c = Some(r.revision);
                }
            }
        }
    }
    let snapshot: Vec<(u64, u64, Lane)> = releases.iter().map(|f| (f.revision, f.packet_revision, f.lane)).collect();
    let (mut superseded, mut withdrawn) = (0, 0);
    for (i, f) in releases.iter_mut().enumerate() {
        if let Some(w) = state.withdrawals.iter().find(|w| w.release_revision == Some(f.revision)) {
            f.fate = "withdrawn".into();
            f.why = Some(crate::export::redact_sensitive(&w.reason, state.annexes.values()).0);
            withdrawn += 1;
            continue;
        }
        let newer = snapshot.iter().skip(i + 1).find(|(_, packet, _)| *packet > f.packet_revision);
        let why = match (newer, content_after[i]) {
            (Some((rev, packet, lane)), _) => {
                Some(format!("packet rev {packet} was released to the {lane} lane at rev {rev}"))
            }
            (None, Some(at)) => Some(format!("the packet changed at rev {at}; nothing newer released yet")),
            (None, None) => None,
        };
        if let Some(why) = why {
            f.fate = "superseded".into();
            f.why = Some(why);
            superseded += 1;
        }
    }
    let maintain = crate::evidence::maintain_time(log);
    let downstream = downstream(state, &releases);
    HandoffStats { held: held.into_values().collect(), releases, superseded, withdrawn, maintain, downstream }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::downstream::{FindingKind, FoundDownstream, Intake, IntakeDecision};
    use crate::ids::{ObjectionId, RoomId, SectionId, UserId};
    use crate::objection::{Anchor, Objection, ObjectionStatus};

    fn fate(revision: u64) -> ReleaseFate {
        ReleaseFate {
            revision,
            packet_revision: revision - 1,
            lane: Lane::Privacy,
            after_ms: 0,
            fate: "current".into(),
            why: None,
        }
    }

    fn intake(release_revision: u64, by: UserId, decision: IntakeDecision) -> Intake {
        Intake {
            manifest_hash: format!("{release_revision:064}"),
            release_revision,
            lane: Lane::Privacy,
            by,
            decision,
            reason: (decision == IntakeDecision::Returned).then(|| "stale".to_string()),
            at_ms: 0,
            revision: 0,
        }
    }

    #[test]
    fn findings_per_kind_the_found_later_rate_and_releases_accepted_never_returned() {
        let mut state = RoomState::new(RoomId(uuid::Uuid::nil()), "t".into(), 0);
        let dana = UserId(uuid::Uuid::from_u128(7));
        for (n, kind) in
            [(1, FindingKind::StaleChronology), (2, FindingKind::StaleChronology), (3, FindingKind::HiddenObjection)]
        {
            let o = Objection {
                id: ObjectionId::new(),
                number: n,
                author: dana,
                anchor: Anchor { section: SectionId(uuid::Uuid::nil()), statement: None, quote: None },
                kind: kind.objection_kind(),
                blocking: true,
                text: "x".into(),
                status: ObjectionStatus::Open,
                rationale: None,
                replies: Vec::new(),
                history: Vec::new(),
                at_ms: 0,
                found_downstream: Some(FoundDownstream {
                    manifest_hash: format!("{:064}", 5),
                    release_revision: 5,
                    lane: Lane::Privacy,
                    finding: kind,
                }),
            };
            state.objections.insert(o.id, o);
        }
        // Release 5: returned, then accepted. Release 9: accepted only. Release 12: nothing.
        state.intakes = vec![
            intake(5, dana, IntakeDecision::Returned),
            intake(5, dana, IntakeDecision::Accepted),
            intake(9, dana, IntakeDecision::Accepted),
        ];
        let d = downstream(&state, &[fate(5), fate(9), fate(12)]);
        assert_eq!(d.findings, 3);
        assert_eq!(d.releases[0].found_later.get("stale-chronology"), Some(&2));
        assert_eq!(d.releases[0].found_later.get("hidden-objection"), Some(&1));
        assert_eq!((d.releases[0].accepted, d.releases[0].returned), (1, 1));
        assert_eq!(d.releases_with_findings, 1);
        assert_eq!(d.found_later_per_mille, 333);
        assert_eq!(d.accepted_never_returned, 1, "release 9 only");
        assert!(!d.is_empty());
        assert!(downstream(&RoomState::new(RoomId(uuid::Uuid::nil()), "t".into(), 0), &[fate(5)]).is_empty());
    }
}

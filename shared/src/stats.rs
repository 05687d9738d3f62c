//! The room's working metrics: how suggestions fare per role and per
//! human, how the register moves, how long the room took to readiness and
//! release, annex access, and per-bucket activity for sparklines.
//!
//! Pure: computed from the room state and its revision log (and, for the
//! `stats` request, the number of annex views in the audit log). The same
//! state and log give the same numbers (the export relies on it).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::change::{Change, Revision};
use crate::ids::{RoomId, UserId};
use crate::objection::ObjectionStatus;
use crate::release::ReleaseState;
use crate::role::Role;
use crate::room::RoomState;
use crate::suggestion::SuggestionStatus;

/// Buckets in each time series.
pub const SERIES_BUCKETS: usize = 24;

/// Suggestion outcomes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Outcomes {
    pub proposed: u64,
    pub open: u64,
    pub accepted: u64,
    pub rejected: u64,
    pub conflicting: u64,
    pub withdrawn: u64,
    /// Proposed suggestions that tripped a boundary rule.
    pub flagged: u64,
}

impl Outcomes {
    fn count(&mut self, status: SuggestionStatus, flagged: bool) {
        self.proposed += 1;
        match status {
            SuggestionStatus::Open => self.open += 1,
            SuggestionStatus::Accepted => self.accepted += 1,
            SuggestionStatus::Rejected => self.rejected += 1,
            SuggestionStatus::Conflicting => self.conflicting += 1,
            SuggestionStatus::Withdrawn => self.withdrawn += 1,
        }
        if flagged {
            self.flagged += 1;
        }
    }

    /// Rejected share of decided (accepted + rejected) suggestions, in
    /// percent; `None` before any decision.
    pub fn rejection_pct(&self) -> Option<u64> {
        let decided = self.accepted + self.rejected;
        (decided > 0).then(|| (self.rejected * 100 + decided / 2) / decided)
    }
}

/// Outcomes of one role (`agent/chronology`, `reviewer/privacy`, `owner`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RoleOutcomes {
    pub role: String,
    #[serde(flatten)]
    pub outcomes: Outcomes,
}

/// Outcomes of one human member's suggestions.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct HumanOutcomes {
    pub user: UserId,
    pub name: String,
    pub role: String,
    #[serde(flatten)]
    pub outcomes: Outcomes,
}

/// The register's movement.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ObjectionCounts {
    pub opened: u64,
    pub open: u64,
    pub addressed: u64,
    pub withdrawn: u64,
    pub accepted_residual: u64,
    pub blocking_open: u64,
}

/// Annex access.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccessCounts {
    /// Annex views in the audit log (absent in exports: viewing must not
    /// change an export's bytes).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub annex_views: Option<u64>,
    pub access_requests: u64,
    pub approved: u64,
    pub denied: u64,
    pub break_glass: u64,
}

/// Activity per time bucket, oldest first, for sparklines.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Series {
    pub start_ms: i64,
    pub bucket_ms: i64,
    pub edits: Vec<u64>,
    pub objections: Vec<u64>,
    pub suggestions: Vec<u64>,
}

/// A room's working metrics.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RoomStats {
    pub room: RoomId,
    pub revision: u64,
    pub opened_ms: i64,
    /// All suggestions.
    pub suggestions: Outcomes,
    /// Per proposer role, sorted by role label.
    pub by_role: Vec<RoleOutcomes>,
    /// Per human proposer (owners, reviewers, observers), sorted by name.
    pub by_human: Vec<HumanOutcomes>,
    pub objections: ObjectionCounts,
    /// Time from the room's opening to its first `ready`, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_ready_after_ms: Option<i64>,
    /// Time from the room's opening to its first release, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_release_after_ms: Option<i64>,
    pub access: AccessCounts,
    /// Section edits (direct and accepted suggestions) in the log.
    pub edits: u64,
    pub series: Series,
    /// Time held per kind of hold, time to each release, and what became of
    /// each release.
    #[serde(default)]
    pub handoff: crate::handoff_stats::HandoffStats,
}

/// Computes the metrics of `state` from its revision log (`log` may hold
/// revisions after `state.revision`; they are ignored). `annex_views`
/// comes from the audit log when known.
pub fn compute(state: &RoomState, log: &[Revision], annex_views: Option<u64>) -> RoomStats {
    let log: Vec<&Revision> = log.iter().filter(|r| r.revision <= state.revision).collect();
    let mut total = Outcomes::default();
    let mut by_role: BTreeMap<String, Outcomes> = BTreeMap::new();
    let mut by_human: BTreeMap<UserId, Outcomes> = BTreeMap::new();
    for s in state.suggestions.suggestions.values() {
        let flagged = !s.flags.is_empty();
        total.count(s.status, flagged);
        by_role.entry(s.proposer_role.label()).or_default().count(s.status, flagged);
        if !matches!(s.proposer_role, Role::Agent { .. }) {
            by_human.entry(s.proposer).or_default().count(s.status, flagged);
        }
    }
    let mut by_human: Vec<HumanOutcomes> = by_human
        .into_iter()
        .map(|(user, outcomes)| {
            let (name, role) = state.member(user).map_or_else(
                || (format!("former member {}", short(user)), "former member".to_string()),
                |m| (m.name.clone(), m.role.label()),
            );
            HumanOutcomes { user, name, role, outcomes }
        })
        .collect();
    by_human.sort_by(|a, b| a.name.cmp(&b.name).then(a.user.cmp(&b.user)));

    let mut objections = ObjectionCounts::default();
    for o in state.objections.values() {
        objections.opened += 1;
        match o.status {
            ObjectionStatus::Open => {
                objections.open += 1;
                if o.blocking {
                    objections.blocking_open += 1;
                }
            }
            ObjectionStatus::Addressed => objections.addressed += 1,
            ObjectionStatus::Withdrawn => objections.withdrawn += 1,
            ObjectionStatus::AcceptedResidual => objections.accepted_residual += 1,
        }
    }

    let mut access = AccessCounts { annex_views, ..AccessCounts::default() };
    let mut first_ready = None;
    let mut first_release = None;
    let mut edits = 0u64;
    for r in &log {
        match &r.change {
            Change::AccessRequested { .. } => access.access_requests += 1,
            Change::AccessDecided { approved: true, .. } => access.approved += 1,
            Change::AccessDecided { approved: false, .. } => access.denied += 1,
            Change::BreakGlassInvoked { .. } => access.break_glass += 1,
            Change::ReleaseChanged { release: ReleaseState::Ready { .. } } if first_ready.is_none() => {
                first_ready = Some(r.at_ms - state.created_ms);
            }
            Change::ReleaseChanged { release: ReleaseState::Released { .. } } if first_release.is_none() => {
                first_release = Some(r.at_ms - state.created_ms);
            }
            Change::SectionEdited { .. } => edits += 1,
            _ => {}
        }
    }

    RoomStats {
        room: state.id,
        revision: state.revision,
        opened_ms: state.created_ms,
        suggestions: total,
        by_role: by_role.into_iter().map(|(role, outcomes)| RoleOutcomes { role, outcomes }).collect(),
        by_human,
        objections,
        first_ready_after_ms: first_ready,
        first_release_after_ms: first_release,
        access,
        edits,
        series: series(state.created_ms, &log),
        handoff: crate::handoff_stats::compute(state, &log),
    }
}

fn short(user: UserId) -> String {
    user.to_string().chars().take(8).collect()
}

/// Per-bucket counts from the room's opening to its newest revision.
fn series(start_ms: i64, log: &[&Revision]) -> Series {
    let end = log.iter().map(|r| r.at_ms).max().unwrap_or(start_ms).max(start_ms);
    let span = end - start_ms + 1;
    let n = SERIES_BUCKETS as i64;
    let bucket_ms = ((span + n - 1) / n).max(1);
    let mut out = Series {
        start_ms,
        bucket_ms,
        edits: vec![0; SERIES_BUCKETS],
        objections: vec![0; SERIES_BUCKETS],
        suggestions: vec![0; SERIES_BUCKETS],
    };
    for r in log {
        let i = (((r.at_ms - start_ms).max(0) / bucket_ms) as usize).min(SERIES_BUCKETS - 1);
        match &r.change {
            Change::SectionEdited { .. } => out.edits[i] += 1,
            Change::ObjectionRaised { .. } => out.objections[i] += 1,
            Change::SuggestionProposed { .. } => out.suggestions[i] += 1,
            _ => {}
        }
    }
    out
}

/// Milliseconds as `1h 02m`, `3m 05s` or `12s`.
pub fn format_span(ms: i64) -> String {
    let s = ms.max(0) / 1000;
    let (h, m, sec) = (s / 3600, (s % 3600) / 60, s % 60);
    if h > 0 {
        format!("{h}h {m:02}m")
    } else if m > 0 {
        format!("{m}m {sec:02}s")
    } else {
        format!("{sec}s")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::change::apply;
    use crate::ids::{SectionId, SuggestionId};
    use crate::ot::TextOp;
    use crate::role::{AgentRole, Discipline};
    use crate::room::Member;
    use crate::suggestion::{Decision, Proposal, Suggestion};

    fn push(state: &mut RoomState, log: &mut Vec<Revision>, author: UserId, at_ms: i64, change: Change) {
        let rev = Revision { revision: state.revision + 1, author, at_ms, client: None, change };
        apply(state, &rev).expect("applies");
        log.push(rev);
    }

    #[test]
    fn counts_outcomes_per_role_and_human_timing_and_buckets() {
        let (owner, privacy, agent) = (UserId::new(), UserId::new(), UserId::new());
        let mut state = RoomState::new(RoomId::new(), "t".into(), 1_000);
        let mut log = Vec::new();
        for (user, name, role) in [
            (owner, "morgan", Role::Owner),
            (privacy, "priya", Role::Reviewer { discipline: Discipline::Privacy }),
            (agent, "chrono", Role::Agent { agent_role: AgentRole::Chronology }),
        ] {
            push(
                &mut state,
                &mut log,
                owner,
                1_000,
                Change::MemberAdded { member: Member { user, name: name.into(), role } },
            );
        }
        let section = SectionId::new();
        push(
            &mut state,
            &mut log,
            owner,
            1_000,
            Change::SectionAdded { section, title: "S".into(), body: "abc".into(), after: None },
        );
        let mut ids = Vec::new();
        for (i, (who, role)) in [
            (agent, Role::Agent { agent_role: AgentRole::Chronology }),
            (agent, Role::Agent { agent_role: AgentRole::Chronology }),
            (privacy, Role::Reviewer { discipline: Discipline::Privacy }),
        ]
        .into_iter()
        .enumerate()
        {
            let s = Suggestion {
                id: SuggestionId::new(),
                number: i as u32 + 1,
                proposer: who,
                proposer_role: role,
                proposal: Proposal::Edit { section, op: TextOp::from_texts("abc", &format!("abc{i}")) },
                rationale: "r".into(),
                evidence: vec![],
                status: SuggestionStatus::Open,
                flags: vec![],
                proposed_revision: state.revision,
                revision: state.revision,
                conflict: None,
                decision: None,
                at_ms: 2_000,
            };
            ids.push(s.id);
            push(&mut state, &mut log, who, 2_000, Change::SuggestionProposed { suggestion: s });
        }
        let decide = |status, reason: Option<&str>| Decision {
            status,
            by: owner,
            reason: reason.map(String::from),
            at_ms: 3_000,
        };
        push(
            &mut state,
            &mut log,
            owner,
            3_000,
            Change::SuggestionDecided { suggestion: ids[0], decision: decide(SuggestionStatus::Accepted, None) },
        );
        push(
            &mut state,
            &mut log,
            owner,
            3_000,
            Change::SectionEdited { section, op: TextOp::from_texts("abc", "abc0") },
        );
        push(
            &mut state,
            &mut log,
            owner,
            3_000,
            Change::SuggestionDecided { suggestion: ids[2], decision: decide(SuggestionStatus::Rejected, Some("no")) },
        );
        let ready = ReleaseState::Ready { revision: state.revision, by: owner, at_ms: 25_000 };
        push(&mut state, &mut log, owner, 25_000, Change::ReleaseChanged { release: ready });

        let st = compute(&state, &log, Some(2));
        assert_eq!(
            (st.suggestions.proposed, st.suggestions.accepted, st.suggestions.rejected, st.suggestions.open),
            (3, 1, 1, 1)
        );
        let chrono = st.by_role.iter().find(|r| r.role == "agent/chronology").expect("agent row");
        assert_eq!((chrono.outcomes.proposed, chrono.outcomes.accepted, chrono.outcomes.open), (2, 1, 1));
        assert_eq!(chrono.outcomes.rejection_pct(), Some(0));
        assert_eq!(st.by_human.len(), 1, "agents are not humans");
        assert_eq!((st.by_human[0].name.as_str(), st.by_human[0].outcomes.rejected), ("priya", 1));
        assert_eq!(st.by_human[0].outcomes.rejection_pct(), Some(100));
        assert_eq!(st.first_ready_after_ms, Some(24_000));
        assert_eq!(st.first_release_after_ms, None);
        assert_eq!(st.access.annex_views, Some(2));
        assert_eq!(st.edits, 1);
        // 24 buckets over 1_000..=25_000: one bucket is 1_001 ms wide.
        assert_eq!(st.series.bucket_ms, 1_001);
        assert_eq!(st.series.suggestions.iter().sum::<u64>(), 3);
        assert_eq!(st.series.suggestions[0], 3, "proposed at 2_000, in the first bucket");
        assert_eq!(st.series.edits[1], 1, "edited at 3_000");
        // Deterministic: the same state and log give the same numbers.
        assert_eq!(compute(&state, &log, Some(2)), st);
        assert_eq!(format_span(3_723_000), "1h 02m");
        assert_eq!(format_span(65_000), "1m 05s");
    }
}

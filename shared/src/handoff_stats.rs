//! The measures the handoff is judged by, from the room state and its
//! revision log (deterministic: the same log gives the same figures):
//! time spent held, per kind of hold; time to each release; releases
//! superseded or withdrawn after the handoff (post-approval corrections),
//! and why.
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
    HandoffStats { held: held.into_values().collect(), releases, superseded, withdrawn, maintain }
}

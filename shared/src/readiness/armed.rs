//! The release confirm prompt's guard: the readiness a release was armed
//! on (room revision, packet revision, blockers, the co-signature cover of
//! the chosen lane and audience) and what moved since. A front end disarms
//! its "release now" prompt when [`Armed::changes`] is not empty, so the
//! owner confirms again knowing what changed.

use super::Readiness;
use crate::release::{Audience, Lane};

/// What a release confirmation was armed on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Armed {
    pub room_revision: u64,
    pub packet_revision: u64,
    pub lane: Lane,
    pub audience: Audience,
    /// Every blocker, as described to people.
    pub blockers: Vec<String>,
    /// Whether the co-signatures covered the lane and audience (`None`: the
    /// record reported no per-lane cover).
    pub covered: Option<bool>,
}

impl Armed {
    /// Arms on `record` for a release to `lane` · `audience`.
    pub fn new(record: &Readiness, lane: Lane, audience: Audience) -> Self {
        Armed {
            room_revision: record.revision,
            packet_revision: record.content_revision,
            lane,
            audience,
            blockers: record.blockers.iter().map(|b| b.describe()).collect(),
            covered: record.cosign.cover(lane, audience).map(|c| c.met),
        }
    }

    /// What differs in `now` from what the prompt was armed on, one line
    /// each (empty: nothing that matters moved): a new packet revision, a
    /// new room revision, each new blocker, a co-signature cover lost.
    pub fn changes(&self, now: &Readiness) -> Vec<String> {
        let mut out = Vec::new();
        if now.content_revision != self.packet_revision {
            out.push(format!("packet rev {} → {}", self.packet_revision, now.content_revision));
        }
        if now.revision != self.room_revision {
            out.push(format!("room rev {} → {}", self.room_revision, now.revision));
        }
        for b in &now.blockers {
            let d = b.describe();
            if !self.blockers.contains(&d) {
                out.push(format!("new blocker: {d}"));
            }
        }
        let cover = now.cosign.cover(self.lane, self.audience);
        if self.covered == Some(true) && cover.is_none_or(|c| !c.met) {
            let missing = cover.map(|c| c.missing.join(", ")).filter(|m| !m.is_empty());
            out.push(match missing {
                Some(m) => format!("co-signatures no longer cover {} · {}: missing {m}", self.lane, self.audience),
                None => format!("co-signatures no longer cover {} · {}", self.lane, self.audience),
            });
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::readiness::{Blocker, LaneCover};

    fn record(rev: u64, packet: u64) -> Readiness {
        Readiness {
            revision: rev,
            owners: vec![],
            blockers: vec![],
            residual: vec![],
            held_annexes: vec![],
            lanes: vec![],
            content_revision: packet,
            content_hash: String::new(),
            release: Default::default(),
            cosign: Default::default(),
            boundary_checked: false,
            overrides: vec![],
        }
    }

    #[test]
    fn the_same_record_changes_nothing_and_each_move_is_named() {
        let r = record(151, 146);
        let armed = Armed::new(&r, Lane::Privacy, Audience::LaneReviewers);
        assert!(armed.changes(&r).is_empty());
        let mut later = record(152, 147);
        later.blockers.push(Blocker::OpenBlockingObjection {
            objection: crate::ids::ObjectionId(uuid::Uuid::from_u128(1)),
            code: "O-4".into(),
            text: "scope".into(),
        });
        let changes = armed.changes(&later);
        assert_eq!(changes[0], "packet rev 146 → 147");
        assert_eq!(changes[1], "room rev 151 → 152");
        assert!(changes[2].starts_with("new blocker: "), "{changes:?}");
        assert_eq!(changes.len(), 3);
    }

    #[test]
    fn a_lost_cover_is_named_with_what_is_missing() {
        let mut r = record(10, 9);
        r.cosign.covers.push(LaneCover {
            lane: Lane::Privacy,
            audience: Audience::LaneReviewers,
            met: true,
            missing: vec![],
            signers: vec!["priya".into()],
        });
        let armed = Armed::new(&r, Lane::Privacy, Audience::LaneReviewers);
        r.cosign.covers[0].met = false;
        r.cosign.covers[0].missing = vec!["co-signature from a privacy reviewer".into()];
        assert_eq!(
            armed.changes(&r),
            vec![
                "co-signatures no longer cover privacy · lane-reviewers: missing co-signature from a privacy reviewer"
            ]
        );
    }
}

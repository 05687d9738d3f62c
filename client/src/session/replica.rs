//! The room as a client holds it: the server's state at its revision, kept
//! in step with the server's events, and the resync rules every front end
//! follows (the TUI, the agents):
//!
//! - an event at or below our revision is a replay we already have;
//! - an event that skips revisions is a gap: resync with a replay
//!   (`join` with `since`), never guess;
//! - an event that does not apply means we diverged: resync with a full
//!   snapshot (`join` without `since`).
//!
//! Operations arrive typed (`TextOp`, validated when the frame was decoded),
//! so reading one is a pattern match, not a parse.

use trustroom_shared::change::{ApplyError, Revision, apply};
use trustroom_shared::room::RoomState;

/// How an event fits the replica.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fit {
    /// No state yet (before the first snapshot): nothing to apply it to.
    NoState,
    /// At or below our revision: already applied.
    Known,
    /// The next revision: apply it.
    Next,
    /// Revisions `first..=last` are missing before it.
    Gap { first: u64, last: u64 },
}

/// The replica of one room.
#[derive(Clone, Debug, Default)]
pub struct Replica {
    /// The server's state of the room, at `state.revision`.
    pub state: Option<RoomState>,
    /// A resync is under way: out-of-order events wait for its answer.
    pub resyncing: bool,
    /// The resync under way asks for a snapshot (not a replay).
    pub resync_full: bool,
}

impl Replica {
    /// A replica holding the state of a snapshot.
    pub fn from_snapshot(state: RoomState) -> Replica {
        Replica { state: Some(state), resyncing: false, resync_full: false }
    }

    /// The revision we hold.
    pub fn revision(&self) -> Option<u64> {
        self.state.as_ref().map(|s| s.revision)
    }

    /// `since` for a (re)join: our revision, unless a full resync is due.
    pub fn join_since(&self) -> Option<u64> {
        if self.resync_full { None } else { self.revision() }
    }

    /// How `rev` fits what we hold.
    pub fn fit(&self, rev: &Revision) -> Fit {
        match &self.state {
            None => Fit::NoState,
            Some(s) if rev.revision <= s.revision => Fit::Known,
            Some(s) if rev.revision == s.revision + 1 => Fit::Next,
            Some(s) => Fit::Gap { first: s.revision + 1, last: rev.revision - 1 },
        }
    }

    /// Applies the next event (see [`Replica::fit`]).
    pub fn apply(&mut self, rev: &Revision) -> Result<(), ApplyError> {
        match &mut self.state {
            Some(state) => apply(state, rev),
            None => Err(ApplyError::OutOfOrder { current: 0, got: rev.revision }),
        }
    }

    /// Takes a snapshot's state; returns the state it replaces. A snapshot
    /// ends any resync.
    pub fn replace(&mut self, state: RoomState) -> Option<RoomState> {
        self.resyncing = false;
        self.resync_full = false;
        self.state.replace(state)
    }

    /// Starts a resync (`full`: ask for a snapshot). False when one already
    /// under way covers it.
    pub fn start_resync(&mut self, full: bool) -> bool {
        if self.resyncing && (self.resync_full || !full) {
            return false;
        }
        self.resyncing = true;
        self.resync_full = full;
        true
    }

    /// The join was answered: we are in step again.
    pub fn synced(&mut self) {
        self.resyncing = false;
        self.resync_full = false;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use trustroom_shared::SectionId;
    use trustroom_shared::change::Change;
    use trustroom_shared::change::ClientStamp;
    use trustroom_shared::ot::TextOp;
    use trustroom_shared::room::Section;
    use trustroom_shared::{RoomId, UserId};
    use uuid::Uuid;

    fn room() -> RoomState {
        let mut s = RoomState::new(RoomId(Uuid::from_u128(1)), "R".into(), 0);
        s.sections.push(Section::new(SectionId(Uuid::from_u128(2)), "S".into(), "ab".into(), 0));
        s.revision = 3;
        s
    }

    fn edit(revision: u64, op: &TextOp) -> Revision {
        Revision {
            revision,
            author: UserId(Uuid::from_u128(3)),
            at_ms: 0,
            client: None::<ClientStamp>,
            change: Change::SectionEdited { section: SectionId(Uuid::from_u128(2)), op: op.clone() },
        }
    }

    #[test]
    fn events_are_known_next_or_a_gap() {
        let mut r = Replica::from_snapshot(room());
        let mut op = TextOp::new();
        op.retain(2).insert("c");
        assert_eq!(r.fit(&edit(3, &op)), Fit::Known);
        assert_eq!(r.fit(&edit(6, &op)), Fit::Gap { first: 4, last: 5 });
        assert_eq!(r.fit(&edit(4, &op)), Fit::Next);
        r.apply(&edit(4, &op)).expect("applies");
        assert_eq!(r.state.as_ref().map(|s| s.sections[0].body.as_str()), Some("abc"));
        assert_eq!(r.join_since(), Some(4));
        assert_eq!(Replica::default().fit(&edit(1, &TextOp::new())), Fit::NoState);
    }

    #[test]
    fn a_full_resync_is_not_downgraded_and_a_snapshot_ends_it() {
        let mut r = Replica::from_snapshot(room());
        assert!(r.start_resync(false));
        assert!(!r.start_resync(false));
        assert!(r.start_resync(true));
        assert!(!r.start_resync(false));
        assert_eq!(r.join_since(), None);
        r.replace(room());
        assert!(!r.resyncing && !r.resync_full);
    }
}

//! Keeping a client's pending edits across a snapshot: when a resync
//! replaces the server text a client built on, the edits the server has not
//! applied yet are rebased onto the new text instead of being dropped.

use crate::ot::TextOp;

/// Pending edits rebased onto a snapshot's text.
#[derive(Clone, Debug, PartialEq)]
pub struct Rebased {
    /// The still-unapplied edits, against the snapshot's text (a no-op when
    /// nothing is left to send).
    pub pending: TextOp,
    /// Turns the old local text into the new local text (for moving
    /// cursors and the editor's view).
    pub view: TextOp,
    /// The new local text: the snapshot's text with `pending` applied.
    pub local: String,
}

/// Rebases the local edits onto `new_server`.
///
/// - `old_server`: the server text the local text was built on;
/// - `local`: that text with every pending edit applied;
/// - `landed`: the operation in flight when the snapshot already contains
///   it (the server applied it before the snapshot), so it is not pending
///   any more.
///
/// `None` when the pieces do not line up (the edits cannot be kept).
pub fn rebase_pending(old_server: &str, local: &str, landed: Option<&TextOp>, new_server: &str) -> Option<Rebased> {
    // What the server had before our still-unapplied edits.
    let pending_base = match landed {
        Some(in_flight) => in_flight.apply(old_server).ok()?,
        None => old_server.to_string(),
    };
    let pending = TextOp::from_texts(&pending_base, local);
    let server_delta = TextOp::from_texts(&pending_base, new_server);
    let (pending, _) = TextOp::transform(&pending, &server_delta).ok()?;
    let new_local = pending.apply(new_server).ok()?;
    let view = TextOp::from_texts(local, &new_local);
    Some(Rebased { pending, view, local: new_local })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn insert(at: usize, text: &str, len: usize) -> TextOp {
        let mut op = TextOp::new();
        op.retain(at).insert(text).retain(len - at);
        op
    }

    #[test]
    fn unapplied_edits_move_onto_the_new_text() {
        // We typed "!" at the end; someone else prefixed ">> ".
        let r = rebase_pending("hello", "hello!", None, ">> hello").expect("rebases");
        assert_eq!(r.local, ">> hello!");
        assert_eq!(r.pending.apply(">> hello").expect("applies"), ">> hello!");
        assert_eq!(r.view.apply("hello!").expect("applies"), ">> hello!");
        assert_eq!(r.view.transform_index(6), 9);
    }

    #[test]
    fn an_edit_the_snapshot_already_holds_is_not_sent_again() {
        // " world" was in flight and landed; "!" is still only ours.
        let in_flight = insert(5, " world", 5);
        let r = rebase_pending("hello", "hello world!", Some(&in_flight), "hello world").expect("rebases");
        assert_eq!(r.local, "hello world!");
        assert_eq!(r.pending.apply("hello world").expect("applies"), "hello world!");
        assert_eq!(r.view.apply("hello world!").expect("applies"), "hello world!");
    }

    #[test]
    fn nothing_pending_is_a_noop() {
        let r = rebase_pending("a", "a", None, "ab").expect("rebases");
        assert!(r.pending.is_noop());
        assert_eq!(r.local, "ab");
    }

    #[test]
    fn a_landed_operation_that_does_not_fit_gives_up() {
        let in_flight = insert(10, "x", 10);
        assert!(rebase_pending("short", "shortx", Some(&in_flight), "short").is_none());
    }
}

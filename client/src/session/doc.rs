//! One section as this client holds it: the local text (server text plus
//! pending local edits), the OT client state ([`SectionSync`]), the request
//! sequence number of the operation in flight, and an undo stack of *our own*
//! edits that is transformed through everyone else's.
//!
//! Undo follows ot.js's UndoManager: each stack entry is the inverse of one
//! of our edits, expressed against the current text; a remote operation is
//! transformed through the stack from the top down so every entry stays
//! applicable and undoing never reverts someone else's text.

use std::time::{Duration, Instant};

use trustroom_shared::SectionId;
use trustroom_shared::ot::{OpError, TextOp};
use trustroom_shared::ot_client::SectionSync;

use super::splice::Splice;

/// Edits closer together than this undo as one step.
const UNDO_GROUP: Duration = Duration::from_millis(900);
/// Longest undo history kept per section.
const UNDO_MAX: usize = 500;

/// The request sequence number of the operation in flight (the idempotency
/// key with our client id; a resend after a reconnect reuses it).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct InFlight {
    pub seq: u64,
}

/// How a local edit enters the undo history.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EditOrigin {
    /// Typed by the user: push its inverse on the undo stack.
    Typed,
    /// Produced by undo: push its inverse on the redo stack.
    Undo,
    /// Produced by redo: push its inverse on the undo stack, keep redo.
    Redo,
}

#[derive(Clone, Debug)]
pub struct SectionDoc {
    pub id: SectionId,
    /// Local text: the server's text with our pending edits applied (only
    /// this file changes it, so `len` stays its length).
    pub text: String,
    /// Chars in `text`.
    len: usize,
    pub sync: SectionSync,
    pub in_flight: Option<InFlight>,
    /// Cursor and selection anchor (char indices into `text`) while another
    /// section is in the editor.
    pub cursor: usize,
    pub anchor: Option<usize>,
    undo: Vec<TextOp>,
    redo: Vec<TextOp>,
    last_typed: Option<Instant>,
}

impl SectionDoc {
    pub fn new(id: SectionId, text: String) -> Self {
        Self {
            id,
            len: text.chars().count(),
            text,
            sync: SectionSync::Synced,
            in_flight: None,
            cursor: 0,
            anchor: None,
            undo: Vec::new(),
            redo: Vec::new(),
            last_typed: None,
        }
    }

    /// Applies a local edit to `text` and records it. Returns the operation
    /// to send now (when nothing else was in flight).
    pub fn local(&mut self, op: TextOp, origin: EditOrigin, now: Instant) -> Result<Option<TextOp>, OpError> {
        let inverse = op.invert(&self.text);
        let new_text = op.apply(&self.text)?;
        let len = op.target_len();
        let send = self.sync.local(op)?;
        self.text = new_text;
        self.len = len;
        self.record(inverse, origin, now);
        Ok(send)
    }

    /// A local edit made as a splice (a key in the editor): the same as
    /// [`SectionDoc::local`] with the operation `TextOp::from_texts` would
    /// give, but the text is changed in place and nothing walks the whole
    /// section. An edit that changes nothing records nothing.
    pub fn local_splice(
        &mut self,
        splice: &Splice,
        origin: EditOrigin,
        now: Instant,
    ) -> Result<Option<TextOp>, OpError> {
        let made = splice.op(&self.text, self.len)?;
        if made.op.is_noop() {
            return Ok(None);
        }
        let len = made.op.target_len();
        let send = self.sync.local(made.op)?;
        self.text.replace_range(made.bytes, &splice.inserted);
        self.len = len;
        self.record(made.inverse, origin, now);
        Ok(send)
    }

    /// Puts the inverse of a local edit on the undo (or redo) stack.
    fn record(&mut self, inverse: TextOp, origin: EditOrigin, now: Instant) {
        match origin {
            EditOrigin::Typed => {
                self.redo.clear();
                let grouped = self.last_typed.is_some_and(|t| now.duration_since(t) < UNDO_GROUP);
                match self.undo.pop() {
                    // The newer inverse runs first, then the older one.
                    Some(prev) if grouped => match inverse.compose(&prev) {
                        Ok(merged) => self.undo.push(merged),
                        Err(_) => {
                            self.undo.push(prev);
                            self.undo.push(inverse);
                        }
                    },
                    Some(prev) => {
                        self.undo.push(prev);
                        self.undo.push(inverse);
                    }
                    None => self.undo.push(inverse),
                }
                self.last_typed = Some(now);
            }
            EditOrigin::Undo => {
                self.redo.push(inverse);
                self.last_typed = None;
            }
            EditOrigin::Redo => {
                self.undo.push(inverse);
                self.last_typed = None;
            }
        }
        if self.undo.len() > UNDO_MAX {
            self.undo.remove(0);
        }
    }

    /// A remote operation (server text coordinates) arrived. Returns it
    /// transformed for the local text, which it has been applied to.
    pub fn remote(&mut self, op: &TextOp) -> Result<TextOp, OpError> {
        let local = self.sync.remote(op)?;
        self.text = local.apply(&self.text)?;
        self.len = local.target_len();
        transform_stack(&mut self.undo, &local);
        transform_stack(&mut self.redo, &local);
        self.cursor = local.transform_index(self.cursor);
        self.anchor = self.anchor.map(|a| local.transform_index(a));
        // Someone else's edit ends the current undo group.
        self.last_typed = None;
        Ok(local)
    }

    /// The server acknowledged the operation in flight. Returns the buffered
    /// operation to send next, if any.
    pub fn ack(&mut self) -> Option<TextOp> {
        self.in_flight = None;
        self.sync.ack()
    }

    /// The next undo step, as an operation on the local text (not yet
    /// applied; feed it to [`SectionDoc::local`] with [`EditOrigin::Undo`]).
    pub fn take_undo(&mut self) -> Option<TextOp> {
        take_nonempty(&mut self.undo)
    }

    pub fn take_redo(&mut self) -> Option<TextOp> {
        take_nonempty(&mut self.redo)
    }

    pub fn has_pending(&self) -> bool {
        self.sync.has_pending()
    }

    /// Drops pending edits and history and takes `text` as the truth (after
    /// the server refused an edit). Returns the operation that turned the
    /// old local text into `text`, for moving cursors.
    pub fn reset(&mut self, text: &str) -> TextOp {
        let op = TextOp::from_texts(&self.text, text);
        self.cursor = op.transform_index(self.cursor);
        self.anchor = self.anchor.map(|a| op.transform_index(a));
        self.text = text.to_string();
        self.len = op.target_len();
        self.sync = SectionSync::Synced;
        self.in_flight = None;
        self.undo.clear();
        self.redo.clear();
        self.last_typed = None;
        op
    }

    /// Maps a position in the server's text to the local text (through the
    /// pending edits).
    pub fn server_to_local(&self, pos: usize) -> usize {
        match &self.sync {
            SectionSync::Synced => pos,
            SectionSync::Awaiting { in_flight } => in_flight.transform_index(pos),
            SectionSync::AwaitingWithBuffer { in_flight, buffer } => {
                buffer.transform_index(in_flight.transform_index(pos))
            }
        }
    }
}

fn take_nonempty(stack: &mut Vec<TextOp>) -> Option<TextOp> {
    while let Some(op) = stack.pop() {
        if !op.is_noop() {
            return Some(op);
        }
    }
    None
}

/// Transforms every entry of an undo (or redo) stack through `op`, which
/// applies to the text the top entry applies to.
fn transform_stack(stack: &mut Vec<TextOp>, op: &TextOp) {
    let mut current = op.clone();
    for entry in stack.iter_mut().rev() {
        match TextOp::transform(entry, &current) {
            Ok((entry2, current2)) => {
                *entry = entry2;
                current = current2;
            }
            Err(e) => {
                tracing::warn!("undo history no longer lines up ({e}); clearing it");
                stack.clear();
                return;
            }
        }
    }
}

/// First char position an operation changes (where to put the cursor after
/// undo), in the coordinates of its result.
pub fn first_change(op: &TextOp) -> usize {
    use trustroom_shared::ot::Component;
    let mut pos = 0;
    for c in op.components() {
        match c {
            Component::Retain(n) => pos += n,
            Component::Insert(s) => return pos + s.chars().count(),
            Component::Delete(_) => return pos,
        }
    }
    pos
}

/// Rebases a section's pending edits onto a snapshot's text
/// (`trustroom_shared::rebase`). Returns the operation that turns the old
/// local text into the new local text, or `None` when the pending edits
/// cannot be kept.
pub fn rebase_pending(
    doc: &mut SectionDoc,
    old_server: Option<&str>,
    new_server: &str,
    applied_seq: u64,
) -> Option<TextOp> {
    let old_server = old_server?;
    let landed = doc.in_flight.is_some_and(|f| f.seq <= applied_seq);
    // Not landed: the resend keeps the seq, so the server can never apply
    // both the original and the rebased operation.
    let keep_seq = if landed { None } else { doc.in_flight };
    let in_flight = if landed { Some(doc.sync.in_flight()?.clone()) } else { None };
    let rebased = trustroom_shared::rebase::rebase_pending(old_server, &doc.text, in_flight.as_ref(), new_server)?;
    let cursor = rebased.view.transform_index(doc.cursor);
    let anchor = doc.anchor.map(|a| rebased.view.transform_index(a));
    doc.reset(new_server);
    doc.cursor = cursor;
    doc.anchor = anchor;
    if !rebased.pending.is_noop() {
        // Becomes the operation in flight; sent after the join's `ok`.
        doc.local(rebased.pending, EditOrigin::Redo, Instant::now()).ok()?;
        doc.in_flight = keep_seq;
    }
    Some(rebased.view)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn doc(text: &str) -> SectionDoc {
        SectionDoc::new(SectionId::new(), text.to_string())
    }

    #[test]
    fn undo_reverts_only_own_edits() {
        let t0 = Instant::now();
        let mut d = doc("hello world");
        // We type "brave " at 6.
        let op = TextOp::from_texts("hello world", "hello brave world");
        let sent = d.local(op, EditOrigin::Typed, t0).expect("local");
        assert!(sent.is_some());
        assert!(d.ack().is_none());
        // Someone else appends "!" (server coordinates == local, nothing pending).
        let remote = TextOp::from_texts("hello brave world", "hello brave world!");
        d.remote(&remote).expect("remote");
        assert_eq!(d.text, "hello brave world!");
        let undo = d.take_undo().expect("an undo step");
        d.local(undo, EditOrigin::Undo, t0).expect("undo applies");
        assert_eq!(d.text, "hello world!");
        let redo = d.take_redo().expect("a redo step");
        d.local(redo, EditOrigin::Redo, t0).expect("redo applies");
        assert_eq!(d.text, "hello brave world!");
    }

    #[test]
    fn quick_typing_groups_and_remote_edit_inside_survives() {
        let t0 = Instant::now();
        let mut d = doc("ab");
        for (i, (from, to)) in [("ab", "aXb"), ("aXb", "aXYb")].iter().enumerate() {
            let op = TextOp::from_texts(from, to);
            d.local(op, EditOrigin::Typed, t0 + Duration::from_millis(100 * i as u64)).expect("local");
        }
        // Remote inserts at the very start while ours is in flight.
        let remote = TextOp::from_texts("ab", "Zab");
        d.remote(&remote).expect("remote");
        assert_eq!(d.text, "ZaXYb");
        let undo = d.take_undo().expect("grouped undo");
        d.local(undo, EditOrigin::Undo, t0).expect("undo");
        assert_eq!(d.text, "Zab");
        assert!(d.take_undo().is_none());
    }

    #[test]
    fn server_positions_map_through_pending() {
        let mut d = doc("abc");
        d.local(TextOp::from_texts("abc", "XXabc"), EditOrigin::Typed, Instant::now()).expect("local");
        assert_eq!(d.server_to_local(1), 3);
        assert_eq!(first_change(&TextOp::from_texts("abc", "aZbc")), 2);
    }
}

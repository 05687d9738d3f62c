//! Text operations over Unicode scalar values (`char`s), in the
//! client–server OT model of ot.js / Jupiter.
//!
//! An operation walks the whole document: `Retain(n)` keeps `n` chars,
//! `Insert(s)` adds `s`, `Delete(n)` removes `n` chars. Its *base length*
//! must equal the document's length in chars.
//!
//! The wire form ([`WireOp`]) is our own: a JSON array where a positive
//! integer retains, a string inserts and a negative integer deletes
//! (`[5, "abc", -2]`). [`TextOp::from_wire`] validates it against limits
//! before any arithmetic happens, so hostile lengths cannot overflow.
//!
//! Operations are validated once, at the edge, and travel typed: the
//! server turns a request's [`WireOp`] into a [`TextOp`] under its
//! configured limits (`validated_op` in the server's room requests), and every change,
//! suggestion and history entry holds the [`TextOp`] itself. A [`TextOp`]
//! serializes to exactly the wire array [`TextOp::to_wire`] gives (so
//! stored bytes, exports and hashes are unchanged) and deserializes
//! through the same checks as [`TextOp::from_wire`] under
//! [`OpLimits::DECODE`] (see there).

mod wire;

pub use wire::{OpLimits, WireComponent, WireOp};

/// Which of two concurrent operations' inserts goes first (to the left)
/// when both insert at the same place. Either choice converges, as long as
/// the two places that transform the same pair — the server and the client
/// whose operation it is — make the same one (docs/architecture.md,
/// "Typing at the same place").
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TieBreak {
    /// The first operation's insert goes first: what [`TextOp::transform`],
    /// [`transform_server`] and [`SectionSync::remote`](crate::ot_client::SectionSync::remote)
    /// do (the operation the server sequenced first wins).
    First,
    /// The second operation's insert goes first.
    Second,
}

impl TieBreak {
    /// The author rule: the insert of the author with the lower user id goes
    /// first, whoever was sequenced first; the same author keeps
    /// [`TieBreak::First`]. A fixed order between two people keeps each
    /// one's run of keystrokes together where they type at the same place.
    pub fn by_author(first: crate::UserId, second: crate::UserId) -> TieBreak {
        if second < first { TieBreak::Second } else { TieBreak::First }
    }
}

/// One step of an operation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Component {
    Retain(usize),
    Insert(String),
    Delete(usize),
}

/// A validated text operation with its base and target lengths (in chars).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TextOp {
    ops: Vec<Component>,
    base_len: usize,
    target_len: usize,
}

/// Why an operation was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OpError {
    #[error("operation expects a text of {expected} characters but the section has {actual}")]
    LengthMismatch { expected: usize, actual: usize },
    #[error("operations do not line up: {0}")]
    Misaligned(&'static str),
    #[error("invalid operation component: {0}")]
    InvalidComponent(String),
    #[error("operation too large: {0}")]
    TooLarge(String),
}

impl TextOp {
    pub fn new() -> Self {
        Self::default()
    }

    /// The components.
    pub fn components(&self) -> &[Component] {
        &self.ops
    }

    /// Length (chars) of the text this applies to.
    pub fn base_len(&self) -> usize {
        self.base_len
    }

    /// Length (chars) of the text this produces.
    pub fn target_len(&self) -> usize {
        self.target_len
    }

    /// True when applying it changes nothing.
    pub fn is_noop(&self) -> bool {
        self.ops.iter().all(|c| matches!(c, Component::Retain(_)))
    }

    pub fn retain(&mut self, n: usize) -> &mut Self {
        if n == 0 {
            return self;
        }
        self.base_len += n;
        self.target_len += n;
        if let Some(Component::Retain(last)) = self.ops.last_mut() {
            *last += n;
        } else {
            self.ops.push(Component::Retain(n));
        }
        self
    }

    pub fn insert(&mut self, s: &str) -> &mut Self {
        if s.is_empty() {
            return self;
        }
        self.target_len += s.chars().count();
        // Keep inserts before deletes so equal operations have one form.
        match self.ops.as_mut_slice() {
            [.., Component::Insert(last)] => last.push_str(s),
            [.., Component::Insert(prev), Component::Delete(_)] => prev.push_str(s),
            [.., Component::Delete(_)] => {
                let idx = self.ops.len() - 1;
                self.ops.insert(idx, Component::Insert(s.to_string()));
            }
            _ => self.ops.push(Component::Insert(s.to_string())),
        }
        self
    }

    pub fn delete(&mut self, n: usize) -> &mut Self {
        if n == 0 {
            return self;
        }
        self.base_len += n;
        if let Some(Component::Delete(last)) = self.ops.last_mut() {
            *last += n;
        } else {
            self.ops.push(Component::Delete(n));
        }
        self
    }

    /// Applies the operation to `text`.
    pub fn apply(&self, text: &str) -> Result<String, OpError> {
        let len = text.chars().count();
        if len != self.base_len {
            return Err(OpError::LengthMismatch { expected: self.base_len, actual: len });
        }
        // Copies whole retained runs as byte slices: the length check above
        // guarantees every count stays within `text`.
        let mut out = String::with_capacity(text.len() + self.target_len.saturating_sub(self.base_len) * 4);
        let mut rest = text;
        for c in &self.ops {
            match c {
                Component::Retain(n) => {
                    let (kept, after) = rest.split_at(char_boundary(rest, *n));
                    out.push_str(kept);
                    rest = after;
                }
                Component::Insert(s) => out.push_str(s),
                Component::Delete(n) => rest = &rest[char_boundary(rest, *n)..],
            }
        }
        Ok(out)
    }

    /// The operation that undoes this one on `base` (the text it applied to).
    pub fn invert(&self, base: &str) -> TextOp {
        let mut inv = TextOp::new();
        let mut chars = base.chars();
        for c in &self.ops {
            match c {
                Component::Retain(n) => {
                    inv.retain(*n);
                    for _ in 0..*n {
                        chars.next();
                    }
                }
                Component::Insert(s) => {
                    inv.delete(s.chars().count());
                }
                Component::Delete(n) => {
                    let removed: String = chars.by_ref().take(*n).collect();
                    inv.insert(&removed);
                }
            }
        }
        inv
    }

    /// `a.compose(b)`: one operation with the effect of `a` then `b`.
    pub fn compose(&self, other: &TextOp) -> Result<TextOp, OpError> {
        if self.target_len != other.base_len {
            return Err(OpError::Misaligned("compose: first target length != second base length"));
        }
        let mut out = TextOp::new();
        let mut a_iter = self.ops.iter().cloned();
        let mut b_iter = other.ops.iter().cloned();
        let mut a = a_iter.next();
        let mut b = b_iter.next();
        loop {
            match (a.take(), b.take()) {
                (None, None) => break,
                (Some(Component::Delete(n)), bb) => {
                    out.delete(n);
                    a = a_iter.next();
                    b = bb;
                }
                (aa, Some(Component::Insert(s))) => {
                    out.insert(&s);
                    a = aa;
                    b = b_iter.next();
                }
                (None, _) | (_, None) => {
                    return Err(OpError::Misaligned("compose: operations have different lengths"));
                }
                (Some(Component::Retain(x)), Some(Component::Retain(y))) => {
                    let m = x.min(y);
                    out.retain(m);
                    a = rest_count(x, m, Component::Retain).or_else(|| a_iter.next());
                    b = rest_count(y, m, Component::Retain).or_else(|| b_iter.next());
                }
                (Some(Component::Insert(s)), Some(Component::Delete(y))) => {
                    let x = s.chars().count();
                    let m = x.min(y);
                    a = if x > m { Some(Component::Insert(s.chars().skip(m).collect())) } else { a_iter.next() };
                    b = rest_count(y, m, Component::Delete).or_else(|| b_iter.next());
                }
                (Some(Component::Insert(s)), Some(Component::Retain(y))) => {
                    let x = s.chars().count();
                    let m = x.min(y);
                    let head: String = s.chars().take(m).collect();
                    out.insert(&head);
                    a = if x > m { Some(Component::Insert(s.chars().skip(m).collect())) } else { a_iter.next() };
                    b = rest_count(y, m, Component::Retain).or_else(|| b_iter.next());
                }
                (Some(Component::Retain(x)), Some(Component::Delete(y))) => {
                    let m = x.min(y);
                    out.delete(m);
                    a = rest_count(x, m, Component::Retain).or_else(|| a_iter.next());
                    b = rest_count(y, m, Component::Delete).or_else(|| b_iter.next());
                }
            }
        }
        Ok(out)
    }

    /// Transforms two concurrent operations on the same text:
    /// returns `(a', b')` with `apply(apply(s, a), b') == apply(apply(s, b), a')`.
    /// When both insert at the same place, `a`'s insert goes first; the server
    /// passes the already-accepted operation as `a` (see [`transform_server`]).
    pub fn transform(a: &TextOp, b: &TextOp) -> Result<(TextOp, TextOp), OpError> {
        TextOp::transform_with(a, b, TieBreak::First)
    }

    /// [`TextOp::transform`] with the tie between two inserts at the same
    /// place decided by `tie`.
    pub fn transform_with(a: &TextOp, b: &TextOp, tie: TieBreak) -> Result<(TextOp, TextOp), OpError> {
        if a.base_len != b.base_len {
            return Err(OpError::Misaligned("transform: operations have different base lengths"));
        }
        let mut a_prime = TextOp::new();
        let mut b_prime = TextOp::new();
        let mut a_iter = a.ops.iter().cloned();
        let mut b_iter = b.ops.iter().cloned();
        let mut x = a_iter.next();
        let mut y = b_iter.next();
        loop {
            // Both insert here: the tie decides whose insert goes first.
            let b_first =
                tie == TieBreak::Second && matches!((&x, &y), (Some(Component::Insert(_)), Some(Component::Insert(_))));
            match (x.take(), y.take()) {
                (None, None) => break,
                (xx, Some(Component::Insert(s))) if b_first => {
                    let n = s.chars().count();
                    a_prime.retain(n);
                    b_prime.insert(&s);
                    x = xx;
                    y = b_iter.next();
                }
                (Some(Component::Insert(s)), yy) => {
                    let n = s.chars().count();
                    a_prime.insert(&s);
                    b_prime.retain(n);
                    x = a_iter.next();
                    y = yy;
                }
                (xx, Some(Component::Insert(s))) => {
                    let n = s.chars().count();
                    a_prime.retain(n);
                    b_prime.insert(&s);
                    x = xx;
                    y = b_iter.next();
                }
                (None, _) | (_, None) => {
                    return Err(OpError::Misaligned("transform: operations have different lengths"));
                }
                (Some(Component::Retain(p)), Some(Component::Retain(q))) => {
                    let m = p.min(q);
                    a_prime.retain(m);
                    b_prime.retain(m);
                    x = rest_count(p, m, Component::Retain).or_else(|| a_iter.next());
                    y = rest_count(q, m, Component::Retain).or_else(|| b_iter.next());
                }
                (Some(Component::Delete(p)), Some(Component::Delete(q))) => {
                    let m = p.min(q);
                    x = rest_count(p, m, Component::Delete).or_else(|| a_iter.next());
                    y = rest_count(q, m, Component::Delete).or_else(|| b_iter.next());
                }
                (Some(Component::Delete(p)), Some(Component::Retain(q))) => {
                    let m = p.min(q);
                    a_prime.delete(m);
                    x = rest_count(p, m, Component::Delete).or_else(|| a_iter.next());
                    y = rest_count(q, m, Component::Retain).or_else(|| b_iter.next());
                }
                (Some(Component::Retain(p)), Some(Component::Delete(q))) => {
                    let m = p.min(q);
                    b_prime.delete(m);
                    x = rest_count(p, m, Component::Retain).or_else(|| a_iter.next());
                    y = rest_count(q, m, Component::Delete).or_else(|| b_iter.next());
                }
            }
        }
        Ok((a_prime, b_prime))
    }

    /// Moves a cursor position (in chars) through this operation. An insert
    /// exactly at the cursor pushes it right; a deletion around it pulls it
    /// to the deletion's start.
    pub fn transform_index(&self, index: usize) -> usize {
        self.transform_index_with(index, TieBreak::First)
    }

    /// Moves a cursor through this operation, with the tie between an
    /// insert exactly at the cursor and the cursor's owner decided by `tie`:
    /// [`TieBreak::First`], the insert goes first and pushes the cursor right
    /// ([`TextOp::transform_index`]); [`TieBreak::Second`], the cursor stays
    /// left of it, where its owner's next keystroke goes first too.
    pub fn transform_index_with(&self, index: usize, tie: TieBreak) -> usize {
        let mut new_index = index;
        let mut pos = 0usize;
        for c in &self.ops {
            if pos > index {
                break;
            }
            match c {
                Component::Retain(n) => pos += n,
                Component::Insert(s) => {
                    if pos < index || (pos == index && tie == TieBreak::First) {
                        new_index += s.chars().count();
                    }
                }
                Component::Delete(n) => {
                    let removed = (*n).min(index.saturating_sub(pos));
                    new_index -= removed;
                    pos += n;
                }
            }
        }
        new_index
    }

    /// Builds the operation turning `old` into `new` with a character diff
    /// limited to the common prefix and suffix (cheap and exact).
    pub fn from_texts(old: &str, new: &str) -> TextOp {
        let old_chars: Vec<char> = old.chars().collect();
        let new_chars: Vec<char> = new.chars().collect();
        let prefix = old_chars.iter().zip(&new_chars).take_while(|(a, b)| a == b).count();
        let max_suffix = old_chars.len().min(new_chars.len()) - prefix;
        let suffix =
            old_chars.iter().rev().zip(new_chars.iter().rev()).take(max_suffix).take_while(|(a, b)| a == b).count();
        let mut op = TextOp::new();
        op.retain(prefix);
        let inserted: String = new_chars[prefix..new_chars.len() - suffix].iter().collect();
        op.insert(&inserted);
        op.delete(old_chars.len() - suffix - prefix);
        op.retain(suffix);
        op
    }
}

fn rest_count(total: usize, used: usize, make: fn(usize) -> Component) -> Option<Component> {
    (total > used).then(|| make(total - used))
}

/// Server-side transform of an incoming operation against one the server
/// already accepted: returns the incoming operation rebased. The accepted
/// operation's inserts win ties (they were sequenced first).
pub fn transform_server(incoming: &TextOp, accepted: &TextOp) -> Result<TextOp, OpError> {
    transform_server_with(incoming, accepted, TieBreak::First)
}

/// [`transform_server`] with the tie decided by `tie` (`First`: the
/// accepted operation's insert goes first). The client whose operation
/// `incoming` is must transform the accepted one against it with the same
/// `tie` ([`SectionSync::remote_with`](crate::ot_client::SectionSync::remote_with)).
pub fn transform_server_with(incoming: &TextOp, accepted: &TextOp, tie: TieBreak) -> Result<TextOp, OpError> {
    let (_accepted_prime, incoming_prime) = TextOp::transform_with(accepted, incoming, tie)?;
    Ok(incoming_prime)
}

/// Normalizes line endings to `\n` (the boundary rule for all text).
pub fn normalize_newlines(s: &str) -> String {
    if s.contains('\r') { s.replace("\r\n", "\n").replace('\r', "\n") } else { s.to_string() }
}

/// The byte offset of char `n` in `s` (its length when `s` has `n` chars
/// or fewer): counts the bytes that start a char, without decoding.
fn char_boundary(s: &str, n: usize) -> usize {
    if n == 0 {
        return 0;
    }
    let mut seen = 0;
    for (i, b) in s.bytes().enumerate() {
        if (b as i8) >= -0x40 {
            // Not a continuation byte (0b10xx_xxxx): char number `seen` starts here.
            if seen == n {
                return i;
            }
            seen += 1;
        }
    }
    s.len()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn op(parts: &[WireComponent]) -> TextOp {
        TextOp::from_wire(parts, OpLimits::default()).expect("valid op")
    }

    #[test]
    fn apply_insert_delete_multibyte() {
        let o = op(&[
            WireComponent::Count(2),
            WireComponent::Text("é€".into()),
            WireComponent::Count(-1),
            WireComponent::Count(1),
        ]);
        assert_eq!(o.apply("a😀bc").expect("apply"), "a😀é€c");
    }

    #[test]
    fn from_wire_refuses_zero_and_huge() {
        assert!(TextOp::from_wire(&[WireComponent::Count(0)], OpLimits::default()).is_err());
        assert!(TextOp::from_wire(&[WireComponent::Count(i64::MIN)], OpLimits::default()).is_err());
        assert!(TextOp::from_wire(&[WireComponent::Count(i64::MAX)], OpLimits::default()).is_err());
        assert!(TextOp::from_wire(&[WireComponent::Text(String::new())], OpLimits::default()).is_err());
    }

    #[test]
    fn unlimited_limits_do_not_wrap() {
        let unlimited = OpLimits { max_components: usize::MAX, max_text_chars: usize::MAX };
        let o = TextOp::from_wire(&[WireComponent::Count(370), WireComponent::Count(-2)], unlimited).expect("valid");
        assert_eq!(o.base_len(), 372);
    }

    #[test]
    fn length_mismatch_is_an_error() {
        let o = op(&[WireComponent::Count(3)]);
        assert_eq!(o.apply("ab"), Err(OpError::LengthMismatch { expected: 3, actual: 2 }));
    }

    #[test]
    fn from_texts_roundtrip() {
        let o = TextOp::from_texts("hello world", "hello brave world");
        assert_eq!(o.apply("hello world").expect("apply"), "hello brave world");
    }

    #[test]
    fn cursor_moves_with_insert_before_it() {
        let o = op(&[WireComponent::Text("ab".into()), WireComponent::Count(5)]);
        assert_eq!(o.transform_index(3), 5);
        let d = op(&[WireComponent::Count(1), WireComponent::Count(-2), WireComponent::Count(2)]);
        assert_eq!(d.transform_index(4), 2);
        assert_eq!(d.transform_index(2), 1);
    }
}

//! One edit of a section's text as a splice (at a char offset, some chars
//! removed, a string put in their place), and the operation it makes.
//!
//! The TUI's editor reports each key's edit as a [`Splice`], so a keystroke
//! becomes an operation without joining the textarea's lines or diffing the
//! section: the work is the size of the edit, not of the section.
//!
//! The operation is the very one `TextOp::from_texts(old, new)` gives for
//! the same edit (the TUI sent that diff before): where the change is
//! ambiguous (typing `l` into `hel|lo`), the diff places it after the
//! longest common prefix, then keeps the longest common suffix that fits,
//! and [`Splice::op`] does the same by sliding only through the run of
//! equal characters beside the edit.

use std::iter;

use trustroom_shared::ot::{OpError, TextOp};

/// At char `at` (byte `at_byte`) of the text before the edit, `deleted`
/// chars removed and `inserted` put in their place.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Splice {
    pub at: usize,
    pub at_byte: usize,
    pub deleted: usize,
    pub inserted: String,
}

/// A splice turned into an operation on a text, with what applying it needs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SpliceOp {
    /// The operation, in the form `TextOp::from_texts` gives.
    pub op: TextOp,
    /// Its inverse on the text before (what `op.invert(old)` gives).
    pub inverse: TextOp,
    /// The bytes of the text before that the splice replaces.
    pub bytes: std::ops::Range<usize>,
}

impl Splice {
    /// The operation for this splice on `old`, a text of `old_len` chars.
    /// Costs the chars of the edit and of the runs of equal chars beside it.
    pub fn op(&self, old: &str, old_len: usize) -> Result<SpliceOp, OpError> {
        let misplaced = || OpError::Misaligned("splice: outside the text or off a char boundary");
        if self.at + self.deleted > old_len || self.at_byte > old.len() || !old.is_char_boundary(self.at_byte) {
            return Err(misplaced());
        }
        let after_at = &old[self.at_byte..];
        let del_bytes = after_at.char_indices().nth(self.deleted).map_or(after_at.len(), |(i, _)| i);
        let end_byte = self.at_byte + del_bytes;
        let (before, rest) = (&old[..self.at_byte], &old[end_byte..]);
        let inserted_len = self.inserted.chars().count();
        let new_len = old_len - self.deleted + inserted_len;
        // The new text from `at` on, and the text before from `at` on.
        let new_from_at = || self.inserted.chars().chain(rest.chars());
        let slide = common(after_at.chars(), new_from_at(), usize::MAX);
        let prefix = self.at + slide;
        let max_suffix = old_len.min(new_len) - prefix;
        let tail = old_len - self.at - self.deleted;
        let suffix = if max_suffix <= tail {
            max_suffix
        } else {
            let back = common(
                old[..end_byte].chars().rev(),
                self.inserted.chars().rev().chain(before.chars().rev()),
                max_suffix - tail,
            );
            tail + back
        };
        let removed: String = after_at.chars().skip(slide).take(old_len - suffix - prefix).collect();
        let added: String = new_from_at().skip(slide).take(new_len - suffix - prefix).collect();
        let removed_len = old_len - suffix - prefix;
        let added_len = new_len - suffix - prefix;
        let mut op = TextOp::new();
        op.retain(prefix).insert(&added).delete(removed_len).retain(suffix);
        let mut inverse = TextOp::new();
        inverse.retain(prefix).insert(&removed).delete(added_len).retain(suffix);
        Ok(SpliceOp { op, inverse, bytes: self.at_byte..end_byte })
    }
}

/// How many leading items `a` and `b` share, at most `limit`.
fn common(a: impl Iterator<Item = char>, b: impl Iterator<Item = char>, limit: usize) -> usize {
    iter::zip(a, b).take(limit).take_while(|(x, y)| x == y).count()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn splice(old: &str, at: usize, deleted: usize, inserted: &str) -> (TextOp, String) {
        let at_byte = old.char_indices().nth(at).map_or(old.len(), |(i, _)| i);
        let s = Splice { at, at_byte, deleted, inserted: inserted.into() };
        let got = s.op(old, old.chars().count()).expect("splice fits");
        let mut new = old.to_string();
        new.replace_range(got.bytes.clone(), inserted);
        assert_eq!(got.inverse, got.op.invert(old), "inverse of {s:?} on {old:?}");
        (got.op, new)
    }

    #[test]
    fn same_operation_as_the_diff_for_every_splice_of_small_texts() {
        let alphabet = ["", "a", "b", "aa", "ab", "é", "\n", "a\na", "ba"];
        let texts = ["", "a", "aa", "aaa", "ab", "aba", "abab", "héé", "a\nb", "\n\n", "baab"];
        for old in texts {
            let n = old.chars().count();
            for at in 0..=n {
                for deleted in 0..=n - at {
                    for inserted in alphabet {
                        let (op, new) = splice(old, at, deleted, inserted);
                        assert_eq!(op, TextOp::from_texts(old, &new), "{old:?} at {at} -{deleted} +{inserted:?}");
                        assert_eq!(op.apply(old).expect("applies"), new);
                    }
                }
            }
        }
    }

    #[test]
    fn a_splice_outside_the_text_is_refused() {
        let s = Splice { at: 2, at_byte: 2, deleted: 5, inserted: String::new() };
        assert!(s.op("abc", 3).is_err());
        let s = Splice { at: 0, at_byte: 1, deleted: 0, inserted: "x".into() };
        assert!(s.op("é", 1).is_err(), "byte 1 is inside é");
    }
}

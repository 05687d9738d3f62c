//! Edit scripts for the property tests: each test draws a script of
//! pieces with its own strategy, and [`build`] turns it into an operation
//! over a text of a given length.

use trustroom_shared::ot::TextOp;

/// One step of a random edit script; [`build`] clamps it to the text.
#[derive(Clone, Debug)]
#[allow(dead_code, reason = "not every property test deletes whole tails")]
pub enum Piece {
    Retain(usize),
    Delete(usize),
    /// Delete everything that is left (whole-text and tail deletes).
    DeleteRest,
    Insert(String),
}

/// Turns a script into an operation whose base length is exactly `len`:
/// retains and deletes are clamped to what is left and the rest is retained.
pub fn build(len: usize, pieces: &[Piece]) -> TextOp {
    let mut op = TextOp::new();
    let mut left = len;
    for p in pieces {
        match p {
            Piece::Retain(n) => {
                let k = (*n).min(left);
                op.retain(k);
                left -= k;
            }
            Piece::Delete(n) => {
                let k = (*n).min(left);
                op.delete(k);
                left -= k;
            }
            Piece::DeleteRest => {
                op.delete(left);
                left = 0;
            }
            Piece::Insert(s) => {
                op.insert(s);
            }
        }
    }
    op.retain(left);
    op
}

//! Random texts and edits; markers that make every inserted character unique.

use super::*;

/// Ordinary characters: 1- to 4-byte UTF-8 and newlines.
pub(crate) const ALPHABET: &[char] = &['a', 'b', 'z', ' ', '\n', '\n', 'é', 'ß', '€', '中', '😀', '𝄞'];
pub(crate) const MARKER_BASE: u32 = 0xE000;
pub(crate) const MARKER_END: u32 = 0xF8FF;

pub(crate) fn is_marker(c: char) -> bool {
    (MARKER_BASE..=MARKER_END).contains(&(c as u32))
}

/// Hands out marker characters, each exactly once per run.
#[derive(Default)]
pub(crate) struct Markers {
    pub(crate) issued: Vec<char>,
}

impl Markers {
    pub(crate) fn fresh(&mut self) -> SimResult<char> {
        let code = MARKER_BASE + self.issued.len() as u32;
        check!(code <= MARKER_END, "ran out of marker characters");
        let c = char::from_u32(code).ok_or("marker is not a char")?;
        self.issued.push(c);
        Ok(c)
    }
}

pub(crate) fn random_text(rng: &mut Rng, max: usize) -> String {
    let n = rng.below(max + 1);
    (0..n).map(|_| ALPHABET[rng.below(ALPHABET.len())]).collect()
}

/// A random local edit over the whole text: one to three places, each an
/// insert, a delete or a replacement. Deletes stop at marker characters, so
/// markers are only ever removed if OT itself loses them. About one insert in
/// four carries a fresh marker.
pub(crate) fn random_edit(rng: &mut Rng, text: &str, markers: &mut Markers) -> SimResult<TextOp> {
    let chars: Vec<char> = text.chars().collect();
    let len = chars.len();
    let mut op = TextOp::new();
    let mut at = 0;
    for _ in 0..=rng.below(3) {
        let p = at + rng.below(len - at + 1);
        op.retain(p - at);
        at = p;
        // Keep texts from growing without bound.
        let delete_bias = if len > 160 { 4 } else { 0 };
        let kind = rng.below(10 + delete_bias);
        if kind >= 5 {
            let want = 1 + rng.below(4);
            let mut d = 0;
            while d < want && at + d < len && !is_marker(chars[at + d]) {
                d += 1;
            }
            op.delete(d);
            at += d;
        }
        if kind < 5 || kind == 9 {
            let mut s = random_text(rng, 3);
            if s.is_empty() || rng.percent(25) {
                let m = markers.fresh()?;
                let cut = s.char_indices().map(|(i, _)| i).nth(rng.below(s.chars().count() + 1));
                s.insert(cut.unwrap_or(s.len()), m);
            }
            op.insert(&s);
        }
    }
    op.retain(len - at);
    Ok(op)
}

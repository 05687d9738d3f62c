//! Restricted detail: finding an annex's sensitive patterns in free text
//! robustly, masking them, and a probe budget for members who keep trying.
//!
//! Each restricted annex declares literal identifiers (`acct-4471-NWF`) that
//! must never appear outside it. A plain case-insensitive substring test is
//! bypassed by a zero-width space, a full-width digit or a no-break space, so
//! both the patterns and the text are first brought to one form by
//! [`normalise`], and matching happens on that form. Every normalised char
//! remembers the original char it came from, so a [`Hit`] names exactly the
//! original chars to refuse or to mask.
//!
//! # Normalisation, in order
//!
//! 1. **NFKC, per original char** (`unicode-normalization`): each char is
//!    normalised on its own. That folds compatibility forms: full-width
//!    `ａｃｃｔ－４４７１` to `acct-4471`, mathematical `𝟒𝟒𝟕𝟏` to `4471`,
//!    ligatures (`ﬁ` to `fi`), superscripts, circled and squared forms, and
//!    NBSP / ideographic space to an ASCII space. Composition *across* chars
//!    is not done: `e` followed by U+0301 stays two chars and does not
//!    become `é`. Doing it per char keeps the origin mapping exact.
//! 2. **Case folding** with [`char::to_lowercase`] (full expansion, no
//!    context: `İ` becomes `i` + U+0307, a final sigma stays `σ`).
//! 3. **Removal of `Default_Ignorable_Code_Point`s** (ranges hard-coded from
//!    Unicode's `DerivedCoreProperties.txt`): soft hyphen, zero-width space,
//!    ZWNJ, ZWJ, direction marks and embeddings, word joiner and invisible
//!    operators, BOM / zero-width no-break space, variation selectors, Hangul
//!    fillers, tag characters, and the rest of the list.
//! 4. **Whitespace runs** ([`char::is_whitespace`], after NFKC, so NBSP and
//!    friends count, and ignorables inside a run do not break it) become one
//!    ASCII space.
//!
//! Patterns go through the same function and are then trimmed; a pattern
//! that normalises to nothing is skipped.
//!
//! # What this catches
//!
//! Any mix of case; invisible chars inserted anywhere inside an identifier;
//! full-width, mathematical, circled, superscript and other compatibility
//! forms of letters and digits; any run or kind of whitespace where the
//! pattern itself has a space.
//!
//! # What this does NOT catch
//!
//! - Homoglyphs across scripts: Cyrillic `а` (U+0430) or Greek `ο` for Latin
//!   letters are different letters to Unicode and survive NFKC.
//! - Combining marks added to a letter (`a` + U+0301): only U+034F is
//!   ignorable; other marks stay and break the match.
//! - Whitespace or punctuation inserted where the pattern has none
//!   (`acct- 4471`, `acct.4471`), or a hyphen swapped for another dash.
//! - Spelled-out or re-written digits (`four four seven one`), leetspeak
//!   (`4cct`), reversal, or any other paraphrase.
//! - Encodings: base64, hex, URL-encoding, JSON `\u` escapes (only plain text
//!   is read), and so on.
//! - A pattern split across separate fields, separate messages or separate
//!   edits over time: every text is matched on its own.
//!
//! Matching is a screen against accidents and casual evasion, not a proof
//! that restricted detail cannot leave the annex.

mod matcher;

pub use matcher::*;

use std::borrow::Cow;
use std::collections::{BTreeMap, VecDeque};

use unicode_normalization::UnicodeNormalization;

use crate::annex::Annex;
use crate::ids::AnnexId;

/// The char a masked char is replaced with, one for one.
pub const MASK: char = '█';

/// Refused probes a member may make within [`PROBE_WINDOW_MS`].
pub const PROBE_LIMIT: usize = 5;
/// The rolling window over which refusals are counted (one hour).
pub const PROBE_WINDOW_MS: i64 = 3_600_000;

/// Text in the form matching works on, with the way back to the original.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Normalised {
    /// The normalised text.
    pub text: String,
    /// For each char of `text`, the index (in chars) of the original char it
    /// came from. Never decreasing.
    origin: Vec<usize>,
}

impl Normalised {
    /// For each char of [`Normalised::text`], the index (in chars) of the
    /// original char it came from.
    pub fn origins(&self) -> &[usize] {
        &self.origin
    }
}

/// Whether `c` is a `Default_Ignorable_Code_Point` (DerivedCoreProperties.txt).
fn is_ignorable(c: char) -> bool {
    matches!(
        c,
        '\u{00AD}'
            | '\u{034F}'
            | '\u{061C}'
            | '\u{115F}'..='\u{1160}'
            | '\u{17B4}'..='\u{17B5}'
            | '\u{180B}'..='\u{180F}'
            | '\u{200B}'..='\u{200F}'
            | '\u{202A}'..='\u{202E}'
            | '\u{2060}'..='\u{206F}'
            | '\u{3164}'
            | '\u{FE00}'..='\u{FE0F}'
            | '\u{FEFF}'
            | '\u{FFA0}'
            | '\u{FFF0}'..='\u{FFF8}'
            | '\u{1BCA0}'..='\u{1BCA3}'
            | '\u{1D173}'..='\u{1D17A}'
            | '\u{E0000}'..='\u{E0FFF}'
    )
}

/// Steps 1–3 for one original char: NFKC, lowercase, drop ignorables.
/// Whitespace collapsing (step 4) needs the neighbours and is the caller's.
fn fold_char(c: char, mut push: impl FnMut(char)) {
    if c.is_ascii() {
        // NFKC is the identity on ASCII and no ASCII char is ignorable.
        push(c.to_ascii_lowercase());
        return;
    }
    for n in std::iter::once(c).nfkc() {
        for l in n.to_lowercase() {
            if !is_ignorable(l) {
                push(l);
            }
        }
    }
}

/// Whether `c` always leaves normalisation in the same state: it yields at
/// least one char and its last one is not whitespace. Text can be cut after
/// such a char and each side normalised on its own (see [`Matcher::introduced_in_edit`]).
fn is_solid(c: char) -> bool {
    let mut last = None;
    fold_char(c, |l| last = Some(l));
    last.is_some_and(|l| !l.is_whitespace())
}

/// Normalises `text` (see the module documentation for the steps).
pub fn normalise(text: &str) -> Normalised {
    let mut out = Normalised { text: String::with_capacity(text.len()), origin: Vec::with_capacity(text.len()) };
    let mut last_space = false;
    for (i, c) in text.chars().enumerate() {
        fold_char(c, |l| {
            if l.is_whitespace() {
                if last_space {
                    return;
                }
                last_space = true;
                out.text.push(' ');
            } else {
                last_space = false;
                out.text.push(l);
            }
            out.origin.push(i);
        });
    }
    out
}

/// A member's refused probes for restricted detail within the rolling
/// [`PROBE_WINDOW_MS`]. Time is passed in (ms since the epoch), so this is
/// pure; the server keeps one per member.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ProbeBudget {
    /// The most recent refusals, oldest first; at most [`PROBE_LIMIT`].
    refusals: VecDeque<i64>,
}

impl ProbeBudget {
    pub fn new() -> ProbeBudget {
        ProbeBudget::default()
    }

    /// `Some(ms until the budget reopens)` when [`PROBE_LIMIT`] refusals
    /// fall within the window ending at `now`; `None` while probes are allowed.
    pub fn exhausted(&self, now: i64) -> Option<i64> {
        if self.refusals.len() < PROBE_LIMIT {
            return None;
        }
        let oldest = self.refusals.iter().copied().min()?;
        let reopens = oldest.saturating_add(PROBE_WINDOW_MS);
        (reopens > now).then(|| reopens.saturating_sub(now).min(PROBE_WINDOW_MS))
    }

    /// Records a refusal at `now`. True when this refusal is the one that
    /// exhausted the budget (false if it already was, or still is not).
    pub fn record(&mut self, now: i64) -> bool {
        let was = self.exhausted(now).is_some();
        if self.refusals.len() == PROBE_LIMIT {
            self.refusals.pop_front();
        }
        self.refusals.push_back(now);
        !was && self.exhausted(now).is_some()
    }
}

/// What the retention purge scrubs from storage besides annex content:
/// every occurrence of a declared pattern (text that predates its pattern),
/// masked char for char so stored operations still replay, except inside
/// approved promoted passages. Built before the patterns themselves are
/// purged.
#[derive(Clone, Debug, Default)]
pub struct Redaction {
    pub matcher: Matcher,
    /// Approved promoted passages (they belong to the packet).
    pub keep: Vec<String>,
}

impl Redaction {
    /// Masks every hit in `value` (a stored revision, snapshot or command);
    /// whether anything changed. Annex records themselves are left to the
    /// content scrub (`access::scrub_json`).
    pub fn apply(&self, value: &mut serde_json::Value) -> bool {
        if self.matcher.is_empty() {
            return false;
        }
        self.matcher.mask_json_except(value, &|_| true, &self.keep)
    }
}

#[cfg(test)]
mod tests;

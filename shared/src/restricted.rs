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

/// One occurrence of an annex's pattern, in ORIGINAL char offsets.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Hit {
    pub annex: AnnexId,
    /// First original char of the occurrence.
    pub start: usize,
    /// One past the last original char of the occurrence.
    pub end: usize,
}

/// One normalised pattern and the annex that declares it.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
struct Pattern {
    annex: AnnexId,
    text: String,
    chars: usize,
}

/// The edited part of a text: `before` and `after` share the first `start`
/// chars and everything from `before_end` (in `before`) / `after_end` (in
/// `after`) to the end. Offsets are in chars.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct EditSpan {
    pub start: usize,
    pub before_end: usize,
    pub after_end: usize,
}

impl EditSpan {
    /// The span between the longest common prefix and the longest common
    /// suffix (that does not overlap it) of `before` and `after`.
    pub fn between(before: &str, after: &str) -> EditSpan {
        let start = before.chars().zip(after.chars()).take_while(|(b, a)| b == a).count();
        let (blen, alen) = (before.chars().count(), after.chars().count());
        let room = blen.min(alen) - start;
        let suffix = before.chars().rev().zip(after.chars().rev()).take(room).take_while(|(b, a)| b == a).count();
        EditSpan { start, before_end: blen - suffix, after_end: alen - suffix }
    }
}

/// The byte offset of char `n` in `s` (`s.len()` for `n` = char count).
fn byte_at(s: &str, n: usize) -> Option<usize> {
    s.char_indices().map(|(b, _)| b).chain(std::iter::once(s.len())).nth(n)
}

/// The span in bytes: (start, before_end, after_end), if `span` really is a
/// common prefix and suffix of the two texts.
fn span_bytes(before: &str, after: &str, span: EditSpan) -> Option<(usize, usize, usize)> {
    if span.start > span.before_end || span.start > span.after_end {
        return None;
    }
    let start = byte_at(before, span.start)?;
    let before_end = start + byte_at(before.get(start..)?, span.before_end - span.start)?;
    let after_end = start + byte_at(after.get(start..)?, span.after_end - span.start)?;
    let same_prefix = before.get(..start)? == after.get(..start)?;
    let same_suffix = before.get(before_end..)? == after.get(after_end..)?;
    (same_prefix && same_suffix).then_some((start, before_end, after_end))
}

/// Whether normalised `w` equals the normalised pattern `exact` at every
/// position except its digits, which are other digits.
fn is_look_alike(w: &[char], exact: &[char]) -> bool {
    w != exact
        && w.len() == exact.len()
        && w.iter().zip(exact).all(|(c, e)| if e.is_ascii_digit() { c.is_numeric() } else { c == e })
}

/// Finds the annexes' sensitive patterns in normalised text.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Matcher {
    /// Sorted by (annex, text), no duplicates, none empty.
    patterns: Vec<Pattern>,
}

impl Matcher {
    /// A matcher for every sensitive pattern of `annexes`. Patterns are
    /// normalised and trimmed; those that become empty are skipped.
    pub fn new<'a>(annexes: impl IntoIterator<Item = &'a Annex>) -> Matcher {
        let mut patterns: Vec<Pattern> = annexes
            .into_iter()
            .flat_map(|a| a.sensitive.iter().map(move |p| (a.id, p)))
            .filter_map(|(annex, p)| {
                let n = normalise(p);
                let text = n.text.trim();
                (!text.is_empty()).then(|| Pattern { annex, text: text.to_string(), chars: text.chars().count() })
            })
            .collect();
        patterns.sort();
        patterns.dedup();
        Matcher { patterns }
    }

    /// Annexes with an identifier-like pattern (one holding a digit) of
    /// which `text` holds a *look-alike*: a run equal to the pattern at
    /// every position except its digits, which are digits too, but not the
    /// pattern itself (after normalisation): `acct-1234-nwf` for
    /// `acct-4471-nwf`. Guessing the secret digits of an identifier needs
    /// such candidates, so a request carrying look-alikes of an annex the
    /// sender may not read is charged to their probe budget even when it is
    /// accepted: an accepted guess tells as much as a refused one. The rule
    /// is context-free on purpose (surrounding characters cannot hide a
    /// candidate the gate would still see), and ordinary text — other ids
    /// of a similar form like `CASE-88412` — does not trip it. Name-like
    /// patterns (no digit) have no look-alikes.
    pub fn look_alikes(&self, text: &str) -> Vec<AnnexId> {
        let shaped: Vec<&Pattern> =
            self.patterns.iter().filter(|p| p.text.chars().any(|c| c.is_ascii_digit())).collect();
        if shaped.is_empty() || !text.chars().any(char::is_numeric) {
            return Vec::new();
        }
        let norm: Vec<char> = normalise(text).text.chars().collect();
        let mut out: Vec<AnnexId> = Vec::new();
        for p in shaped {
            if out.contains(&p.annex) {
                continue;
            }
            let exact: Vec<char> = p.text.chars().collect();
            let n = exact.len();
            if n == 0 || n > norm.len() {
                continue;
            }
            let alike = (0..=norm.len() - n).any(|i| is_look_alike(&norm[i..i + n], &exact));
            if alike {
                out.push(p.annex);
            }
        }
        out.sort_unstable();
        out
    }

    /// `text` with every hit of an annex for which `hidden` holds masked
    /// char for char ([`MASK`]), except hits inside an exact occurrence of
    /// one of `keep` (passages an owner approved for promotion). `None`
    /// when nothing is masked.
    pub fn mask_except(&self, text: &str, hidden: impl Fn(AnnexId) -> bool, keep: &[String]) -> Option<String> {
        let mut hits: Vec<Hit> = self.find(text).into_iter().filter(|h| hidden(h.annex)).collect();
        if hits.is_empty() {
            return None;
        }
        if keep.iter().any(|p| !p.is_empty()) {
            let chars: Vec<char> = text.chars().collect();
            let exempt: Vec<(usize, usize)> = keep
                .iter()
                .filter(|p| !p.is_empty())
                .flat_map(|p| {
                    let needle: Vec<char> = p.chars().collect();
                    let n = needle.len();
                    let last = chars.len().checked_sub(n).map_or(0, |l| l + 1);
                    (0..last).filter(|&i| chars[i..i + n] == needle[..]).map(|i| (i, i + n)).collect::<Vec<_>>()
                })
                .collect();
            hits.retain(|h| !exempt.iter().any(|(a, b)| *a <= h.start && h.end <= *b));
            if hits.is_empty() {
                return None;
            }
        }
        // Hits are sorted by start: one pass masks their union.
        let mut out = String::with_capacity(text.len());
        let mut next = hits.iter().peekable();
        let mut masked_until = 0;
        for (i, c) in text.chars().enumerate() {
            while let Some(h) = next.next_if(|h| h.start <= i) {
                masked_until = masked_until.max(h.end);
            }
            out.push(if i < masked_until { MASK } else { c });
        }
        Some(out)
    }

    /// [`Matcher::mask_except`] over every string value of `value`;
    /// whether anything changed.
    pub fn mask_json_except(
        &self,
        value: &mut serde_json::Value,
        hidden: &dyn Fn(AnnexId) -> bool,
        keep: &[String],
    ) -> bool {
        use serde_json::Value;
        match value {
            Value::String(s) => match self.mask_except(s, hidden, keep) {
                Some(m) => {
                    *s = m;
                    true
                }
                None => false,
            },
            Value::Array(items) => items.iter_mut().fold(false, |acc, v| self.mask_json_except(v, hidden, keep) | acc),
            Value::Object(map) => map.values_mut().fold(false, |acc, v| self.mask_json_except(v, hidden, keep) | acc),
            Value::Null | Value::Bool(_) | Value::Number(_) => false,
        }
    }

    /// Whether any string in `value` matches any pattern.
    pub fn any_in_json(&self, value: &serde_json::Value) -> bool {
        use serde_json::Value;
        match value {
            Value::String(s) => !self.find(s).is_empty(),
            Value::Array(items) => items.iter().any(|v| self.any_in_json(v)),
            Value::Object(map) => map.values().any(|v| self.any_in_json(v)),
            Value::Null | Value::Bool(_) | Value::Number(_) => false,
        }
    }

    /// Whether `quote` occurs in `body` somewhere that overlaps no hit of
    /// any pattern. A quote is checked against the server's text; one that
    /// reaches into restricted detail (masked for some members) is treated
    /// as not occurring, so quote checks cannot read masked text back.
    pub fn occurs_outside_hits(&self, body: &str, quote: &str) -> bool {
        if quote.is_empty() {
            return true;
        }
        let hits = self.find(body);
        let q: Vec<char> = quote.chars().collect();
        let b: Vec<char> = body.chars().collect();
        if q.len() > b.len() {
            return false;
        }
        (0..=b.len() - q.len())
            .filter(|&i| b[i..i + q.len()] == q[..])
            .any(|i| !hits.iter().any(|h| h.start < i + q.len() && i < h.end))
    }

    /// How many look-alikes (see [`Matcher::look_alikes`]) of patterns of
    /// annexes for which `hidden` holds `text` carries.
    pub fn look_alike_count(&self, text: &str, hidden: &dyn Fn(AnnexId) -> bool) -> usize {
        if !text.chars().any(char::is_numeric) {
            return 0;
        }
        let norm: Vec<char> = normalise(text).text.chars().collect();
        self.patterns
            .iter()
            .filter(|p| hidden(p.annex) && p.text.chars().any(|c| c.is_ascii_digit()))
            .map(|p| {
                let exact: Vec<char> = p.text.chars().collect();
                let n = exact.len();
                if n == 0 || n > norm.len() {
                    return 0;
                }
                (0..=norm.len() - n).filter(|&i| is_look_alike(&norm[i..i + n], &exact)).count()
            })
            .sum()
    }

    /// Whether there is nothing to look for.
    pub fn is_empty(&self) -> bool {
        self.patterns.is_empty()
    }

    /// The longest normalised pattern, in chars (0 when empty).
    pub fn max_pattern_chars(&self) -> usize {
        self.patterns.iter().map(|p| p.chars).max().unwrap_or(0)
    }

    /// Every occurrence of every pattern in `text` (overlapping ones too),
    /// sorted by (start, annex, end). Offsets are original chars.
    pub fn find(&self, text: &str) -> Vec<Hit> {
        if self.is_empty() {
            return Vec::new();
        }
        let norm = normalise(text);
        let mut hits = Vec::new();
        for p in &self.patterns {
            let step = p.text.chars().next().map_or(1, char::len_utf8);
            let (mut from, mut counted_bytes, mut counted_chars) = (0, 0, 0);
            while let Some(rel) = norm.text.get(from..).and_then(|rest| rest.find(&p.text)) {
                let at = from + rel;
                counted_chars += norm.text.get(counted_bytes..at).map_or(0, |s| s.chars().count());
                counted_bytes = at;
                let first = norm.origin.get(counted_chars);
                let last = norm.origin.get(counted_chars + p.chars - 1);
                let (Some(&start), Some(&last)) = (first, last) else { break };
                hits.push(Hit { annex: p.annex, start, end: last + 1 });
                from = at + step;
            }
        }
        hits.sort_by_key(|h| (h.start, h.annex, h.end));
        hits
    }

    /// The annex of the first hit in `text` (as [`Matcher::find`] orders
    /// them), looking only for each pattern's first occurrence.
    pub fn first_annex(&self, text: &str) -> Option<AnnexId> {
        if self.is_empty() {
            return None;
        }
        let norm = normalise(text);
        self.patterns
            .iter()
            .filter_map(|p| {
                let at = norm.text.find(&p.text)?;
                let chars = norm.text.get(..at)?.chars().count();
                Some((*norm.origin.get(chars)?, p.annex))
            })
            .min()
            .map(|(_, annex)| annex)
    }

    /// `text` with every char inside a hit of an annex for which `hidden`
    /// holds replaced by [`MASK`], char for char: the result has exactly as
    /// many chars as `text`, so char positions stay valid. Borrowed when no
    /// such hit exists.
    pub fn mask<'t>(&self, text: &'t str, hidden: impl Fn(AnnexId) -> bool) -> Cow<'t, str> {
        match self.mask_except(text, hidden, &[]) {
            Some(masked) => Cow::Owned(masked),
            None => Cow::Borrowed(text),
        }
    }

    /// Masks (as [`Matcher::mask`]) every string value in `value`,
    /// recursively. Object keys are left as they are. Returns whether
    /// anything changed.
    pub fn mask_json(&self, value: &mut serde_json::Value, hidden: impl Fn(AnnexId) -> bool + Copy) -> bool {
        self.mask_json_except(value, &hidden, &[])
    }

    /// Hits per annex.
    fn counts(&self, text: &str) -> BTreeMap<AnnexId, usize> {
        let mut counts = BTreeMap::new();
        for h in self.find(text) {
            *counts.entry(h.annex).or_insert(0) += 1;
        }
        counts
    }

    /// The annexes with more hits in `after` than in `before`, sorted: a
    /// change that introduces restricted detail, while occurrences that were
    /// already there are tolerated.
    pub fn introduced(&self, before: &str, after: &str) -> Vec<AnnexId> {
        if self.is_empty() {
            return Vec::new();
        }
        let was = self.counts(before);
        self.counts(after)
            .into_iter()
            .filter(|(annex, n)| *n > was.get(annex).copied().unwrap_or(0))
            .map(|(annex, _)| annex)
            .collect()
    }

    /// The same answer as [`Matcher::introduced`]`(before, after)`, looking
    /// only at a window around the edit, for long sections edited a keystroke
    /// at a time.
    ///
    /// `span` says where the texts differ: the caller works out the common
    /// prefix and suffix (from the operation it applied, or with
    /// [`EditSpan::between`]). It is checked (a byte comparison, no
    /// normalisation); a span that is out of range or does not describe a
    /// common prefix and suffix is replaced by [`EditSpan::between`], so a
    /// wrong span costs time, never a missed leak.
    ///
    /// The window extends from the span outward over enough *solid* chars
    /// (chars that normalise to something ending in a non-space) that no
    /// occurrence can reach from outside the window into the edit: zero-width
    /// padding or a long whitespace run cannot push a pattern out of it.
    /// Occurrences wholly outside the window, or reaching into it only over
    /// unchanged text, are the same before and after and cancel out.
    pub fn introduced_in_edit(&self, before: &str, after: &str, span: EditSpan) -> Vec<AnnexId> {
        if self.is_empty() {
            return Vec::new();
        }
        let (wb, wa) = self.edit_windows(before, after, span);
        self.introduced(before.get(wb).unwrap_or(before), after.get(wa).unwrap_or(after))
    }

    /// The byte ranges of `before` and `after` that [`Matcher::introduced_in_edit`] compares.
    fn edit_windows(
        &self,
        before: &str,
        after: &str,
        span: EditSpan,
    ) -> (std::ops::Range<usize>, std::ops::Range<usize>) {
        let Some((start, before_end, after_end)) =
            span_bytes(before, after, span).or_else(|| span_bytes(before, after, EditSpan::between(before, after)))
        else {
            return (0..before.len(), 0..after.len());
        };
        // Cuts fall just after a solid char, where normalisation restarts in
        // the same state, so each text normalises as the concatenation of
        // its parts. With M = max_pattern_chars, an occurrence crossing a cut
        // reaches at most M - 1 normalised chars into the window. Left: those
        // come from the unchanged text before the edit, which yields at least
        // one char per solid char. Right: the first solid char after the edit
        // puts both texts' normalisation back in step; the chars after it are
        // the same in both. So M solid chars on each side (the cut's own
        // included) suffice; the property test shows M - 1 does not. We take
        // M + 1: the window holds at least M solid chars each side.
        let need = self.max_pattern_chars() + 1;
        let prefix = before.get(..start).unwrap_or("");
        let left = prefix
            .char_indices()
            .rev()
            .filter(|(_, c)| is_solid(*c))
            .nth(need - 1)
            .map_or(0, |(b, c)| b + c.len_utf8());
        let suffix = before.get(before_end..).unwrap_or("");
        let pad = suffix
            .char_indices()
            .filter(|(_, c)| is_solid(*c))
            .nth(need - 1)
            .map_or(suffix.len(), |(b, c)| b + c.len_utf8());
        (left..before_end + pad, left..after_end + pad)
    }
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
mod tests {
    use proptest::prelude::*;

    use super::*;

    const ACCT: &str = "acct-4471-NWF";

    fn annex(code: &str, patterns: &[&str]) -> Annex {
        Annex {
            id: AnnexId::new(),
            code: code.into(),
            title: format!("Annex {code}"),
            classification: "tenant-identifiers".into(),
            need_to_know: Vec::new(),
            sensitive: patterns.iter().map(|p| p.to_string()).collect(),
            sensitive_count: patterns.len(),
            content: None,
            salt: None,
            content_hash: "h".into(),
            at_ms: 0,
        }
    }

    /// The original chars a hit covers.
    fn covered(text: &str, h: &Hit) -> String {
        text.chars().skip(h.start).take(h.end - h.start).collect()
    }

    #[test]
    fn bypass_variants_are_found_and_map_back_exactly() {
        let a = annex("A1", &[ACCT]);
        let m = Matcher::new([&a]);
        let variants = [
            "acct-4471-NWF",
            "ACCT-4471-nwf",
            "AcCt-4471-nWf",
            "acct\u{200B}-4471-NWF",
            "a\u{200D}c\u{200C}c\u{FEFF}t-44\u{00AD}71-N\u{2060}WF",
            "ａｃｃｔ－４４７１－ＮＷＦ",
            "acct-𝟒𝟒𝟕𝟏-NWF",
            "acct-\u{1D7D2}\u{1D7D2}\u{1D7D5}\u{1D7CF}-NWF",
            "a\u{FE0F}cct-4471-N\u{E0041}\u{180E}WF",
        ];
        for v in variants {
            let text = format!("Seen «{v}» twice: {v}.");
            let hits = m.find(&text);
            assert_eq!(hits.len(), 2, "{v:?}: {hits:?}");
            for h in &hits {
                assert_eq!(h.annex, a.id);
                assert_eq!(covered(&text, h), v, "hit maps back to the original chars");
            }
            assert_eq!(m.first_annex(&text), Some(a.id));
        }
    }

    #[test]
    fn whitespace_runs_match_a_pattern_with_a_space() {
        let a = annex("A1", &["Tenant  Alpha"]);
        let m = Matcher::new([&a]);
        for v in ["tenant\u{00A0}alpha", "TENANT alpha", "Tenant \t\n Alpha", "tenant\u{3000}\u{200B} alpha"] {
            let text = format!("the {v} case");
            let hits = m.find(&text);
            assert_eq!(hits.len(), 1, "{v:?}");
            assert_eq!(covered(&text, &hits[0]), v);
        }
        assert!(m.find("tenantalpha").is_empty());
    }

    #[test]
    fn unrelated_text_and_near_misses_do_not_match() {
        let a = annex("A1", &[ACCT, "SSR-55810"]);
        let m = Matcher::new([&a]);
        for t in [
            "",
            "Northwind's account was reviewed; relay logs attached.",
            "acct-4471-NW",
            "acct-4472-NWF",
            "acct 4471 NWF",
            "ssr-5581O",
            "аcct-4471-NWF", // Cyrillic а: documented as not caught
        ] {
            assert!(m.find(t).is_empty(), "{t:?}");
            assert_eq!(m.first_annex(t), None);
            assert!(matches!(m.mask(t, |_| true), Cow::Borrowed(_)));
        }
    }

    #[test]
    fn patterns_are_normalised_trimmed_and_empty_ones_skipped() {
        let a = annex("A1", &["", "  ", "\u{200B}", " ＡＢＣ-１ ", "abc-1"]);
        let m = Matcher::new([&a]);
        assert!(!m.is_empty());
        assert_eq!(m.max_pattern_chars(), 5);
        assert_eq!(m.find("x abc-1 y").len(), 1, "duplicate patterns give one hit");
        assert!(Matcher::new([&annex("A2", &["", "\u{00AD}"])]).is_empty());
        assert!(Matcher::new(std::iter::empty()).find("anything").is_empty());
    }

    #[test]
    fn hits_are_sorted_overlapping_and_per_annex() {
        let a1 = annex("A1", &["aba"]);
        let a2 = annex("A2", &["ba"]);
        let m = Matcher::new([&a1, &a2]);
        let hits = m.find("ababa");
        let got: Vec<(usize, usize)> = hits.iter().map(|h| (h.start, h.end)).collect();
        assert_eq!(got, vec![(0, 3), (1, 3), (2, 5), (3, 5)]);
        assert_eq!(m.first_annex("xxbab"), Some(a2.id));
    }

    #[test]
    fn expansion_hits_cover_the_whole_original_char() {
        // U+338F SQUARE KG normalises to "kg": a hit on "g1" covers the whole char.
        let a = annex("A1", &["g1"]);
        let m = Matcher::new([&a]);
        let hits = m.find("5\u{338F}1");
        assert_eq!(hits, vec![Hit { annex: a.id, start: 1, end: 3 }]);
    }

    #[test]
    fn normalise_records_origins() {
        let n = normalise("A\u{200B}  Ｂ\u{FB01}");
        assert_eq!(n.text, "a bfi");
        assert_eq!(n.origins(), &[0, 2, 4, 5, 5]);
    }

    #[test]
    fn masking_keeps_the_char_count_and_masks_exactly_the_hit() {
        let a1 = annex("A1", &[ACCT]);
        let a2 = annex("A2", &["SSR-55810"]);
        let m = Matcher::new([&a1, &a2]);
        let text = "Tenant ａｃｃｔ\u{200B}－４４７１－ＮＷＦ via ssr-55810 ✓";
        let masked = m.mask(text, |a| a == a1.id);
        assert_eq!(masked.chars().count(), text.chars().count());
        let start = "Tenant ".chars().count();
        let len = "ａｃｃｔ\u{200B}－４４７１－ＮＷＦ".chars().count();
        let expected: String =
            text.chars().enumerate().map(|(i, c)| if (start..start + len).contains(&i) { MASK } else { c }).collect();
        assert_eq!(masked, expected);
        assert!(masked.contains("ssr-55810"), "A2 is not hidden");
        assert!(matches!(m.mask(text, |_| false), Cow::Borrowed(_)));
        assert!(m.find(&m.mask(text, |_| true)).is_empty());
    }

    #[test]
    fn mask_json_masks_nested_string_values_not_keys() {
        let a = annex("A1", &[ACCT]);
        let m = Matcher::new([&a]);
        let mut v = serde_json::json!({
            "acct-4471-NWF": "key stays",
            "list": [1, null, true, "ACCT-4471-nwf", {"deep": ["x acct-4471-NWF y"]}],
            "clean": "nothing here",
        });
        assert!(m.mask_json(&mut v, |_| true));
        let bar = MASK.to_string().repeat(ACCT.len());
        assert_eq!(v["list"][3], bar.as_str());
        assert_eq!(v["list"][4]["deep"][0], format!("x {bar} y").as_str());
        assert_eq!(v["clean"], "nothing here");
        assert!(v.get("acct-4471-NWF").is_some(), "keys are left as they are");
        assert!(!m.mask_json(&mut v, |_| true), "nothing left to mask");
        let mut w = serde_json::json!(["acct-4471-NWF"]);
        assert!(!m.mask_json(&mut w, |_| false));
        assert_eq!(w[0], ACCT);
    }

    #[test]
    fn introduced_counts_new_occurrences_only() {
        let a1 = annex("A1", &[ACCT]);
        let a2 = annex("A2", &["SSR-55810"]);
        let m = Matcher::new([&a1, &a2]);
        let before = "old acct-4471-NWF stays";
        assert!(m.introduced(before, "old acct-4471-NWF stays, edited").is_empty());
        assert_eq!(m.introduced(before, "old acct-4471-NWF and ACCT-4471-NWF"), vec![a1.id]);
        assert_eq!(m.introduced(before, "ssr-55810"), vec![a2.id]);
        assert!(m.introduced(before, "").is_empty());
    }

    #[test]
    fn edit_window_sees_through_zero_width_padding() {
        let a = annex("A1", &[ACCT]);
        let m = Matcher::new([&a]);
        let filler = "lorem ipsum ".repeat(8_000);
        let zw = "\u{200B}".repeat(500);
        let spaces = " ".repeat(500);
        let before = format!("{filler}acct{zw}-44{spaces}71-NW{filler}");
        // Insert the final F right after "NW": the zero-width run is far
        // more than max_pattern_chars chars away from the edit.
        let at = format!("{filler}acct{zw}-44{spaces}71-NW").chars().count();
        let after = format!("{filler}acct{zw}-44{spaces}71-NWF{filler}");
        let span = EditSpan { start: at, before_end: at, after_end: at + 1 };
        assert_eq!(EditSpan::between(&before, &after), span);
        // Whitespace inside "44   71" breaks the pattern, so nothing is introduced…
        assert!(m.introduced_in_edit(&before, &after, span).is_empty());
        // …but zero-width chars alone do not.
        let before = format!("{filler}acct{zw}-4471-NW{filler}");
        let at = format!("{filler}acct{zw}-4471-NW").chars().count();
        let after = format!("{filler}acct{zw}-4471-NWF{filler}");
        let span = EditSpan { start: at, before_end: at, after_end: at + 1 };
        assert_eq!(m.introduced_in_edit(&before, &after, span), vec![a.id]);
        assert_eq!(m.introduced(&before, &after), vec![a.id]);
        let (wb, wa) = m.edit_windows(&before, &after, span);
        assert!(wb.len() < 2_000 && wa.len() < 2_000, "the window stays local: {wb:?} {wa:?}");
        // A wrong span falls back to the computed one.
        let wrong = EditSpan { start: 0, before_end: 3, after_end: 1 };
        assert_eq!(m.introduced_in_edit(&before, &after, wrong), vec![a.id]);
        let beyond = EditSpan { start: usize::MAX, before_end: usize::MAX, after_end: usize::MAX };
        assert_eq!(m.introduced_in_edit(&before, &after, beyond), vec![a.id]);
    }

    #[test]
    fn edit_span_between_finds_prefix_and_suffix() {
        assert_eq!(EditSpan::between("abc", "abc"), EditSpan { start: 3, before_end: 3, after_end: 3 });
        assert_eq!(EditSpan::between("aaa", "aaaa"), EditSpan { start: 3, before_end: 3, after_end: 4 });
        assert_eq!(EditSpan::between("xéy", "xy"), EditSpan { start: 1, before_end: 2, after_end: 1 });
        assert_eq!(EditSpan::between("", "ab"), EditSpan { start: 0, before_end: 0, after_end: 2 });
    }

    #[test]
    fn probe_budget_exhausts_and_reopens() {
        let mut b = ProbeBudget::new();
        let t0 = 1_000_000;
        for i in 0..PROBE_LIMIT as i64 - 1 {
            assert!(!b.record(t0 + i * 1_000));
            assert_eq!(b.exhausted(t0 + i * 1_000), None);
        }
        let last = t0 + 60_000;
        assert!(b.record(last), "the fifth refusal exhausts it");
        assert_eq!(b.exhausted(last), Some(PROBE_WINDOW_MS - 60_000));
        assert!(!b.record(last + 1), "already exhausted");
        // Reopens when the oldest of the last PROBE_LIMIT refusals leaves the window.
        let reopen = t0 + 1_000 + PROBE_WINDOW_MS;
        assert!(b.exhausted(reopen - 1).is_some());
        assert_eq!(b.exhausted(reopen), None);
        assert!(b.record(reopen), "one more refusal inside the window exhausts it again");
        // Far in the future, or with a clock that jumped back, the wait stays within the window.
        assert_eq!(b.exhausted(i64::MAX), None);
        assert!(b.exhausted(i64::MIN).is_some_and(|ms| ms <= PROBE_WINDOW_MS));
    }

    /// Chars that stress normalisation: case, width, mathematical digits,
    /// ignorables, spaces of several kinds, expansions ending in a space-like
    /// mark, and combining marks.
    const ALPHABET: &[char] = &[
        'a', 'c', 't', '-', '4', '7', 'A', 'C', 'x', ' ', ' ', '\n', '\u{00A0}', '\u{3000}', '\u{200B}', '\u{FEFF}',
        '\u{00AD}', 'ａ', 'Ｃ', '４', '𝟒', '－', '\u{00A8}', '\u{338F}', '\u{FB01}', '\u{0301}', 'İ', MASK,
    ];

    fn text(max: usize) -> impl Strategy<Value = String> {
        prop::collection::vec(prop::sample::select(ALPHABET), 0..max).prop_map(|v| v.into_iter().collect())
    }

    fn patterns() -> impl Strategy<Value = Vec<Vec<String>>> {
        let pattern = prop::collection::vec(prop::sample::select(&ALPHABET[..ALPHABET.len() - 1]), 1..5)
            .prop_map(|v| v.into_iter().collect::<String>());
        prop::collection::vec(prop::collection::vec(pattern, 1..3), 1..4)
    }

    fn matcher(patterns: &[Vec<String>]) -> (Matcher, Vec<Annex>) {
        let annexes: Vec<Annex> = patterns
            .iter()
            .enumerate()
            .map(|(i, ps)| annex(&format!("A{i}"), &ps.iter().map(String::as_str).collect::<Vec<_>>()))
            .collect();
        (Matcher::new(&annexes), annexes)
    }

    proptest! {
        #[test]
        fn masking_keeps_length_and_leaves_nothing_to_find(t in text(40), ps in patterns()) {
            let (m, _) = matcher(&ps);
            let masked = m.mask(&t, |_| true);
            prop_assert_eq!(masked.chars().count(), t.chars().count());
            prop_assert!(m.find(&masked).is_empty(), "{:?} -> {:?}", t, masked);
            prop_assert_eq!(m.first_annex(&t), m.find(&t).first().map(|h| h.annex));
        }

        #[test]
        fn hits_cover_text_that_normalises_to_the_pattern(t in text(40), ps in patterns()) {
            let (m, annexes) = matcher(&ps);
            for h in m.find(&t) {
                let covered = normalise(&covered(&t, &h)).text;
                let annex = annexes.iter().find(|a| a.id == h.annex);
                let any = annex.is_some_and(|a| a.sensitive.iter().any(|p| {
                    let p = normalise(p).text;
                    let p = p.trim();
                    covered.contains(p)
                }));
                prop_assert!(any, "{:?} covered {:?}", h, covered);
            }
        }

        #[test]
        fn windowed_introduced_equals_full_introduced(
            before in text(60),
            ps in patterns(),
            at in any::<prop::sample::Index>(),
            del in 0usize..6,
            ins in text(6),
            widen in 0usize..4,
        ) {
            let (m, _) = matcher(&ps);
            let chars: Vec<char> = before.chars().collect();
            let start = at.index(chars.len() + 1);
            let del = del.min(chars.len() - start);
            let after: String = chars[..start].iter().chain(ins.chars().collect::<Vec<_>>().iter()).chain(chars[start + del..].iter()).collect();
            let full = m.introduced(&before, &after);
            // The span the edit describes, the tightest one, and a wider valid one.
            let ins_len = ins.chars().count();
            let given = EditSpan { start, before_end: start + del, after_end: start + ins_len };
            prop_assert_eq!(m.introduced_in_edit(&before, &after, given), full.clone());
            let tight = EditSpan::between(&before, &after);
            prop_assert_eq!(m.introduced_in_edit(&before, &after, tight), full.clone());
            let w = widen.min(tight.start);
            let wide = EditSpan { start: tight.start - w, ..tight };
            prop_assert_eq!(m.introduced_in_edit(&before, &after, wide), full.clone());
            // A wrong span never changes the answer.
            let wrong = EditSpan { start: start + widen, before_end: start, after_end: start + ins_len + widen };
            prop_assert_eq!(m.introduced_in_edit(&before, &after, wrong), full);
        }
    }

    #[test]
    fn look_alikes_differ_from_a_pattern_only_in_its_digits() {
        let m = Matcher::new([&annex("A1", &["acct-4471-NWF", "Bluefin Logistics"])]);
        assert_eq!(m.look_alikes("guess acct-1234-NWF here").len(), 1);
        assert_eq!(m.look_alikes("packed acct-0001-NWFacct-0002-NWF").len(), 1);
        assert_eq!(m.look_alikes("ＡＣＣＴ－１２３４－ＮＷＦ").len(), 1, "normalised first");
        assert!(m.look_alikes("acct-1234-XYZ").is_empty(), "only the digits are free");
        assert!(m.look_alikes("CASE-88412 and TL-0412 and ⟦a1b2c3d4·12⟧").is_empty());
        assert!(m.look_alikes("acct-4471-NWF").is_empty(), "the pattern itself is a hit, not a look-alike");
        assert!(m.look_alikes("Session S-19 opened at 09:14 on ticket 88412.").is_empty());
        assert!(m.look_alikes("Redwood Shipping and others").is_empty(), "name-like patterns have no shape");
    }
}

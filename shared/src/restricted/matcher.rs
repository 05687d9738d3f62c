//! The matcher: every annex's patterns compiled once, found in normalised text
//! with hits in original offsets, masked, and look-alikes counted.

use super::*;

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
pub(super) struct Pattern {
    pub(super) annex: AnnexId,
    pub(super) text: String,
    pub(super) chars: usize,
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
pub(super) fn byte_at(s: &str, n: usize) -> Option<usize> {
    s.char_indices().map(|(b, _)| b).chain(std::iter::once(s.len())).nth(n)
}

/// The span in bytes: (start, before_end, after_end), if `span` really is a
/// common prefix and suffix of the two texts.
pub(super) fn span_bytes(before: &str, after: &str, span: EditSpan) -> Option<(usize, usize, usize)> {
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
pub(super) fn is_look_alike(w: &[char], exact: &[char]) -> bool {
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
    pub(super) fn counts(&self, text: &str) -> BTreeMap<AnnexId, usize> {
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
    pub(super) fn edit_windows(
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

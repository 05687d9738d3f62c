//! The objection-normaliser's rules (pure).
//!
//! - *Duplicates*: two open objections say the same thing when they have
//!   the same anchor (same section; and the same statement when both name
//!   one) and their texts are similar: the Jaccard index of their word sets
//!   (lower-cased, split on anything not a letter or digit, a plural `s`
//!   dropped, stop words and one-letter words removed) is at least
//!   [`SIMILAR`]. Similarity joins objections into groups; each group of two
//!   or more becomes one merge proposal into its lowest-numbered objection.
//! - *Missing kind*: an open objection of kind `other` whose text names
//!   exactly one kind by its own word (`scope`, `evidence`, `wording`,
//!   `sensitivity`) gets that kind; otherwise the kind whose keywords it
//!   uses most (strong words count 2, at least 2 and a unique maximum).
//! - *Missing anchor*: an open objection anchored only on a section, whose
//!   text quotes a phrase (`"…"` or `“…”`) — or, failing that, names a time
//!   `HH:MM` — found in exactly one statement of that section: propose that
//!   statement, with the phrase as the quote.

use std::collections::{BTreeMap, BTreeSet};

use trustroom_shared::ObjectionId;
use trustroom_shared::objection::{Objection, ObjectionKind};
use trustroom_shared::room::RoomState;
use trustroom_shared::statement::{StatementLabel, statements};

/// Jaccard threshold from which two texts say the same thing.
pub const SIMILAR: f64 = 0.5;

const STOP_WORDS: &[&str] = &[
    "a", "an", "and", "are", "as", "at", "be", "been", "before", "but", "by", "can", "do", "does", "for", "from",
    "has", "have", "in", "into", "is", "it", "its", "not", "of", "on", "only", "or", "our", "should", "so", "than",
    "that", "the", "their", "them", "there", "these", "this", "to", "was", "we", "were", "what", "when", "which",
    "while", "who", "will", "with", "would",
];

/// The normalised word set of `text`.
pub fn words(text: &str) -> BTreeSet<String> {
    text.to_lowercase()
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| w.chars().count() > 1 && !STOP_WORDS.contains(w))
        .map(|w| match w.strip_suffix('s') {
            Some(stem) if stem.chars().count() > 3 && !stem.ends_with('s') => stem.to_string(),
            _ => w.to_string(),
        })
        .collect()
}

/// |A ∩ B| / |A ∪ B| (0 for two empty sets).
pub fn jaccard(a: &BTreeSet<String>, b: &BTreeSet<String>) -> f64 {
    let union = a.union(b).count();
    if union == 0 {
        return 0.0;
    }
    a.intersection(b).count() as f64 / union as f64
}

fn same_anchor(a: &Objection, b: &Objection) -> bool {
    a.anchor.section == b.anchor.section
        && match (a.anchor.statement, b.anchor.statement) {
            (Some(x), Some(y)) => x == y,
            _ => true,
        }
}

/// A group of objections that say the same thing: merge `others` into `keep`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Duplicates {
    pub keep: ObjectionId,
    pub keep_code: String,
    pub others: Vec<(ObjectionId, String)>,
    /// The lowest pairwise similarity that joined the group, in percent.
    pub similarity_pct: u32,
}

/// Groups of open objections that say the same thing, by lowest number.
pub fn duplicate_groups(state: &RoomState) -> Vec<Duplicates> {
    let mut open: Vec<&Objection> = state.objections.values().filter(|o| o.is_open()).collect();
    open.sort_by_key(|o| o.number);
    let sets: Vec<BTreeSet<String>> = open.iter().map(|o| words(&o.text)).collect();
    // Union-find over indices; the root is the lowest index.
    let mut parent: Vec<usize> = (0..open.len()).collect();
    fn root(parent: &mut [usize], mut i: usize) -> usize {
        while parent[i] != i {
            parent[i] = parent[parent[i]];
            i = parent[i];
        }
        i
    }
    let mut weakest: BTreeMap<usize, f64> = BTreeMap::new();
    let mut links = Vec::new();
    for i in 0..open.len() {
        for j in i + 1..open.len() {
            let sim = jaccard(&sets[i], &sets[j]);
            if same_anchor(open[i], open[j]) && sim >= SIMILAR {
                links.push((i, j, sim));
                let (ri, rj) = (root(&mut parent, i), root(&mut parent, j));
                let (lo, hi) = (ri.min(rj), ri.max(rj));
                parent[hi] = lo;
            }
        }
    }
    for (i, _, sim) in links {
        let r = root(&mut parent, i);
        let w = weakest.entry(r).or_insert(1.0);
        *w = w.min(sim);
    }
    let mut groups: BTreeMap<usize, Vec<usize>> = BTreeMap::new();
    for i in 0..open.len() {
        let r = root(&mut parent, i);
        groups.entry(r).or_default().push(i);
    }
    groups
        .into_iter()
        .filter(|(_, members)| members.len() > 1)
        .map(|(r, members)| Duplicates {
            keep: open[r].id,
            keep_code: open[r].code(),
            others: members.iter().filter(|&&m| m != r).map(|&m| (open[m].id, open[m].code())).collect(),
            similarity_pct: (weakest.get(&r).copied().unwrap_or(1.0) * 100.0).floor() as u32,
        })
        .collect()
}

const KIND_WORDS: &[(ObjectionKind, &[&str], &[&str])] = &[
    (
        ObjectionKind::ExposureScope,
        &["scope", "exposure", "exposed"],
        &["tenant", "affected", "visible", "visibility", "third", "seen", "shown", "accounts", "who"],
    ),
    (
        ObjectionKind::EvidenceSufficiency,
        &["evidence", "unsupported", "unverified"],
        &["log", "line", "record", "source", "verified", "cite", "replay", "proof", "backed", "trace"],
    ),
    (
        ObjectionKind::Wording,
        &["wording", "word", "term", "phrase"],
        &["say", "stated", "language", "rephrase", "call", "read"],
    ),
    (
        ObjectionKind::Sensitivity,
        &["sensitive", "sensitivity", "restricted"],
        &["identifier", "identifying", "name", "tier", "annex", "packet", "pii", "need"],
    ),
];

/// The words that name a kind itself.
const KIND_NAMES: &[(ObjectionKind, &[&str])] = &[
    (ObjectionKind::ExposureScope, &["scope"]),
    (ObjectionKind::EvidenceSufficiency, &["evidence"]),
    (ObjectionKind::Wording, &["wording"]),
    (ObjectionKind::Sensitivity, &["sensitivity"]),
];

/// The kind an objection's text names, when one clearly wins.
pub fn kind_guess(text: &str) -> Option<ObjectionKind> {
    let words: BTreeSet<String> =
        text.to_lowercase().split(|c: char| !c.is_alphanumeric()).filter(|w| !w.is_empty()).map(String::from).collect();
    let has = |w: &&&str| words.contains(**w) || words.contains(&format!("{w}s"));
    let named: Vec<ObjectionKind> =
        KIND_NAMES.iter().filter(|(_, names)| names.iter().any(|n| has(&n))).map(|(kind, _)| *kind).collect();
    if let [kind] = named.as_slice() {
        return Some(*kind);
    }
    let mut scores: Vec<(ObjectionKind, usize)> = KIND_WORDS
        .iter()
        .map(|(kind, strong, weak)| (*kind, 2 * strong.iter().filter(has).count() + weak.iter().filter(has).count()))
        .collect();
    scores.sort_by_key(|s| std::cmp::Reverse(s.1));
    match scores.as_slice() {
        [(kind, best), (_, second), ..] if *best >= 2 && best > second => Some(*kind),
        _ => None,
    }
}

/// Phrases quoted in `text` (`"…"`, `“…”`), at least 3 chars long.
pub fn quoted_phrases(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    for (open, close) in [('"', '"'), ('\u{201c}', '\u{201d}')] {
        let mut rest = text;
        while let Some(i) = rest.find(open) {
            let tail = &rest[i + open.len_utf8()..];
            let Some(j) = tail.find(close) else { break };
            let phrase = tail[..j].trim();
            if phrase.chars().count() >= 3 {
                out.push(phrase.to_string());
            }
            rest = &tail[j + close.len_utf8()..];
        }
    }
    out
}

/// Times `HH:MM` named in `text`.
fn times(text: &str) -> Vec<String> {
    let b = text.as_bytes();
    let mut out = Vec::new();
    for i in 0..b.len().saturating_sub(4) {
        let boundary = |k: Option<&u8>| k.is_none_or(|c| !c.is_ascii_digit());
        if b[i].is_ascii_digit()
            && b[i + 1].is_ascii_digit()
            && b[i + 2] == b':'
            && b[i + 3].is_ascii_digit()
            && b[i + 4].is_ascii_digit()
            && boundary(if i == 0 { None } else { b.get(i - 1) })
            && boundary(b.get(i + 5))
        {
            out.push(text[i..i + 5].to_string());
        }
    }
    out
}

/// `(statement, quote)` for an objection anchored only on its section.
pub fn anchor_guess(state: &RoomState, o: &Objection) -> Option<(usize, String)> {
    if o.anchor.statement.is_some() || o.anchor.quote.is_some() {
        return None;
    }
    let section = state.section(o.anchor.section)?;
    let stmts: Vec<_> = statements(&section.body).into_iter().filter(|s| s.label != StatementLabel::Heading).collect();
    let unique = |phrase: &str, starts: bool| -> Option<usize> {
        let hits: Vec<usize> = stmts
            .iter()
            .filter(|s| if starts { s.text.starts_with(phrase) } else { s.text.contains(phrase) })
            .map(|s| s.index)
            .collect();
        (hits.len() == 1).then(|| hits[0])
    };
    for phrase in quoted_phrases(&o.text) {
        if let Some(i) = unique(&phrase, false) {
            return Some((i, phrase));
        }
    }
    for time in times(&o.text) {
        if let Some(i) = unique(&time, true) {
            return Some((i, time));
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::agent::fixtures::{self, section_id};
    use trustroom_shared::UserId;
    use trustroom_shared::objection::{Anchor, ObjectionStatus};
    use uuid::Uuid;

    fn room() -> RoomState {
        fixtures::room(&[
            (
                "Exposure scope",
                "# What was exposed\n\n[contested: O-1] The view contained customer names but no payment data.\n\n[verified: SL-1] 09:17 Rendered read-only.",
            ),
            ("Other", "Text."),
        ])
    }

    /// Adds open objection `O-n` on section `section` (0-based), statement `statement`.
    fn add(
        s: &mut RoomState,
        n: u32,
        section: usize,
        statement: Option<usize>,
        kind: ObjectionKind,
        text: &str,
    ) -> ObjectionId {
        let anchor = Anchor { section: section_id(section), statement, quote: None };
        fixtures::objection(s, n, UserId(Uuid::from_u128(5)), anchor, kind, text)
    }

    #[test]
    fn words_are_normalised() {
        let w = words("The Tenants' data was visible — to a third tenant! (11 minutes)");
        let expected: BTreeSet<String> =
            ["tenant", "data", "visible", "third", "11", "minute"].iter().map(|s| s.to_string()).collect();
        assert_eq!(w, expected);
        assert_eq!(jaccard(&words("a b"), &words("the")), 0.0);
    }

    #[test]
    fn same_anchor_and_similar_text_group_into_the_lowest_number() {
        let mut s = room();
        let o1 = add(
            &mut s,
            1,
            0,
            None,
            ObjectionKind::ExposureScope,
            "The session log does not rule out a third tenant: the cached tenant context was reused for 11 minutes.",
        );
        let o2 = add(
            &mut s,
            2,
            0,
            Some(1),
            ObjectionKind::Other,
            "Session log cannot rule out a third tenant; cached tenant context reused for 11 minutes and two refreshes.",
        );
        let _o3 = add(
            &mut s,
            3,
            1,
            None,
            ObjectionKind::ExposureScope,
            "The session log does not rule out a third tenant: the cached tenant context was reused for 11 minutes.",
        );
        let _o4 = add(&mut s, 4, 0, None, ObjectionKind::Wording, "Say visibility, not exposure.");
        let groups = duplicate_groups(&s);
        assert_eq!(groups.len(), 1, "{groups:?}");
        assert_eq!(groups[0].keep, o1);
        assert_eq!(groups[0].others, vec![(o2, "O-2".to_string())]);
        assert!(groups[0].similarity_pct >= 50 && groups[0].similarity_pct < 100);
        // Closed objections are not merged.
        s.objections.get_mut(&o2).expect("o2").status = ObjectionStatus::Withdrawn;
        assert!(duplicate_groups(&s).is_empty());
    }

    #[test]
    fn different_statements_are_different_anchors() {
        let mut s = room();
        add(&mut s, 1, 0, Some(1), ObjectionKind::Other, "Third tenant not ruled out by the session log.");
        add(&mut s, 2, 0, Some(2), ObjectionKind::Other, "Third tenant not ruled out by the session log.");
        assert!(duplicate_groups(&s).is_empty());
    }

    #[test]
    fn kinds_are_guessed_only_when_clear() {
        assert_eq!(
            kind_guess("The 09:17 entry needs the render log line before we call it verified."),
            Some(ObjectionKind::EvidenceSufficiency)
        );
        assert_eq!(
            kind_guess("Which tenants were affected? A third tenant may have seen it."),
            Some(ObjectionKind::ExposureScope)
        );
        assert_eq!(
            kind_guess("Do not name the tier in the main packet: too sensitive."),
            Some(ObjectionKind::Sensitivity)
        );
        assert_eq!(
            kind_guess("Legal and privacy disagree on exposure vs visibility wording."),
            Some(ObjectionKind::Wording),
            "named"
        );
        assert_eq!(kind_guess("Is the scope right, and is the evidence enough?"), None, "two kinds named");
        assert_eq!(kind_guess("The tenant log and the affected line."), None, "a tie is not clear");
        assert_eq!(kind_guess("Please look again."), None);
    }

    #[test]
    fn anchors_from_a_quoted_phrase_or_a_time() {
        let mut s = room();
        let quoted =
            add(&mut s, 1, 0, None, ObjectionKind::Wording, "\u{201c}no payment data\u{201d} is stated as fact.");
        let timed = add(&mut s, 2, 0, None, ObjectionKind::Other, "The 09:17 entry needs the render line.");
        let vague = add(&mut s, 3, 0, None, ObjectionKind::Other, "\"the\" is everywhere, and 10:00 nowhere.");
        let anchored = add(&mut s, 4, 0, Some(1), ObjectionKind::Other, "\"no payment data\"");
        assert_eq!(anchor_guess(&s, &s.objections[&quoted]), Some((1, "no payment data".into())));
        assert_eq!(anchor_guess(&s, &s.objections[&timed]), Some((2, "09:17".into())));
        assert_eq!(anchor_guess(&s, &s.objections[&vague]), None);
        assert_eq!(anchor_guess(&s, &s.objections[&anchored]), None);
    }

    #[test]
    fn quoted_phrases_and_times_are_found() {
        assert_eq!(
            quoted_phrases(r#"say "no payment fields" not "no payment data" or "x""#),
            ["no payment fields", "no payment data"]
        );
        assert_eq!(times("at 09:17 and 123:456 and 10:05."), ["09:17", "10:05"]);
    }
}

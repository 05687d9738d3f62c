//! Line diffs with word-level emphasis, computed with `similar` under a
//! time budget: when the deadline passes, `similar` falls back to a coarser
//! (still correct) diff, so a huge change cannot freeze the screen.

use std::time::{Duration, Instant};

use similar::{Algorithm, ChangeTag, DiffTag, TextDiff};

pub mod lines;

/// Most rows a diff keeps (the rest is summarised).
const MAX_ROWS: usize = 20_000;
/// Lines longer than this get no word-level emphasis.
const MAX_WORD_DIFF_CHARS: usize = 4_000;

/// A piece of a changed line; `emph` marks the words that changed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Seg {
    pub text: String,
    pub emph: bool,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DiffRow {
    /// A section heading in a whole-packet diff.
    Title(String),
    /// `@@ -a,b +c,d @@`
    Hunk(String),
    Equal {
        old: usize,
        new: usize,
        text: String,
    },
    Delete {
        old: usize,
        segs: Vec<Seg>,
    },
    Insert {
        new: usize,
        segs: Vec<Seg>,
    },
    /// A remark (no changes, body unknown, truncated…).
    Note(String),
}

#[derive(Clone, Debug, Default)]
pub struct DiffResult {
    pub rows: Vec<DiffRow>,
    pub added: usize,
    pub removed: usize,
    /// The time budget ran out: the diff is correct but maybe not minimal.
    pub over_budget: bool,
    pub elapsed: Duration,
}

/// Diffs `old` against `new` into `out`, with `context` lines around
/// changes, stopping the expensive work at `deadline`.
pub fn diff_into(out: &mut DiffResult, old: &str, new: &str, context: usize, deadline: Instant) {
    let start = Instant::now();
    // A last line without a newline must compare equal to the same line with one.
    let (old, new) = (with_newline(old), with_newline(new));
    let (old, new) = (old.as_str(), new.as_str());
    let diff = TextDiff::configure().algorithm(Algorithm::Myers).deadline(deadline).diff_lines(old, new);
    let old_lines = diff.old_slices();
    let new_lines = diff.new_slices();
    for group in diff.grouped_ops(context) {
        if out.rows.len() >= MAX_ROWS {
            out.rows.push(DiffRow::Note("… diff truncated".into()));
            break;
        }
        let (Some(first), Some(last)) = (group.first(), group.last()) else { continue };
        let o = first.old_range().start..last.old_range().end;
        let n = first.new_range().start..last.new_range().end;
        out.rows.push(DiffRow::Hunk(format!("@@ -{},{} +{},{} @@", o.start + 1, o.len(), n.start + 1, n.len())));
        for op in group {
            let (tag, or, nr) = op.as_tag_tuple();
            match tag {
                DiffTag::Equal => {
                    for (i, j) in or.zip(nr) {
                        out.rows.push(DiffRow::Equal { old: i + 1, new: j + 1, text: line(old_lines[i]) });
                    }
                }
                DiffTag::Delete => {
                    for i in or {
                        out.removed += 1;
                        out.rows.push(DiffRow::Delete { old: i + 1, segs: plain(old_lines[i]) });
                    }
                }
                DiffTag::Insert => {
                    for j in nr {
                        out.added += 1;
                        out.rows.push(DiffRow::Insert { new: j + 1, segs: plain(new_lines[j]) });
                    }
                }
                DiffTag::Replace => {
                    let pairs = or.len().min(nr.len());
                    let mut dels = Vec::with_capacity(or.len());
                    let mut ins = Vec::with_capacity(nr.len());
                    for k in 0..pairs {
                        let (a, b) = words(old_lines[or.start + k], new_lines[nr.start + k], deadline);
                        dels.push(DiffRow::Delete { old: or.start + k + 1, segs: a });
                        ins.push(DiffRow::Insert { new: nr.start + k + 1, segs: b });
                    }
                    for (i, l) in old_lines.iter().enumerate().take(or.end).skip(or.start + pairs) {
                        dels.push(DiffRow::Delete { old: i + 1, segs: plain(l) });
                    }
                    for (j, l) in new_lines.iter().enumerate().take(nr.end).skip(nr.start + pairs) {
                        ins.push(DiffRow::Insert { new: j + 1, segs: plain(l) });
                    }
                    out.removed += or.len();
                    out.added += nr.len();
                    out.rows.extend(dels);
                    out.rows.extend(ins);
                }
            }
        }
    }
    if Instant::now() > deadline {
        out.over_budget = true;
    }
    out.elapsed += start.elapsed();
}

fn with_newline(s: &str) -> String {
    if s.is_empty() || s.ends_with('\n') { s.to_string() } else { format!("{s}\n") }
}

fn line(s: &str) -> String {
    s.strip_suffix('\n').unwrap_or(s).to_string()
}

fn plain(s: &str) -> Vec<Seg> {
    vec![Seg { text: line(s), emph: false }]
}

/// Word-level diff of one changed line pair.
fn words(old: &str, new: &str, deadline: Instant) -> (Vec<Seg>, Vec<Seg>) {
    let (old, new) = (line(old), line(new));
    if old.len() > MAX_WORD_DIFF_CHARS || new.len() > MAX_WORD_DIFF_CHARS || Instant::now() > deadline {
        return (vec![Seg { text: old, emph: true }], vec![Seg { text: new, emph: true }]);
    }
    let diff = TextDiff::configure().deadline(deadline).diff_unicode_words(&old, &new);
    let mut a: Vec<Seg> = Vec::new();
    let mut b: Vec<Seg> = Vec::new();
    for change in diff.iter_all_changes() {
        let text = change.value();
        match change.tag() {
            ChangeTag::Equal => {
                push(&mut a, text, false);
                push(&mut b, text, false);
            }
            ChangeTag::Delete => push(&mut a, text, true),
            ChangeTag::Insert => push(&mut b, text, true),
        }
    }
    (a, b)
}

fn push(segs: &mut Vec<Seg>, text: &str, emph: bool) {
    match segs.last_mut() {
        Some(last) if last.emph == emph => last.text.push_str(text),
        _ => segs.push(Seg { text: text.to_string(), emph }),
    }
}

/// Pairs rows for a side-by-side view: equal rows on both sides; a run of
/// deletes beside the run of inserts that follows it.
pub fn side_by_side(rows: &[DiffRow]) -> Vec<(Option<&DiffRow>, Option<&DiffRow>)> {
    let mut out = Vec::with_capacity(rows.len());
    let mut i = 0;
    while i < rows.len() {
        match &rows[i] {
            DiffRow::Delete { .. } | DiffRow::Insert { .. } => {
                let del_start = i;
                while i < rows.len() && matches!(rows[i], DiffRow::Delete { .. }) {
                    i += 1;
                }
                let ins_start = i;
                while i < rows.len() && matches!(rows[i], DiffRow::Insert { .. }) {
                    i += 1;
                }
                let dels = &rows[del_start..ins_start];
                let ins = &rows[ins_start..i];
                for k in 0..dels.len().max(ins.len()) {
                    out.push((dels.get(k), ins.get(k)));
                }
            }
            other => {
                out.push((Some(other), Some(other)));
                i += 1;
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn word_emphasis_marks_changed_words() {
        let mut r = DiffResult::default();
        let dl = Instant::now() + Duration::from_secs(1);
        diff_into(&mut r, "a\nthe quick fox\nz\n", "a\nthe slow fox\nz\nnew\n", 1, dl);
        assert_eq!((r.added, r.removed), (2, 1));
        let emph: Vec<String> = r
            .rows
            .iter()
            .filter_map(|row| match row {
                DiffRow::Insert { segs, .. } | DiffRow::Delete { segs, .. } => {
                    Some(segs.iter().filter(|s| s.emph).map(|s| s.text.clone()).collect::<String>())
                }
                _ => None,
            })
            .collect();
        assert_eq!(emph, vec!["quick", "slow", ""]);
        let sbs = side_by_side(&r.rows);
        assert!(
            sbs.iter()
                .any(|(l, r)| matches!(l, Some(DiffRow::Delete { .. })) && matches!(r, Some(DiffRow::Insert { .. })))
        );
    }

    #[test]
    fn huge_diff_respects_budget() {
        let old: String = (0..20_000).map(|i| format!("line {i}\n")).collect();
        let new: String = (0..20_000).map(|i| format!("line {}\n", (i * 7919) % 20_000)).collect();
        let mut r = DiffResult::default();
        let t = Instant::now();
        diff_into(&mut r, &old, &new, 3, Instant::now() + Duration::from_millis(50));
        assert!(t.elapsed() < Duration::from_secs(5), "took {:?}", t.elapsed());
    }
}

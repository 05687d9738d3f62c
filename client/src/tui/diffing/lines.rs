//! Diff rows as screen lines at a given width. A long line wraps — by
//! display width, at a space when there is one, inside a word when there is
//! not — under a hanging indent past its line numbers, so no change falls
//! past the right edge: in the unified layout, side by side, or in a
//! suggestion's diff. Each piece says what it shows ([`Part`]); drawing
//! picks the colours. Scrolling counts the lines with the same functions
//! that drawing uses, so the scroll range always matches the screen.

use super::{DiffRow, Seg, side_by_side};
use crate::tui::text::char_width;

/// What a piece of a screen line shows (drawing maps it to a style).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Part {
    /// Line numbers of an unchanged line, and the blank under them on a
    /// wrapped line's continuation.
    Gutter,
    /// Line number and `-` of a removed line.
    DeleteGutter,
    /// Line number and `+` of an added line.
    InsertGutter,
    /// Unchanged text.
    Text,
    /// Removed text, and the words that changed in it.
    Delete,
    DeleteEmph,
    /// Added text, and the words that changed in it.
    Insert,
    InsertEmph,
    /// `@@ -a,b +c,d @@`
    Hunk,
    /// A section's heading in a whole-packet diff.
    Title,
    /// A remark (no changes, truncated…).
    Note,
}

/// A run of text with one part.
pub type Piece = (String, Part);

/// One screen line of a diff.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ScreenLine {
    /// Across the whole width: every unified line; titles, hunks and notes
    /// side by side.
    Full(Vec<Piece>),
    /// Side by side: the old text on the left, the new on the right (either
    /// side may be blank).
    Split(Vec<Piece>, Vec<Piece>),
}

/// How a changed or unchanged line shows its place.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Gutter {
    /// Old and new line numbers and the sign (the unified diff screen).
    Numbers,
    /// One line number and the sign (a half of side by side; the left half
    /// numbers the old text).
    Half { left: bool },
    /// The sign only (a suggestion's diff).
    Sign,
}

/// Widths of the left and right halves of side by side in `width` cells
/// (one cell between them for the rule).
pub fn halves(width: usize) -> (usize, usize) {
    let left = width / 2;
    (left, width.saturating_sub(left + 1))
}

/// Every screen line of `rows` at `width` cells, unified or side by side.
pub fn screen_lines(rows: &[DiffRow], split: bool, width: usize) -> Box<dyn Iterator<Item = ScreenLine> + '_> {
    if split {
        let (lw, rw) = halves(width);
        Box::new(side_by_side(rows).into_iter().flat_map(move |(l, r)| split_lines(l, r, width, lw, rw)))
    } else {
        Box::new(
            rows.iter().flat_map(move |row| row_lines(row, Gutter::Numbers, width).into_iter().map(ScreenLine::Full)),
        )
    }
}

/// One side-by-side pair as screen lines: as tall as the taller side.
fn split_lines(l: Option<&DiffRow>, r: Option<&DiffRow>, width: usize, lw: usize, rw: usize) -> Vec<ScreenLine> {
    if let Some(row @ (DiffRow::Title(_) | DiffRow::Hunk(_) | DiffRow::Note(_))) = l {
        // Shared rows span both halves.
        return row_lines(row, Gutter::Numbers, width).into_iter().map(ScreenLine::Full).collect();
    }
    let left = l.map(|row| row_lines(row, Gutter::Half { left: true }, lw)).unwrap_or_default();
    let mut right = r.map(|row| row_lines(row, Gutter::Half { left: false }, rw)).unwrap_or_default().into_iter();
    let n = left.len().max(right.len());
    let mut left = left.into_iter();
    (0..n).map(|_| ScreenLine::Split(left.next().unwrap_or_default(), right.next().unwrap_or_default())).collect()
}

/// One diff row as screen lines of at most `width` cells (a gutter wider
/// than `width` is the only overflow: drawing clips it).
pub fn row_lines(row: &DiffRow, gutter: Gutter, width: usize) -> Vec<Vec<Piece>> {
    match row {
        DiffRow::Title(s) => wrap(&[(&format!("§ {s}"), Part::Title)], width),
        DiffRow::Hunk(s) => wrap(&[(s, Part::Hunk)], width),
        DiffRow::Note(s) => wrap(&[(s, Part::Note)], width),
        DiffRow::Equal { old, new, text } => {
            let g = match gutter {
                Gutter::Numbers => format!("{old:>4} {new:>4}   "),
                Gutter::Half { left } => format!("{:>4} ", if left { old } else { new }),
                Gutter::Sign => "  ".to_string(),
            };
            hanging(&g, Part::Gutter, &[(text, Part::Text)], width)
        }
        DiffRow::Delete { old, segs } => {
            let g = match gutter {
                Gutter::Numbers => format!("{old:>4}      - "),
                Gutter::Half { .. } => format!("{old:>4}-"),
                Gutter::Sign => "- ".to_string(),
            };
            hanging(&g, Part::DeleteGutter, &pieces(segs, Part::Delete, Part::DeleteEmph), width)
        }
        DiffRow::Insert { new, segs } => {
            let g = match gutter {
                Gutter::Numbers => format!("     {new:>4} + "),
                Gutter::Half { .. } => format!("{new:>4}+"),
                Gutter::Sign => "+ ".to_string(),
            };
            hanging(&g, Part::InsertGutter, &pieces(segs, Part::Insert, Part::InsertEmph), width)
        }
    }
}

fn pieces(segs: &[Seg], plain: Part, emph: Part) -> Vec<(&str, Part)> {
    segs.iter().map(|s| (s.text.as_str(), if s.emph { emph } else { plain })).collect()
}

/// `body` wrapped beside `gutter`: the gutter on the first line, blanks of
/// its width under it on the others.
fn hanging(gutter: &str, part: Part, body: &[(&str, Part)], width: usize) -> Vec<Vec<Piece>> {
    let gw: usize = gutter.chars().map(char_width).sum();
    let mut lines = wrap(body, width.saturating_sub(gw));
    for (i, line) in lines.iter_mut().enumerate() {
        let g = if i == 0 { (gutter.to_string(), part) } else { (" ".repeat(gw), Part::Gutter) };
        line.insert(0, g);
    }
    lines
}

/// Wraps styled text to lines of at most `width` cells (at least one cell;
/// at least one line, empty for empty text). Breaks after the last space
/// that fits, else inside the word; a tab counts as a space.
pub fn wrap(text: &[(&str, Part)], width: usize) -> Vec<Vec<Piece>> {
    let width = width.max(1);
    let mut lines: Vec<Vec<(char, Part)>> = Vec::new();
    let mut cur: Vec<(char, Part)> = Vec::new();
    let mut cur_w = 0usize;
    // Where the current line may break: just after its last space.
    let mut brk: Option<usize> = None;
    for (s, part) in text {
        for c in s.chars() {
            let c = if c == '\t' { ' ' } else { c };
            let cw = char_width(c);
            while cur_w + cw > width && !cur.is_empty() {
                let rest = match brk.take() {
                    Some(i) => cur.split_off(i),
                    None => Vec::new(),
                };
                lines.push(std::mem::replace(&mut cur, rest));
                cur_w = cur.iter().map(|(c, _)| char_width(*c)).sum();
            }
            cur.push((c, *part));
            cur_w += cw;
            if c == ' ' {
                brk = Some(cur.len());
            }
        }
    }
    lines.push(cur);
    lines.into_iter().map(runs).collect()
}

/// Consecutive chars of one part as one piece.
fn runs(chars: Vec<(char, Part)>) -> Vec<Piece> {
    let mut out: Vec<Piece> = Vec::new();
    for (c, part) in chars {
        match out.last_mut() {
            Some((s, p)) if *p == part => s.push(c),
            _ => out.push((c.to_string(), part)),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(line: &[Piece]) -> String {
        line.iter().map(|(s, _)| s.as_str()).collect()
    }

    fn width(line: &[Piece]) -> usize {
        line.iter().flat_map(|(s, _)| s.chars()).map(char_width).sum()
    }

    #[test]
    fn wraps_at_spaces_and_inside_long_words() {
        let lines = wrap(&[("the quick brown fox", Part::Text)], 10);
        assert_eq!(lines.iter().map(|l| text(l)).collect::<Vec<_>>(), vec!["the quick ", "brown fox"]);
        let lines = wrap(&[("abcdefghijkl", Part::Text)], 5);
        assert_eq!(lines.iter().map(|l| text(l)).collect::<Vec<_>>(), vec!["abcde", "fghij", "kl"]);
        assert_eq!(wrap(&[("", Part::Text)], 5), vec![Vec::<Piece>::new()]);
    }

    #[test]
    fn wide_chars_never_pass_the_edge_and_parts_survive_the_break() {
        let text_in = [("日本語の", Part::Text), ("テキスト", Part::InsertEmph)];
        let lines = wrap(&text_in, 5);
        assert!(lines.iter().all(|l| width(l) <= 5), "{lines:?}");
        let joined: String = lines.iter().map(|l| text(l)).collect();
        assert_eq!(joined, "日本語のテキスト");
        assert!(lines.iter().flatten().any(|(s, p)| s.contains('テ') && *p == Part::InsertEmph));
    }

    #[test]
    fn a_changed_word_past_the_edge_lands_on_a_continuation_line() {
        let segs = vec![
            Seg { text: format!("{} ", "word ".repeat(30).trim_end()), emph: false },
            Seg { text: "CHANGED".into(), emph: true },
            Seg { text: " end.".into(), emph: false },
        ];
        let row = DiffRow::Insert { new: 7, segs };
        let lines = row_lines(&row, Gutter::Numbers, 60);
        assert!(lines.len() >= 3, "{lines:?}");
        assert!(lines.iter().all(|l| width(l) <= 60));
        assert!(text(&lines[0]).starts_with("        7 + word"));
        assert!(lines[1..].iter().all(|l| text(l).starts_with(&" ".repeat(12))));
        assert!(lines.iter().flatten().any(|(s, p)| s == "CHANGED" && *p == Part::InsertEmph));
    }

    #[test]
    fn side_by_side_pairs_are_as_tall_as_the_taller_side() {
        let rows = vec![
            DiffRow::Hunk("@@ -1,1 +1,1 @@".into()),
            DiffRow::Delete { old: 1, segs: vec![Seg { text: "short".into(), emph: true }] },
            DiffRow::Insert { new: 1, segs: vec![Seg { text: "much longer text here".into(), emph: true }] },
        ];
        let lines: Vec<ScreenLine> = screen_lines(&rows, true, 31).collect();
        // The hunk, then the pair: the right half (10 cells of text) needs 3 lines.
        assert_eq!(lines.len(), 4, "{lines:?}");
        assert!(matches!(&lines[0], ScreenLine::Full(_)));
        assert!(matches!(&lines[3], ScreenLine::Split(l, r) if l.is_empty() && text(r).contains("here")));
    }
}

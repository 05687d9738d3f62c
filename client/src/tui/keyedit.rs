//! What a key did to the editor's text, as a [`Splice`], read from the
//! textarea's cursor and selection before the key and its cursor after.
//!
//! Every edit ratatui-textarea (0.9) makes on a key first deletes the
//! selection, if any, then either inserts at the cursor (a char, a newline,
//! a tab's spaces, a paste) leaving the cursor after the inserted text, or
//! deletes backward (a char, a word, to the head of the line, the newline
//! before the line) leaving the cursor where the deletion began, or deletes
//! forward (a char, a word, to the end of the line, the newline after the
//! line) leaving the cursor where it was. So the splice follows from the
//! cursor positions, the selection and the length of the cursor's line,
//! at a cost of the edit's size plus one pass over the line lengths before
//! the cursor (for the offsets). An edit that does not fit its key's kind
//! is reported as [`KeyEdit::Unmapped`], and the caller diffs the section.

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui_textarea::{DataCursor, TextArea};

use crate::session::splice::Splice;

/// What one key did to the text.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum KeyEdit {
    /// The text did not change (a movement, or nothing to delete).
    Unchanged,
    /// The text changed by this splice.
    Splice(Splice),
    /// The text changed in a way not mapped to a splice: diff it.
    Unmapped,
}

/// How a key edits, after the textarea's own key bindings.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KeyKind {
    Insert,
    DeleteBack,
    DeleteForward,
    /// Not an edit (movement, scrolling), or an edit not mapped here.
    Other,
}

/// The kind of edit ratatui-textarea's `TextArea::input` makes on `key`.
pub fn key_kind(key: &KeyEvent) -> KeyKind {
    let ctrl = key.modifiers.contains(KeyModifiers::CONTROL);
    let alt = key.modifiers.contains(KeyModifiers::ALT);
    match (key.code, ctrl, alt) {
        (KeyCode::Enter, _, _) | (KeyCode::Char('m'), true, false) => KeyKind::Insert,
        (KeyCode::Char(_) | KeyCode::Tab | KeyCode::BackTab, false, false) => KeyKind::Insert,
        (KeyCode::Backspace, false, false) | (KeyCode::Char('h' | 'j' | 'w'), true, false) => KeyKind::DeleteBack,
        (KeyCode::Backspace | KeyCode::Char('h'), false, true) => KeyKind::DeleteBack,
        (KeyCode::Delete, false, false) | (KeyCode::Char('d' | 'k'), true, false) => KeyKind::DeleteForward,
        (KeyCode::Delete | KeyCode::Char('d'), false, true) => KeyKind::DeleteForward,
        _ => KeyKind::Other,
    }
}

/// A position in the textarea, with its offsets in the joined text.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Place {
    pub row: usize,
    pub col: usize,
    /// Char offset in the text.
    pub index: usize,
    /// Byte offset in the text.
    pub byte: usize,
    /// Byte offset of the start of the row.
    pub row_byte: usize,
}

/// The textarea before an edit: enough to tell what the edit was.
#[derive(Clone, Copy, Debug)]
pub struct EditStart {
    cursor: Place,
    /// The selection (start, end), when it is not empty.
    selection: Option<(Place, Place)>,
    /// Chars in the cursor's line.
    row_chars: usize,
    rows: usize,
}

impl Place {
    /// Where (row, col) is in `lines` joined with `\n` (clamped to the text).
    pub fn of(lines: &[String], row: usize, col: usize) -> Place {
        let row = row.min(lines.len().saturating_sub(1));
        let (mut index, mut row_byte) = (0, 0);
        for line in lines.iter().take(row) {
            index += line.chars().count() + 1;
            row_byte += line.len() + 1;
        }
        let line = lines.get(row).map_or("", String::as_str);
        let (col_byte, col) = byte_of(line, col);
        Place { row, col, index: index + col, byte: row_byte + col_byte, row_byte }
    }

    /// The cursor and selection of `area` before a key edits it.
    pub fn edit_start(area: &TextArea) -> EditStart {
        let lines = area.lines();
        let DataCursor(row, col) = area.cursor();
        let cursor = Place::of(lines, row, col);
        let selection = area.selection_range().filter(|(a, b)| a != b).map(|((r1, c1), (r2, c2))| {
            let start = if (r1, c1) == (row, col) { cursor } else { Place::of(lines, r1, c1) };
            let end = if (r2, c2) == (row, col) { cursor } else { Place::of(lines, r2, c2) };
            (start, end)
        });
        let row_chars = lines.get(cursor.row).map_or(0, |l| l.chars().count());
        EditStart { cursor, selection, row_chars, rows: lines.len() }
    }
}

/// The byte offset of char `col` in `line`, and `col` clamped to the line.
fn byte_of(line: &str, col: usize) -> (usize, usize) {
    match line.char_indices().nth(col) {
        Some((i, _)) => (i, col),
        None => (line.len(), line.chars().count()),
    }
}

/// What the edit of kind `kind` since `before` did to `area`'s text.
pub fn splice_since(area: &TextArea, before: &EditStart, kind: KeyKind) -> KeyEdit {
    match splice(area, before, kind) {
        Some(s) => KeyEdit::Splice(s),
        None => KeyEdit::Unmapped,
    }
}

fn splice(area: &TextArea, before: &EditStart, kind: KeyKind) -> Option<Splice> {
    let lines = area.lines();
    let DataCursor(row, col) = area.cursor();
    let removed = |start: &Place, deleted: usize, inserted: String| Splice {
        at: start.index,
        at_byte: start.byte,
        deleted,
        inserted,
    };
    if let Some((start, end)) = &before.selection {
        // The selection goes first; an insert then types at its start.
        let inserted = match kind {
            KeyKind::Insert => text_between(lines, (start.row, start.col), (row, col))?,
            _ if (row, col) == (start.row, start.col) => String::new(),
            _ => return None,
        };
        return Some(removed(start, end.index - start.index, inserted));
    }
    let b = &before.cursor;
    match kind {
        KeyKind::Insert => Some(removed(b, 0, text_between(lines, (b.row, b.col), (row, col))?)),
        KeyKind::DeleteBack if row == b.row && col < b.col => {
            // The row's text before `col` is unchanged.
            let (col_byte, _) = byte_of(lines.get(row)?, col);
            let at = Place { col, index: b.index - (b.col - col), byte: b.row_byte + col_byte, ..*b };
            Some(removed(&at, b.col - col, String::new()))
        }
        KeyKind::DeleteBack if row + 1 == b.row && b.col == 0 && lines.len() + 1 == before.rows => {
            // The newline before the cursor's line.
            let at = Place { index: b.index.checked_sub(1)?, byte: b.byte.checked_sub(1)?, ..*b };
            Some(removed(&at, 1, String::new()))
        }
        KeyKind::DeleteForward if (row, col) == (b.row, b.col) => {
            let deleted = if lines.len() + 1 == before.rows && b.col == before.row_chars {
                1 // the newline after the cursor's line
            } else if lines.len() == before.rows {
                before.row_chars.checked_sub(lines.get(row)?.chars().count()).filter(|n| *n > 0)?
            } else {
                return None;
            };
            Some(removed(b, deleted, String::new()))
        }
        _ => None,
    }
}

/// The text of `lines` (joined with `\n`) from `from` to `to`, both (row, col).
fn text_between(lines: &[String], from: (usize, usize), to: (usize, usize)) -> Option<String> {
    if to < from {
        return None;
    }
    let slice = |row: usize, a: usize, b: Option<usize>| -> Option<&str> {
        let line = lines.get(row)?;
        let (start, _) = byte_of(line, a);
        let end = b.map_or(line.len(), |b| byte_of(line, b).0);
        line.get(start..end)
    };
    if from.0 == to.0 {
        return slice(from.0, from.1, Some(to.1)).map(str::to_string);
    }
    let mut out = String::from(slice(from.0, from.1, None)?);
    for row in from.0 + 1..to.0 {
        out.push('\n');
        out.push_str(lines.get(row)?);
    }
    out.push('\n');
    out.push_str(slice(to.0, 0, Some(to.1))?);
    Some(out)
}

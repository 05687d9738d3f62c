//! The editor pane: a `ratatui_textarea::TextArea` holding the local text
//! of the section in view, its mode (typing or commands), the statement
//! highlights of the text (cached), and the conversions between the
//! textarea's (row, col) cursor and the char offsets that operations use.
//!
//! Remote operations are applied *into* the textarea piece by piece (not by
//! rebuilding it), so the scroll position stays put, and our cursor and
//! selection are moved with `TextOp::transform_index`. A key that edits
//! comes back to the app as the splice it made ([`Command::Edited`]); the
//! session's room turns it into an operation.

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui::style::Style;
use ratatui_textarea::{CursorMove, DataCursor, TextArea, WrapMode};
use trustroom_shared::SectionId;
use trustroom_shared::ot::{Component as OpComponent, TextOp};

use super::{Command, Component, Ctx, Outcome};
use crate::tui::action::{Action, EditMode};
use crate::tui::highlight::{Highlight, highlights};
use crate::tui::keyedit::{KeyEdit, KeyKind, Place, key_kind, splice_since};
use crate::tui::theme::Theme;

pub struct Editor {
    pub section: Option<SectionId>,
    pub area: TextArea<'static>,
    pub mode: EditMode,
    /// Statement-label highlights of the section in view (see
    /// [`Editor::refresh`]).
    pub highlights: Vec<Highlight>,
    pub highlights_stale: bool,
}

impl Editor {
    pub fn new(theme: &Theme) -> Self {
        let mut s = Self {
            section: None,
            area: TextArea::default(),
            mode: EditMode::Normal,
            highlights: Vec::new(),
            highlights_stale: true,
        };
        s.style(theme, false);
        s
    }

    /// Recomputes the highlights when stale, from the text of the section
    /// in view.
    pub fn refresh(&mut self, text: Option<&str>) {
        if self.highlights_stale {
            self.highlights_stale = false;
            self.highlights = text.map(highlights).unwrap_or_default();
        }
    }

    /// Puts `text` in the editor for `section`, cursor and selection at the
    /// given char offsets.
    pub fn load(&mut self, section: SectionId, text: &str, cursor: usize, anchor: Option<usize>, theme: &Theme) {
        let lines: Vec<String> = text.split('\n').map(str::to_string).collect();
        self.area = TextArea::new(lines);
        self.section = Some(section);
        self.style(theme, false);
        self.set_selection(anchor, cursor);
    }

    /// Applies the look for focused/unfocused and insert/normal mode.
    pub fn style(&mut self, theme: &Theme, focused: bool) {
        let a = &mut self.area;
        a.set_max_histories(0);
        a.set_wrap_mode(WrapMode::WordOrGlyph);
        a.set_cursor_line_style(Style::default());
        a.set_selection_style(theme.textarea_selection());
        a.set_cursor_style(if focused { theme.textarea_cursor() } else { Style::default() });
        a.set_placeholder_text("(empty section)");
        a.set_placeholder_style(theme.dim());
    }

    pub fn text(&self) -> String {
        self.area.lines().join("\n")
    }

    pub fn cursor_index(&self) -> usize {
        let DataCursor(row, col) = self.area.cursor();
        index_of(self.area.lines(), row, col)
    }

    /// The selection anchor (the end that is not the cursor), if selecting.
    pub fn anchor_index(&self) -> Option<usize> {
        let ((r1, c1), (r2, c2)) = self.area.selection_range()?;
        let DataCursor(row, col) = self.area.cursor();
        let other = if (row, col) == (r1, c1) { (r2, c2) } else { (r1, c1) };
        Some(index_of(self.area.lines(), other.0, other.1))
    }

    /// The selected text, if any.
    pub fn selected_text(&self) -> Option<String> {
        let ((r1, c1), (r2, c2)) = self.area.selection_range()?;
        let lines = self.area.lines();
        let start = index_of(lines, r1, c1);
        let end = index_of(lines, r2, c2);
        if end <= start {
            return None;
        }
        Some(self.text().chars().skip(start).take(end - start).collect())
    }

    pub fn set_cursor_index(&mut self, idx: usize) {
        let (row, col) = position_of(self.area.lines(), idx);
        self.area.move_cursor(CursorMove::Jump(clamp16(row), clamp16(col)));
    }

    pub fn set_selection(&mut self, anchor: Option<usize>, cursor: usize) {
        self.area.cancel_selection();
        if let Some(a) = anchor.filter(|a| *a != cursor) {
            self.set_cursor_index(a);
            self.area.start_selection();
        }
        self.set_cursor_index(cursor);
    }

    /// Feeds a key to the textarea and says what it did to the text: for
    /// the keys that edit, the splice it made (built from where the cursor
    /// and the selection were and where the cursor went, never from the
    /// whole text).
    pub fn input(&mut self, key: KeyEvent) -> KeyEdit {
        let kind = key_kind(&key);
        if kind == KeyKind::Other {
            // Keys that do not edit move the cursor or scroll. The textarea
            // also edits on its own undo, redo, yank-paste and cut keys: the
            // TUI never hands those over (see `insert_key`), and if it did,
            // the edit would be diffed (`Unmapped`).
            return if self.area.input(key) { KeyEdit::Unmapped } else { KeyEdit::Unchanged };
        }
        let before = Place::edit_start(&self.area);
        if !self.area.input(key) {
            return KeyEdit::Unchanged;
        }
        splice_since(&self.area, &before, kind)
    }

    /// Pastes `text` at the cursor (over the selection): one splice.
    pub fn paste(&mut self, text: &str) -> KeyEdit {
        let before = Place::edit_start(&self.area);
        if !self.area.insert_str(text) {
            return KeyEdit::Unchanged;
        }
        splice_since(&self.area, &before, KeyKind::Insert)
    }

    /// Applies an operation on the local text (someone else's, or our
    /// undo), keeping the viewport; moves our cursor and selection with it.
    pub fn apply_op(&mut self, op: &TextOp) {
        let cursor = op.transform_index(self.cursor_index());
        let anchor = self.anchor_index().map(|a| op.transform_index(a));
        self.area.cancel_selection();
        let mut pos = 0usize;
        for c in op.components() {
            match c {
                OpComponent::Retain(n) => pos += n,
                OpComponent::Insert(s) => {
                    self.set_cursor_index(pos);
                    self.area.insert_str(s);
                    pos += s.chars().count();
                }
                OpComponent::Delete(n) => {
                    self.set_cursor_index(pos);
                    self.area.delete_str(*n);
                }
            }
        }
        self.set_selection(anchor, cursor);
    }

    /// Moves the cursor to a click at (row, col) inside the text area
    /// (relative to its top-left).
    pub fn click(&mut self, row: u16, col: u16, extend: bool) {
        let (top, _) = self.area.scroll_offset();
        let dc = self.area.screen_to_data(row as usize + top as usize, col as usize);
        if extend && !self.area.is_selecting() {
            self.area.start_selection();
        } else if !extend {
            self.area.cancel_selection();
        }
        self.area.move_cursor(CursorMove::Jump(clamp16(dc.0), clamp16(dc.1)));
    }
}

impl Editor {
    /// Keys in normal mode: movement and commands.
    fn normal_key(&mut self, key: KeyEvent) -> Outcome {
        let ctrl = key.modifiers.contains(KeyModifiers::CONTROL);
        match key.code {
            KeyCode::Char('i') | KeyCode::Enter => return Outcome::run(Action::EditStart),
            KeyCode::Char('[') => return Outcome::run(Action::SectionPrev),
            KeyCode::Char(']') => return Outcome::run(Action::SectionNext),
            KeyCode::Char('z') if ctrl => return Outcome::run(Action::Undo),
            KeyCode::Char('y') if ctrl => return Outcome::run(Action::Redo),
            KeyCode::Up
            | KeyCode::Down
            | KeyCode::Left
            | KeyCode::Right
            | KeyCode::Home
            | KeyCode::End
            | KeyCode::PageUp
            | KeyCode::PageDown => {
                // Movement only: the textarea never edits on these keys.
                self.input(key);
            }
            KeyCode::Char('j') => {
                self.input(KeyEvent::new(KeyCode::Down, key.modifiers));
            }
            KeyCode::Char('k') => {
                self.input(KeyEvent::new(KeyCode::Up, key.modifiers));
            }
            _ => return Outcome::Ignored,
        }
        Outcome::used()
    }

    /// Keys in insert mode: they type into the section.
    fn insert_key(&mut self, key: KeyEvent, ctx: &Ctx<'_>) -> Outcome {
        let ctrl = key.modifiers.contains(KeyModifiers::CONTROL);
        let alt = key.modifiers.contains(KeyModifiers::ALT);
        match key.code {
            KeyCode::Esc => return Outcome::run(Action::EditStop),
            KeyCode::Char('z') if ctrl => return Outcome::run(Action::Undo),
            KeyCode::Char('y') if ctrl => return Outcome::run(Action::Redo),
            KeyCode::Char('o') if alt => return Outcome::run(Action::ObjectionNew),
            // The textarea's own undo/paste/search bindings are not ours.
            KeyCode::Char('u' | 'r' | 'v' | 'x' | 'c') if ctrl => return Outcome::used(),
            _ => {}
        }
        if ctx.room.read_only_reason().is_some() {
            self.mode = EditMode::Normal;
            return Outcome::used();
        }
        let edit = self.input(key);
        Outcome::with(Command::Edited(edit))
    }
}

impl Component for Editor {
    fn event(&mut self, key: KeyEvent, ctx: &Ctx<'_>) -> Outcome {
        match self.mode {
            EditMode::Insert => self.insert_key(key, ctx),
            EditMode::Normal => self.normal_key(key),
        }
    }
}

fn clamp16(v: usize) -> u16 {
    u16::try_from(v).unwrap_or(u16::MAX)
}

/// Char offset of (row, col) in `lines` joined with `\n`.
pub fn index_of(lines: &[String], row: usize, col: usize) -> usize {
    let before: usize = lines.iter().take(row).map(|l| l.chars().count() + 1).sum();
    let line_len = lines.get(row).map_or(0, |l| l.chars().count());
    before + col.min(line_len)
}

/// (row, col) of char offset `idx` in `lines` joined with `\n` (clamped).
pub fn position_of(lines: &[String], idx: usize) -> (usize, usize) {
    let mut rest = idx;
    for (row, line) in lines.iter().enumerate() {
        let n = line.chars().count();
        if rest <= n {
            return (row, rest);
        }
        rest -= n + 1;
    }
    let last = lines.len().saturating_sub(1);
    (last, lines.last().map_or(0, |l| l.chars().count()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn index_roundtrip() {
        let lines: Vec<String> = ["ab", "", "cdé"].iter().map(|s| s.to_string()).collect();
        for idx in 0..=6 {
            let (r, c) = position_of(&lines, idx);
            assert_eq!(index_of(&lines, r, c), idx);
        }
        assert_eq!(position_of(&lines, 3), (1, 0));
        assert_eq!(position_of(&lines, 99), (2, 3));
    }

    #[test]
    fn remote_op_keeps_cursor_and_selection() {
        let theme = Theme::new(false, true);
        let mut e = Editor::new(&theme);
        e.load(SectionId::new(), "hello world\nsecond", 8, Some(6), &theme);
        assert_eq!(e.selected_text().as_deref(), Some("wo"));
        // Someone inserts "big " at 0 and deletes "second".
        let mut op = TextOp::new();
        op.insert("big ").retain(12).delete(6);
        e.apply_op(&op);
        assert_eq!(e.text(), "big hello world\n");
        assert_eq!(e.cursor_index(), 12);
        assert_eq!(e.selected_text().as_deref(), Some("wo"));
        let op2 = TextOp::from_texts("big hello world\n", "big hello\nnew\n world\n");
        e.apply_op(&op2);
        assert_eq!(e.text(), "big hello\nnew\n world\n");
    }
}

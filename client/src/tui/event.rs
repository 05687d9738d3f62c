//! Terminal input → actions. Overlays take keys first (palette, dialog,
//! help), then the diff screen, then the focused pane; keys no pane uses
//! fall through to the global map.

use crossterm::event::{Event, KeyCode, KeyEvent, KeyEventKind, KeyModifiers, MouseButton, MouseEvent, MouseEventKind};
use ratatui::layout::{Position, Rect};

use super::actions::Action;
use super::app::{App, Overlay, Pane};
use super::editor::EditMode;
use super::forms::Dialog;
use super::layout::layout;

impl App {
    pub fn on_terminal_event(&mut self, ev: Event) {
        match ev {
            Event::Key(key) if key.kind != KeyEventKind::Release => self.on_key(key),
            Event::Mouse(m) => self.on_mouse(m),
            Event::Resize(w, h) => {
                self.size = Rect::new(0, 0, w, h);
                self.dirty = true;
            }
            Event::Paste(text) => self.on_paste(&text),
            _ => {}
        }
    }

    pub fn on_key(&mut self, key: KeyEvent) {
        self.dirty = true;
        // Terminals send Alt-x as ESC x: an Esc typed just before a key
        // arrives as Alt+key. Outside the text editor no command uses Alt,
        // so read it as the Esc it was, then the key.
        let typing = self.overlay.is_none() && self.focus == Pane::Editor && self.editor.mode == EditMode::Insert;
        if key.modifiers.contains(KeyModifiers::ALT) && matches!(key.code, KeyCode::Char(_)) && !typing {
            self.on_key(KeyEvent::new(KeyCode::Esc, KeyModifiers::NONE));
            let mut plain = key;
            plain.modifiers.remove(KeyModifiers::ALT);
            return self.on_key(plain);
        }
        let ctrl = key.modifiers.contains(KeyModifiers::CONTROL);
        if ctrl && key.code == KeyCode::Char('c') {
            return self.run_action(Action::Quit);
        }
        if !matches!(key.code, KeyCode::Char('q')) {
            self.quit_armed = false;
        }
        if let Some(overlay) = self.overlay.take() {
            self.overlay = self.overlay_key(overlay, key);
            return;
        }
        if self.diff.is_some() {
            return self.diff_key(key);
        }
        if self.suggestions.is_some() {
            return self.suggestions_key(key);
        }
        if self.stats.is_some() {
            return self.stats_key(key);
        }
        if self.focus == Pane::Editor && self.editor.mode == EditMode::Insert {
            return self.insert_key(key);
        }
        let handled = match self.focus {
            Pane::Sections => self.sections_key(key),
            Pane::Editor => self.editor_key(key),
            Pane::Register => self.register_key(key),
            Pane::Annexes => self.annex_key(key),
        };
        if !handled {
            self.global_key(key);
        }
    }

    fn global_key(&mut self, key: KeyEvent) {
        let ctrl = key.modifiers.contains(KeyModifiers::CONTROL);
        let action = match key.code {
            KeyCode::Char('z') if ctrl => Action::Undo,
            KeyCode::Char('y') if ctrl => Action::Redo,
            KeyCode::Char('?') | KeyCode::F(1) => Action::Help,
            KeyCode::Char(':') => Action::Palette,
            KeyCode::Tab => Action::FocusNext,
            KeyCode::BackTab => Action::FocusPrev,
            KeyCode::Char('1') => Action::Focus(Pane::Sections),
            KeyCode::Char('2') => Action::Focus(Pane::Editor),
            KeyCode::Char('3') => Action::Focus(Pane::Register),
            KeyCode::Char('4') => Action::Focus(Pane::Annexes),
            KeyCode::Char('r') => Action::ToggleRegister,
            KeyCode::Char('a') => Action::ToggleAnnexes,
            KeyCode::Char('o') => Action::ObjectionNew,
            KeyCode::Char('d') => Action::DiffOpen,
            KeyCode::Char('D') => Action::DiffPacket,
            KeyCode::Char('R') => Action::Readiness,
            KeyCode::Char('H') => Action::Hold,
            KeyCode::Char('E') => Action::Escalate,
            KeyCode::Char('S') => Action::Cosign,
            KeyCode::Char('u') => Action::Suggestions,
            KeyCode::Char('m') => Action::Stats,
            KeyCode::Char('V') => {
                super::approvals::open(self);
                return;
            }
            KeyCode::Char('q') => Action::Quit,
            KeyCode::Esc => {
                self.editor.area.cancel_selection();
                return;
            }
            _ => return,
        };
        self.run_action(action);
    }

    fn sections_key(&mut self, key: KeyEvent) -> bool {
        match key.code {
            KeyCode::Char('j') | KeyCode::Down => self.run_action(Action::SectionNext),
            KeyCode::Char('k') | KeyCode::Up => self.run_action(Action::SectionPrev),
            KeyCode::Char('g') | KeyCode::Home => self.select_section(0),
            KeyCode::Char('G') | KeyCode::End => self.select_section(usize::MAX),
            KeyCode::Enter | KeyCode::Right | KeyCode::Char('l') => self.set_focus(Pane::Editor),
            KeyCode::Char('i') => self.run_action(Action::EditStart),
            _ => return false,
        }
        true
    }

    fn editor_key(&mut self, key: KeyEvent) -> bool {
        let ctrl = key.modifiers.contains(KeyModifiers::CONTROL);
        match key.code {
            KeyCode::Char('i') | KeyCode::Enter => self.run_action(Action::EditStart),
            KeyCode::Char('[') => self.run_action(Action::SectionPrev),
            KeyCode::Char(']') => self.run_action(Action::SectionNext),
            KeyCode::Char('z') if ctrl => self.run_action(Action::Undo),
            KeyCode::Char('y') if ctrl => self.run_action(Action::Redo),
            KeyCode::Up
            | KeyCode::Down
            | KeyCode::Left
            | KeyCode::Right
            | KeyCode::Home
            | KeyCode::End
            | KeyCode::PageUp
            | KeyCode::PageDown => {
                // Movement only: the textarea never edits on these keys.
                self.editor.input(key);
            }
            KeyCode::Char('j') => {
                self.editor.input(KeyEvent::new(KeyCode::Down, key.modifiers));
            }
            KeyCode::Char('k') => {
                self.editor.input(KeyEvent::new(KeyCode::Up, key.modifiers));
            }
            _ => return false,
        }
        true
    }

    fn insert_key(&mut self, key: KeyEvent) {
        let ctrl = key.modifiers.contains(KeyModifiers::CONTROL);
        let alt = key.modifiers.contains(KeyModifiers::ALT);
        match key.code {
            KeyCode::Esc => return self.run_action(Action::EditStop),
            KeyCode::Char('z') if ctrl => return self.run_action(Action::Undo),
            KeyCode::Char('y') if ctrl => return self.run_action(Action::Redo),
            KeyCode::Char('o') if alt => return self.run_action(Action::ObjectionNew),
            // The textarea's own undo/paste/search bindings are not ours.
            KeyCode::Char('u' | 'r' | 'v' | 'x' | 'c') if ctrl => return,
            _ => {}
        }
        if self.room.read_only_reason().is_some() {
            self.editor.mode = EditMode::Normal;
            return;
        }
        let edit = self.editor.input(key);
        self.editor_edited(edit);
    }

    fn on_paste(&mut self, text: &str) {
        if let Some(Overlay::Dialog(d)) = &mut self.overlay {
            if let Some(t) = super::dialog_keys::dialog_text(d) {
                t.insert_str(text.replace('\n', " "));
            }
            self.dirty = true;
            return;
        }
        if self.focus == Pane::Editor && self.editor.mode == EditMode::Insert && self.room.read_only_reason().is_none() {
            let text = trustroom_shared::ot::normalize_newlines(text);
            let edit = self.editor.paste(&text);
            self.editor_edited(edit);
            self.dirty = true;
        }
    }

    fn register_key(&mut self, key: KeyEvent) -> bool {
        let n = self.register_items().len();
        match key.code {
            KeyCode::Char('j') | KeyCode::Down => {
                self.register.selected = (self.register.selected + 1).min(n.saturating_sub(1));
            }
            KeyCode::Char('k') | KeyCode::Up => self.register.selected = self.register.selected.saturating_sub(1),
            KeyCode::Enter | KeyCode::Char(' ') => self.register.expanded = !self.register.expanded,
            KeyCode::Char('n' | 'o') => self.run_action(Action::ObjectionNew),
            KeyCode::Char('c') => self.run_action(Action::ObjectionReply),
            KeyCode::Char('s') => self.run_action(Action::ObjectionStatus),
            KeyCode::Char('f') => self.run_action(Action::RegisterFilter),
            KeyCode::Esc => self.set_focus(Pane::Editor),
            _ => return false,
        }
        true
    }

    fn annex_key(&mut self, key: KeyEvent) -> bool {
        let ids = self.annex_ids();
        match key.code {
            KeyCode::Char('j') | KeyCode::Down => {
                self.annexes.selected = (self.annexes.selected + 1).min(ids.len().saturating_sub(1));
            }
            KeyCode::Char('k') | KeyCode::Up => self.annexes.selected = self.annexes.selected.saturating_sub(1),
            KeyCode::Enter => {
                if let Some(id) = ids.get(self.annexes.selected) {
                    self.run_action(Action::OpenAnnex(*id));
                }
            }
            KeyCode::PageDown => self.annexes.scroll = self.annexes.scroll.saturating_add(5),
            KeyCode::PageUp => self.annexes.scroll = self.annexes.scroll.saturating_sub(5),
            KeyCode::Char('A') if matches!(self.annexes.open, Some(super::app::AnnexOpen::Gated(_))) => {
                if let Some(super::app::AnnexOpen::Gated(id)) = self.annexes.open {
                    self.open_reason(super::forms::ReasonPurpose::RequestAccess(id));
                }
            }
            KeyCode::Esc if self.annexes.open.is_some() => self.annexes.open = None,
            KeyCode::Esc => self.set_focus(Pane::Editor),
            _ => return false,
        }
        true
    }

    fn on_mouse(&mut self, m: MouseEvent) {
        if self.overlay.is_some() {
            return;
        }
        let at = Position::new(m.column, m.row);
        let l = layout(self, self.size);
        if self.diff.is_some() {
            if let Some(d) = &mut self.diff {
                match m.kind {
                    MouseEventKind::ScrollDown => d.scroll = (d.scroll + 3).min(d.row_count().saturating_sub(1)),
                    MouseEventKind::ScrollUp => d.scroll = d.scroll.saturating_sub(3),
                    _ => return,
                }
                self.dirty = true;
            }
            return;
        }
        let pane = [
            (Pane::Sections, l.sections),
            (Pane::Editor, l.editor),
            (Pane::Register, l.register),
            (Pane::Annexes, l.annexes),
        ]
        .into_iter()
        .find(|(_, r)| r.is_some_and(|r| r.contains(at)));
        let Some((pane, Some(rect))) = pane else { return };
        match m.kind {
            MouseEventKind::Down(MouseButton::Left) => {
                if self.focus != pane {
                    self.set_focus(pane);
                }
                match pane {
                    Pane::Sections => {
                        let row = m.row.saturating_sub(rect.y + 1) as usize;
                        let first = super::ui::sections::first_visible(self, rect);
                        self.select_section(first + row / 2);
                    }
                    Pane::Editor => {
                        let (r, c) = (m.row.saturating_sub(rect.y + 1), m.column.saturating_sub(rect.x + 1));
                        self.editor.click(r, c, false);
                    }
                    Pane::Register | Pane::Annexes => {}
                }
            }
            MouseEventKind::Drag(MouseButton::Left) if pane == Pane::Editor => {
                let (r, c) = (m.row.saturating_sub(rect.y + 1), m.column.saturating_sub(rect.x + 1));
                self.editor.click(r, c, true);
            }
            MouseEventKind::ScrollDown => self.scroll_pane(pane, true),
            MouseEventKind::ScrollUp => self.scroll_pane(pane, false),
            _ => return,
        }
        self.dirty = true;
    }

    fn scroll_pane(&mut self, pane: Pane, down: bool) {
        let code = if down { KeyCode::Down } else { KeyCode::Up };
        match pane {
            Pane::Sections => {
                self.run_action(if down { Action::SectionNext } else { Action::SectionPrev });
            }
            Pane::Editor => {
                let rows: i16 = if down { 3 } else { -3 };
                self.editor.area.scroll((rows, 0));
            }
            Pane::Register => {
                self.register_key(KeyEvent::new(code, KeyModifiers::NONE));
            }
            Pane::Annexes => {
                if self.annexes.open.is_some() {
                    self.annexes.scroll = if down {
                        self.annexes.scroll.saturating_add(3)
                    } else {
                        self.annexes.scroll.saturating_sub(3)
                    };
                } else {
                    self.annex_key(KeyEvent::new(code, KeyModifiers::NONE));
                }
            }
        }
    }

    fn overlay_key(&mut self, overlay: Overlay, key: KeyEvent) -> Option<Overlay> {
        match overlay {
            Overlay::Help => match key.code {
                KeyCode::Down | KeyCode::Char('j') => {
                    let width = self.size.width.saturating_sub(6).min(98) as usize;
                    let lines = super::ui::help::help_lines(self, width).len();
                    let max = lines.saturating_sub(self.size.height.saturating_sub(4) as usize);
                    self.help_scroll = (self.help_scroll.saturating_add(1)).min(max as u16);
                    Some(Overlay::Help)
                }
                KeyCode::Up | KeyCode::Char('k') => {
                    self.help_scroll = self.help_scroll.saturating_sub(1);
                    Some(Overlay::Help)
                }
                _ => None,
            },
            Overlay::Palette(p) => self.palette_key(p, key),
            Overlay::Dialog(d) => self.dialog_key(*d, key).map(Overlay::dialog),
        }
    }

    fn palette_key(&mut self, mut p: super::palette::PaletteState, key: KeyEvent) -> Option<Overlay> {
        let cmds = super::palette::commands(self.room.is_owner(), self.room.replica.state.as_ref(), &p.input);
        match key.code {
            KeyCode::Esc => return None,
            KeyCode::Enter => {
                let chosen = cmds.get(p.selected).cloned();
                if let Some(c) = chosen {
                    // A disabled (owner-only) entry runs too: the action
                    // explains why it is refused.
                    self.run_action(c.action);
                }
                // The action may have opened another overlay.
                return self.overlay.take();
            }
            KeyCode::Down | KeyCode::Tab => p.selected = (p.selected + 1).min(cmds.len().saturating_sub(1)),
            KeyCode::Up | KeyCode::BackTab => p.selected = p.selected.saturating_sub(1),
            KeyCode::Backspace => {
                p.input.pop();
                p.selected = 0;
            }
            KeyCode::Char(c) if !key.modifiers.contains(KeyModifiers::CONTROL) => {
                p.input.push(c);
                p.selected = 0;
            }
            _ => {}
        }
        Some(Overlay::Palette(p))
    }

    fn dialog_key(&mut self, d: Dialog, key: KeyEvent) -> Option<Dialog> {
        super::dialog_keys::dialog_key(self, d, key)
    }
}

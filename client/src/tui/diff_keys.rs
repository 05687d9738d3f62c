//! Keys on the diff screen: scroll, switch layout, scope and base. The
//! screen's state is a [`DiffView`]; this is how a key changes it.

use super::app::{App, Overlay};
use super::diffview::{DiffBase, DiffLayout, DiffScope};

impl App {
    /// Keys on the diff screen.
    pub fn diff_key(&mut self, key: crossterm::event::KeyEvent) {
        use crossterm::event::KeyCode;
        let Some(mut d) = self.diff.take() else { return };
        let revs = self.room.history.revisions();
        let now = self.room.replica.state.as_ref().map_or(0, |s| s.revision);
        let page = self.size.height.saturating_sub(6).max(1) as usize;
        let max = d.row_count().saturating_sub(1);
        let mut recompute = true;
        match key.code {
            KeyCode::Esc | KeyCode::Char('q') => return,
            KeyCode::Char('s') => {
                d.layout = match d.layout {
                    DiffLayout::Unified => DiffLayout::SideBySide,
                    DiffLayout::SideBySide => DiffLayout::Unified,
                };
                d.scroll = 0;
                recompute = false;
            }
            KeyCode::Char('p') => {
                d.scope = match (d.scope, self.current_section_id()) {
                    (DiffScope::Packet, Some(id)) => DiffScope::Section(id),
                    _ => DiffScope::Packet,
                };
            }
            KeyCode::Char('l') => d.base = DiffBase::LastLooked,
            KeyCode::Char('e') => d.base = DiffBase::LastRelease,
            KeyCode::Char('b') => {
                let from = revs.iter().rev().find(|r| **r < now).copied().unwrap_or(self.room.history.since);
                d.base = DiffBase::Revisions { from, to: now };
            }
            KeyCode::Char(c @ ('[' | ']' | '{' | '}')) => {
                let (mut from, mut to) = match d.base {
                    DiffBase::Revisions { from, to } => (from, to),
                    _ => (self.room.history.since, now),
                };
                let prev = |r: u64| revs.iter().rev().find(|x| **x < r).copied().unwrap_or(r);
                let next = |r: u64| revs.iter().find(|x| **x > r).copied().unwrap_or(now.max(r));
                match c {
                    '[' => from = prev(from),
                    ']' => from = next(from).min(to),
                    '{' => to = prev(to).max(from),
                    _ => to = next(to).min(now),
                }
                d.base = DiffBase::Revisions { from, to };
            }
            KeyCode::Char('j') | KeyCode::Down => {
                d.scroll = (d.scroll + 1).min(max);
                recompute = false;
            }
            KeyCode::Char('k') | KeyCode::Up => {
                d.scroll = d.scroll.saturating_sub(1);
                recompute = false;
            }
            KeyCode::PageDown | KeyCode::Char(' ') => {
                d.scroll = (d.scroll + page).min(max);
                recompute = false;
            }
            KeyCode::PageUp => {
                d.scroll = d.scroll.saturating_sub(page);
                recompute = false;
            }
            KeyCode::Char('g') | KeyCode::Home => {
                d.scroll = 0;
                recompute = false;
            }
            KeyCode::Char('G') | KeyCode::End => {
                d.scroll = max;
                recompute = false;
            }
            KeyCode::Char('?') => {
                self.overlay = Some(Overlay::Help);
                recompute = false;
            }
            _ => recompute = false,
        }
        if recompute {
            d.scroll = 0;
            if let Some(state) = &self.room.replica.state {
                d.compute(state, &self.room.history);
            }
        }
        self.diff = Some(d);
        self.dirty = true;
    }
}

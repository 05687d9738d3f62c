//! The diff screen: a [`DiffView`] (what is compared, how, and the rows)
//! and its keys — scroll (by screen line: long lines wrap), switch layout,
//! scope and base.

use crossterm::event::{KeyCode, KeyEvent};

use super::{Command, Component, Ctx, Outcome};
use crate::tui::diffview::{DiffBase, DiffLayout, DiffScope, DiffView};

#[derive(Clone, Debug)]
pub struct DiffScreen {
    pub view: DiffView,
}

impl DiffScreen {
    /// Scrolls three screen lines (the mouse wheel).
    pub fn scroll_by(&mut self, down: bool) {
        let d = &mut self.view;
        d.scroll = if down { (d.scroll + 3).min(d.row_count().saturating_sub(1)) } else { d.scroll.saturating_sub(3) };
    }
}

impl Component for DiffScreen {
    fn event(&mut self, key: KeyEvent, ctx: &Ctx<'_>) -> Outcome {
        let d = &mut self.view;
        let history = &ctx.room.history;
        let revs = history.revisions();
        let now = ctx.room.replica.state.as_ref().map_or(0, |s| s.revision);
        let page = ctx.size.height.saturating_sub(6).max(1) as usize;
        let max = d.row_count().saturating_sub(1);
        let mut recompute = true;
        let mut then = Vec::new();
        match key.code {
            KeyCode::Esc | KeyCode::Char('q') => return Outcome::close(),
            KeyCode::Char('s') => {
                d.layout = match d.layout {
                    DiffLayout::Unified => DiffLayout::SideBySide,
                    DiffLayout::SideBySide => DiffLayout::Unified,
                };
                d.scroll = 0;
                recompute = false;
            }
            KeyCode::Char('p') => {
                d.scope = match (d.scope, ctx.current_section_id()) {
                    (DiffScope::Packet, Some(id)) => DiffScope::Section(id),
                    _ => DiffScope::Packet,
                };
            }
            KeyCode::Char('l') => d.base = DiffBase::LastLooked,
            KeyCode::Char('e') => d.base = DiffBase::LastRelease,
            KeyCode::Char('b') => {
                let from = revs.iter().rev().find(|r| **r < now).copied().unwrap_or(history.since);
                d.base = DiffBase::Revisions { from, to: now };
            }
            KeyCode::Char(c @ ('[' | ']' | '{' | '}')) => {
                let (mut from, mut to) = match d.base {
                    DiffBase::Revisions { from, to } => (from, to),
                    _ => (history.since, now),
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
                then.push(Command::ShowHelp);
                recompute = false;
            }
            _ => recompute = false,
        }
        if recompute {
            d.scroll = 0;
            if let Some(state) = &ctx.room.replica.state {
                d.compute(state, history);
            }
        }
        Outcome::Used(then)
    }
}

//! The message history (`N`): every refusal, notice and room event the
//! user was given (the status bar's notices, the last 200), newest first,
//! with its time — the notification line shows only the latest, cut to one
//! row; here each one is whole. Scrolls by message; `f` shows one kind.

use crossterm::event::{KeyCode, KeyEvent};

use super::status::{Notice, NoticeKind};
use super::{Component, Ctx, Outcome};
use crate::tui::action::Action;
use crate::tui::text::wrap;

#[derive(Clone, Debug, Default)]
pub struct HistoryScreen {
    /// Messages scrolled past, from the newest.
    pub scroll: usize,
    /// Only this kind of message, or all.
    pub only: Option<NoticeKind>,
}

impl HistoryScreen {
    /// The messages shown, newest first.
    pub fn listed<'a>(&self, ctx: &Ctx<'a>) -> Vec<&'a Notice> {
        ctx.notices.iter().rev().filter(|n| self.only.is_none_or(|k| n.kind == k)).collect()
    }

    /// Columns before a message's text (`HH:MM:SS refused `).
    pub const HEAD: usize = 17;

    /// The furthest the list scrolls: the oldest messages fill the last
    /// page instead of one message alone at the top (`rows` high, text
    /// wrapped at `width`).
    pub fn max_scroll(&self, ctx: &Ctx<'_>, width: usize, rows: usize) -> usize {
        let listed = self.listed(ctx);
        let mut used = 0;
        for (i, n) in listed.iter().enumerate().rev() {
            used += wrap(&n.text, width).len().max(1);
            if used > rows {
                return i + 1;
            }
        }
        0
    }

    /// The text width and rows of the list on a terminal of `ctx.size`.
    fn fit(ctx: &Ctx<'_>) -> (usize, usize) {
        let width = (ctx.size.width as usize).saturating_sub(2 + Self::HEAD).max(10);
        // The notification line, the status bar and the borders.
        let rows = (ctx.size.height as usize).saturating_sub(4).max(1);
        (width, rows)
    }

    /// What `f` shows next: all → refusals → room events → notices → all.
    fn next_filter(&self) -> Option<NoticeKind> {
        match self.only {
            None => Some(NoticeKind::Refusal),
            Some(NoticeKind::Refusal) => Some(NoticeKind::Room),
            Some(NoticeKind::Room) => Some(NoticeKind::Notice),
            Some(NoticeKind::Notice) => None,
        }
    }
}

impl Component for HistoryScreen {
    fn event(&mut self, key: KeyEvent, ctx: &Ctx<'_>) -> Outcome {
        let (width, rows) = Self::fit(ctx);
        let last = self.max_scroll(ctx, width, rows);
        let page = (ctx.size.height as usize / 3).max(1);
        match key.code {
            KeyCode::Esc | KeyCode::Char('q' | 'N') => return Outcome::close(),
            KeyCode::Char('j') | KeyCode::Down => self.scroll = (self.scroll + 1).min(last),
            KeyCode::Char('k') | KeyCode::Up => self.scroll = self.scroll.saturating_sub(1),
            KeyCode::PageDown => self.scroll = (self.scroll + page).min(last),
            KeyCode::PageUp => self.scroll = self.scroll.saturating_sub(page),
            KeyCode::Char('g') | KeyCode::Home => self.scroll = 0,
            KeyCode::Char('G') | KeyCode::End => self.scroll = last,
            KeyCode::Char('f') => {
                self.only = self.next_filter();
                self.scroll = 0;
            }
            KeyCode::Char('?') => return Outcome::run(Action::Help),
            _ => {}
        }
        Outcome::used()
    }
}

//! The help overlay: the keys of the focused pane, the global keys (owner-only
//! ones shown disabled to others), extra lines from the caller (the demo's
//! join commands, each whole and alone on its row so it copies cleanly)
//! and the symbol legend. Which lines there are is the pane's
//! ([`Help::lines`]); here they get their looks.

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Clear, Widget};

use super::chrome::{centered, popup, put_line, str_width, truncate};
use crate::tui::pane::help::{Help, HelpLine};
use crate::tui::pane::{Ctx, Draw};
use crate::tui::theme::Theme;

/// A help line in its looks (also used by tests).
pub fn styled(t: &Theme, line: HelpLine) -> Line<'static> {
    match line {
        HelpLine::Heading(s) => Line::from(Span::styled(s, t.title())),
        HelpLine::Key { help: k, enabled } => {
            let key_style = if enabled { t.key() } else { t.key_disabled() };
            let what_style = if enabled { t.text() } else { t.key_disabled() };
            let mut spans = vec![
                Span::styled(format!("  {:<18}", k.keys), key_style),
                Span::styled(k.what.to_string(), what_style),
            ];
            if !enabled {
                spans.push(Span::styled("  (owner only)", t.dim()));
            }
            Line::from(spans)
        }
        HelpLine::Blank => Line::from(""),
        HelpLine::Note(s) => Line::from(Span::styled(s, t.dim())),
        HelpLine::Text(s) => Line::from(Span::styled(s, t.text())),
        HelpLine::Subheading(s) => Line::from(Span::styled(s, t.bold())),
        HelpLine::Command(s) => Line::from(Span::styled(s, t.key())),
        HelpLine::Symbol { sym, what } => Line::from(vec![Span::styled(sym, t.key()), Span::styled(what, t.text())]),
    }
}

impl Draw for Help {
    fn draw(&self, ctx: &Ctx<'_>, area: Rect, buf: &mut Buffer) {
        let w = (area.width.saturating_sub(4)).min(100);
        let h = area.height.saturating_sub(2);
        let rect = centered(area, w, h);
        let inner = popup(buf, ctx.theme, rect, "Help — any key closes, j/k scroll");
        let rows = self.lines(ctx, inner.width as usize);
        let max_scroll = rows.len().saturating_sub(inner.height as usize);
        let shown = rows.into_iter().skip((self.scroll as usize).min(max_scroll)).take(inner.height as usize);
        for (y, row) in shown.enumerate() {
            let HelpLine::Command(text) = row else {
                put_line(buf, inner, y as u16, &styled(ctx.theme, row));
                continue;
            };
            // A command: clear its whole row (borders included) and start it
            // where it fits, so the terminal's selection takes nothing else.
            let row = Rect::new(area.x, inner.y + y as u16, area.width, 1);
            Clear.render(row, buf);
            let width = str_width(&text);
            let right = area.x.saturating_add(area.width);
            let x = if usize::from(right.saturating_sub(inner.x)) >= width { inner.x } else { area.x };
            let room = usize::from(right.saturating_sub(x));
            buf.set_string(x, row.y, truncate(&text, room), ctx.theme.key());
        }
    }
}

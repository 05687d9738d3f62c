//! The help overlay: the keys of the focused pane, the global keys (owner-only
//! ones shown disabled to others), and extra lines from the caller (the
//! demo's join commands). Which lines there are is the pane's
//! ([`Help::lines`]); here they get their looks.

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};

use super::chrome::{centered, popup, put_line};
use crate::tui::pane::help::{Help, HelpLine};
use crate::tui::pane::{Ctx, Draw};
use crate::tui::theme::Theme;

/// Every help line, styled, in order (also used by tests).
pub fn help_lines(help: &Help, ctx: &Ctx<'_>, width: usize) -> Vec<Line<'static>> {
    help.lines(ctx, width).into_iter().map(|l| styled(ctx.theme, l)).collect()
}

fn styled(t: &Theme, line: HelpLine) -> Line<'static> {
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
    }
}

impl Draw for Help {
    fn draw(&self, ctx: &Ctx<'_>, area: Rect, buf: &mut Buffer) {
        let w = (area.width.saturating_sub(4)).min(100);
        let h = area.height.saturating_sub(2);
        let rect = centered(area, w, h);
        let inner = popup(buf, ctx.theme, rect, "Help — any key closes, j/k scroll");
        let lines = help_lines(self, ctx, inner.width as usize);
        let max_scroll = lines.len().saturating_sub(inner.height as usize);
        for (y, l) in lines.iter().skip((self.scroll as usize).min(max_scroll)).take(inner.height as usize).enumerate()
        {
            put_line(buf, inner, y as u16, l);
        }
    }
}

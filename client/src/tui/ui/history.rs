//! The message history: one message per entry, newest first — its time
//! (`HH:MM:SS`, the user's zone), its kind (refused, room, notice) coloured
//! by level, and its whole text wrapped under it.

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::Widget;

use super::chrome::{pane_block, put_line, wrap};
use crate::session::room::Level;
use crate::tui::clock;
use crate::tui::pane::history::HistoryScreen;
use crate::tui::pane::status::NOTICES_KEPT;
use crate::tui::pane::{Ctx, Draw};

impl Draw for HistoryScreen {
    fn draw(&self, ctx: &Ctx<'_>, area: Rect, buf: &mut Buffer) {
        draw(self, ctx, area, buf);
    }
}

fn draw(view: &HistoryScreen, ctx: &Ctx<'_>, area: Rect, buf: &mut Buffer) {
    let t = ctx.theme;
    let listed = view.listed(ctx);
    let shown = match view.only {
        None => "all".to_string(),
        Some(k) => k.name().to_string(),
    };
    let title = Line::from(vec![
        Span::styled(" Messages ", t.title()),
        Span::styled(format!("{} · newest first · {shown} · times in {} ", listed.len(), clock::zone()), t.dim()),
    ]);
    let hints = format!(" j k PgUp PgDn scroll · f kind · Esc close · the last {NOTICES_KEPT} kept ");
    let block = pane_block(t, title, true).title_bottom(Line::from(Span::styled(hints, t.dim())));
    let inner = block.inner(area);
    block.render(area, buf);
    if listed.is_empty() {
        let none = match view.only {
            None => "nothing yet: refusals, notices and what others do in the room are listed here".to_string(),
            Some(k) => format!("no {} messages (f shows another kind)", k.name()),
        };
        put_line(buf, inner, 0, &Line::from(Span::styled(none, t.dim())));
        return;
    }
    // `HH:MM:SS refused ` — then the text, wrapped under itself.
    const HEAD: usize = HistoryScreen::HEAD;
    let width = (inner.width as usize).saturating_sub(HEAD).max(10);
    let first = view.scroll.min(view.max_scroll(ctx, width, inner.height as usize));
    let mut y = 0u16;
    for n in listed.iter().skip(first) {
        if y >= inner.height {
            break;
        }
        let style = match n.level {
            Level::Info => t.text(),
            Level::Warn => t.warn(),
            Level::Error => t.error(),
        };
        let kind = match n.level {
            Level::Info => t.dim(),
            _ => style,
        };
        for (i, l) in wrap(&n.text, width).into_iter().enumerate() {
            if y >= inner.height {
                break;
            }
            let head = if i == 0 {
                vec![
                    Span::styled(format!("{} ", clock::hms(n.at_ms)), t.dim()),
                    Span::styled(format!("{:<8}", n.kind.name()), kind),
                ]
            } else {
                vec![Span::raw(" ".repeat(HEAD))]
            };
            let mut spans = head;
            spans.push(Span::styled(l, style));
            put_line(buf, inner, y, &Line::from(spans));
            y += 1;
        }
    }
}

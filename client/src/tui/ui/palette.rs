//! The command palette overlay.

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};

use super::chrome::{popup, put_line, truncate};
use crate::tui::pane::palette::{Palette, entries};
use crate::tui::pane::{Ctx, Draw};

impl Draw for Palette {
    fn draw(&self, ctx: &Ctx<'_>, area: Rect, buf: &mut Buffer) {
        draw(self, ctx, area, buf);
    }
}

fn draw(p: &Palette, ctx: &Ctx<'_>, area: Rect, buf: &mut Buffer) {
    let t = ctx.theme;
    let w = area.width.saturating_sub(4).min(80);
    let h = area.height.saturating_sub(4).min(18);
    let rect = Rect::new(area.x + (area.width - w) / 2, area.y + 1, w, h);
    let inner = popup(buf, t, rect, "Commands");
    put_line(
        buf,
        inner,
        0,
        &Line::from(vec![Span::styled(": ", t.key()), Span::raw(p.input.clone()), Span::styled("▏", t.key())]),
    );
    let cmds = entries(ctx.room, &p.input);
    let rows = inner.height.saturating_sub(1) as usize;
    let first = p.selected.saturating_sub(rows.saturating_sub(1));
    let width = inner.width as usize;
    for (row, (i, c)) in cmds.iter().enumerate().skip(first).take(rows).enumerate() {
        let sel = i == p.selected;
        let style = if c.disabled {
            t.key_disabled()
        } else if sel {
            t.selected()
        } else {
            t.text()
        };
        let key = if c.key.is_empty() { String::new() } else { format!("  {}", c.key) };
        let suffix = if c.disabled { "  (owner only)" } else { "" };
        let name = truncate(&c.name, width.saturating_sub(key.len() + suffix.len() + 2));
        let line = Line::from(vec![
            Span::styled(if sel { t.sym.selected } else { " " }, t.key()),
            Span::styled(format!(" {name}"), style),
            Span::styled(suffix, t.dim()),
            Span::styled(key, t.key()),
        ]);
        put_line(buf, inner, 1 + row as u16, &line);
    }
    if cmds.is_empty() {
        put_line(buf, inner, 1, &Line::from(Span::styled("no matching command", t.dim())));
    }
}

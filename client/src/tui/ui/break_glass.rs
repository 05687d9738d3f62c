//! Break-glass (key `B`): setting one — the annexes ticked, the reason
//! every member sees, the duration (at most 30 minutes) and the
//! confirmation; or ending an active one (the keys are in
//! `pane/break_glass.rs`).

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::Widget;

use super::chrome::{centered, popup, put_line, truncate, wrap};
use crate::tui::pane::break_glass::{BreakGlassDialog, BreakGlassField, BreakGlassMode, annex_rows, endable};
use crate::tui::pane::{Ctx, Draw};

impl Draw for BreakGlassDialog {
    fn draw(&self, ctx: &Ctx<'_>, area: Rect, buf: &mut Buffer) {
        let t = ctx.theme;
        let end = self.mode == BreakGlassMode::End || !self.may_set;
        let title = if end { "End a break-glass" } else { "Break-glass — emergency annex access" };
        let rows = if end { endable(ctx.room).len() as u16 + 8 } else { annex_rows(ctx.room).len() as u16 + 15 };
        let inner = popup(buf, t, centered(area, 96, rows.min(area.height.saturating_sub(2))), title);
        let w = inner.width as usize;
        let mut y = 0u16;
        if end {
            let list = endable(ctx.room);
            para(
                buf,
                inner,
                &mut y,
                "Ending it early opens its break-glass review objection (an owner resolves it).",
                t.dim(),
            );
            y += 1;
            for (i, (_, _, line)) in list.iter().enumerate() {
                let selected = i == self.selected;
                let marker = if selected { t.sym.selected } else { " " };
                let style = if selected { t.selected() } else { t.text() };
                put_line(buf, inner, y, &Line::from(Span::styled(truncate(&format!("{marker}{line}"), w), style)));
                y += 1;
            }
            if self.confirming {
                y += 1;
                let code = list.get(self.selected).map(|b| b.1.clone()).unwrap_or_default();
                para(buf, inner, &mut y, &format!("Really end {code} now?"), t.error());
            }
        } else {
            para(
                buf,
                inner,
                &mut y,
                "Read annexes now, without an owner's approval, for at most 30 minutes. Every member sees it; \
                 when it ends a review objection opens.",
                t.dim(),
            );
            y += 1;
            let label = |f: BreakGlassField, s: &str| {
                let style = if self.field == f && !self.confirming { t.border_focused() } else { t.dim() };
                Span::styled(format!("{}{s}", if self.field == f { t.sym.selected } else { " " }), style)
            };
            put_line(buf, inner, y, &Line::from(label(BreakGlassField::Annexes, "Annexes (Space ticks):")));
            y += 1;
            for (i, (id, code, title)) in annex_rows(ctx.room).iter().enumerate() {
                let ticked = if self.annexes.contains(id) { "[x]" } else { "[ ]" };
                let style = if i == self.selected && self.field == BreakGlassField::Annexes {
                    t.selected()
                } else if self.annexes.contains(id) {
                    t.bold()
                } else {
                    t.text()
                };
                put_line(
                    buf,
                    inner,
                    y,
                    &Line::from(Span::styled(truncate(&format!("   {ticked} {code} {title}"), w), style)),
                );
                y += 1;
            }
            put_line(buf, inner, y, &Line::from(label(BreakGlassField::Reason, "Reason (every member sees it):")));
            y += 1;
            if y < inner.height {
                let x = inner.x + 3;
                self.reason.render(Rect::new(x, inner.y + y, inner.width.saturating_sub(3), 1), buf);
            }
            y += 1;
            put_line(
                buf,
                inner,
                y,
                &Line::from(vec![
                    label(BreakGlassField::Minutes, "For: "),
                    Span::styled(format!("◂ {} minutes ▸", self.minutes), t.bold()),
                    Span::styled("  (at most 30)", t.dim()),
                ]),
            );
            y += 2;
            if self.confirming {
                let codes: Vec<String> =
                    annex_rows(ctx.room).into_iter().filter(|r| self.annexes.contains(&r.0)).map(|r| r.1).collect();
                para(
                    buf,
                    inner,
                    &mut y,
                    &format!(
                        "Really break glass on {} for {} minutes? This is audited.",
                        codes.join(", "),
                        self.minutes
                    ),
                    t.error(),
                );
            }
        }
        if let Some(e) = &self.error {
            put_line(buf, inner, inner.height.saturating_sub(2), &Line::from(Span::styled(truncate(e, w), t.error())));
        }
        let can_end = !endable(ctx.room).is_empty();
        let hints = match (end, self.confirming) {
            (_, true) => "y / Enter yes · n / Esc back".to_string(),
            (true, false) if self.may_set => "j/k choose · Enter end… · n new break-glass · Esc close".into(),
            (true, false) => "j/k choose · Enter end… · Esc close".into(),
            (false, false) => format!(
                "Tab field · j/k Space annexes · ←→ minutes · Enter continue{} · Esc close",
                if can_end { " · e end the active one" } else { "" }
            ),
        };
        put_line(buf, inner, inner.height.saturating_sub(1), &Line::from(Span::styled(truncate(&hints, w), t.dim())));
    }
}

/// A paragraph wrapped to the popup, from row `y` on.
fn para(buf: &mut Buffer, inner: Rect, y: &mut u16, s: &str, style: ratatui::style::Style) {
    for l in wrap(s, inner.width as usize) {
        put_line(buf, inner, *y, &Line::from(Span::styled(l, style)));
        *y += 1;
    }
}

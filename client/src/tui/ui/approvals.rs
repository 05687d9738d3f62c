//! The owner's approvals queue (key `V`): each pending access request and
//! promotion on two lines, who asks for what and why; the selection moves
//! with `j`/`k` (the keys are handled in `pane/approvals.rs`).

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};

use super::chrome::{centered, popup, put_line, truncate};
use crate::tui::pane::approvals::{ApprovalsQueue, Item, items};
use crate::tui::pane::{Ctx, Draw};

impl Draw for ApprovalsQueue {
    fn draw(&self, ctx: &Ctx<'_>, area: Rect, buf: &mut Buffer) {
        draw(self, ctx, area, buf);
    }
}

fn draw(f: &ApprovalsQueue, ctx: &Ctx<'_>, area: Rect, buf: &mut Buffer) {
    let t = ctx.theme;
    let list = items(ctx.room);
    let h = (list.len() as u16 * 2 + 4).clamp(6, area.height.saturating_sub(2).max(6));
    let inner = popup(buf, t, centered(area, 90, h), "Approvals — pending access requests and promotions");
    let w = inner.width as usize;
    if list.is_empty() {
        put_line(buf, inner, 0, &Line::from(Span::styled("nothing waits for a decision", t.dim())));
    }
    let visible = (inner.height.saturating_sub(2) / 2).max(1) as usize;
    let first = f.selected.saturating_sub(visible - 1);
    for (row, (i, item)) in list.iter().enumerate().skip(first).take(visible).enumerate() {
        let selected = i == f.selected;
        let marker = if selected { t.sym.selected } else { " " };
        let style = if selected { t.selected() } else { t.text() };
        let (head, detail) = match item {
            Item::Access { code, who, annex, reason, duration, own, .. } => (
                format!(
                    "{marker}{code}  {who} asks to read {annex} for {duration}{}",
                    if *own { "  (yours: another owner decides)" } else { "" }
                ),
                format!("     reason: {reason}"),
            ),
            Item::Promotion { code, who, annex, section, chars, reason, own, .. } => (
                format!(
                    "{marker}{code}  {who} asks to promote {chars} chars of {annex} into \"{section}\"{}",
                    if *own { "  (yours)" } else { "" }
                ),
                format!("     reason: {reason}"),
            ),
        };
        let y = (row * 2) as u16;
        put_line(buf, inner, y, &Line::from(Span::styled(truncate(&head, w), style)));
        put_line(buf, inner, y + 1, &Line::from(Span::styled(truncate(&detail, w), t.dim())));
    }
    let hints = "y/Enter approve · n deny · j/k move · Esc close — every decision is audited";
    put_line(buf, inner, inner.height.saturating_sub(1), &Line::from(Span::styled(truncate(hints, w), t.dim())));
}

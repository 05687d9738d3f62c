//! The active grants (key `G`): each on two lines — who reads which annex
//! until when, and why it was granted; then the note and the confirmation
//! of the revocation (the keys are in `pane/grants.rs`).

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::Widget;

use super::chrome::{centered, popup, put_line, truncate, wrap};
use crate::tui::pane::grants::{GrantsDialog, GrantsStep, active_grants};
use crate::tui::pane::{Ctx, Draw};

impl Draw for GrantsDialog {
    fn draw(&self, ctx: &Ctx<'_>, area: Rect, buf: &mut Buffer) {
        let t = ctx.theme;
        let list = active_grants(ctx.room);
        let h = (list.len() as u16 * 2 + 8).clamp(10, area.height.saturating_sub(2).max(10));
        let inner = popup(buf, t, centered(area, 96, h), "Active grants — revoke one");
        let w = inner.width as usize;
        let mut y = 0u16;
        match self.step {
            GrantsStep::Choose => {
                if list.is_empty() {
                    put_line(buf, inner, y, &Line::from(Span::styled("no active grants", t.dim())));
                }
                let visible = (inner.height.saturating_sub(3) / 2).max(1) as usize;
                let first = self.selected.saturating_sub(visible - 1);
                for (i, g) in list.iter().enumerate().skip(first).take(visible) {
                    let selected = i == self.selected;
                    let marker = if selected { t.sym.selected } else { " " };
                    let style = if selected { t.selected() } else { t.text() };
                    let head = format!("{marker}{}  {} reads {} {}", g.code, g.who, g.annex, g.until);
                    put_line(buf, inner, y, &Line::from(Span::styled(truncate(&head, w), style)));
                    let why = format!("     granted for: {}", g.reason);
                    put_line(buf, inner, y + 1, &Line::from(Span::styled(truncate(&why, w), t.dim())));
                    y += 2;
                }
            }
            GrantsStep::Note | GrantsStep::Confirm => {
                if let Some(g) = self.chosen_row(ctx.room) {
                    let head = format!("Revoke {}: {} reads {} {}", g.code, g.who, g.annex, g.until);
                    for l in wrap(&head, w) {
                        put_line(buf, inner, y, &Line::from(Span::styled(l, t.bold())));
                        y += 1;
                    }
                }
                y += 1;
                put_line(
                    buf,
                    inner,
                    y,
                    &Line::from(Span::styled("Note (optional, kept with the revocation):", t.dim())),
                );
                y += 1;
                if y < inner.height {
                    self.note.render(Rect::new(inner.x, inner.y + y, inner.width, 1), buf);
                }
                y += 2;
                if self.step == GrantsStep::Confirm {
                    let warn = "Really revoke? The grant ends now; an ended grant is never resurrected.";
                    for l in wrap(warn, w) {
                        put_line(buf, inner, y, &Line::from(Span::styled(l, t.error())));
                        y += 1;
                    }
                }
            }
        }
        if let Some(e) = &self.error {
            put_line(buf, inner, inner.height.saturating_sub(2), &Line::from(Span::styled(truncate(e, w), t.error())));
        }
        let hints = match self.step {
            GrantsStep::Choose => "j/k choose · Enter revoke… · Esc close — audited",
            GrantsStep::Note => "type a note · Enter continue · Esc back",
            GrantsStep::Confirm => "y / Enter revoke now · n / Esc back",
        };
        put_line(buf, inner, inner.height.saturating_sub(1), &Line::from(Span::styled(truncate(hints, w), t.dim())));
    }
}

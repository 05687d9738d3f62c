//! The hold register (key `L`): one entry per hold — code, state, who or
//! which check placed it, when and at which revisions, the reason, and for
//! a cleared hold who cleared it and why; then the rationale and the
//! confirmation of a clearing (the keys are in `pane/holds.rs`).

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::Widget;
use trustroom_shared::export::utc;
use trustroom_shared::holds::{Hold, one_line};
use trustroom_shared::room::RoomState;

use super::chrome::{centered, popup, put_line, truncate, wrap};
use crate::tui::pane::holds::{HoldsDialog, HoldsStep, register};
use crate::tui::pane::{Ctx, Draw};

/// The lines of one register entry, `w` cells wide.
pub fn entry_lines(h: &Hold, state: &RoomState, w: usize) -> Vec<String> {
    let state_word = if h.is_open() { "OPEN" } else { "cleared" };
    let mut out = vec![format!(
        "{} {state_word} · placed by {} · {} · rev {} (packet rev {})",
        h.code(),
        h.placed_by.describe(state),
        utc(h.at_ms),
        h.revision,
        h.packet_revision
    )];
    out.extend(
        wrap(&format!("reason: {}", one_line(&h.reason)), w.saturating_sub(5)).into_iter().map(|l| format!("     {l}")),
    );
    if let Some(c) = &h.cleared {
        let text = format!(
            "cleared by {} · {} · rev {}: {}",
            c.by.describe(state),
            utc(c.at_ms),
            c.revision,
            one_line(&c.rationale)
        );
        out.extend(wrap(&text, w.saturating_sub(5)).into_iter().map(|l| format!("     {l}")));
    }
    out
}

impl Draw for HoldsDialog {
    fn draw(&self, ctx: &Ctx<'_>, area: Rect, buf: &mut Buffer) {
        let t = ctx.theme;
        let list = register(ctx.room);
        let open = list.iter().filter(|h| h.is_open()).count();
        let title = format!("Hold register — {open} open, {} cleared", list.len() - open);
        let inner = popup(buf, t, centered(area, 100, area.height.saturating_sub(2).max(12)), &title);
        let w = inner.width as usize;
        let Some(state) = ctx.room.replica.state.as_ref() else { return };
        let mut y = 0u16;
        match self.step {
            HoldsStep::Choose => {
                if list.is_empty() {
                    let none = "no holds yet: H holds the release with a reason; a failing room check holds it too";
                    put_line(buf, inner, y, &Line::from(Span::styled(truncate(none, w), t.dim())));
                }
                let rows = inner.height.saturating_sub(3) as usize;
                let chosen = self.selected_index(&list);
                // Start so the chosen entry is on screen.
                let lens: Vec<usize> = list.iter().map(|h| entry_lines(h, state, w).len()).collect();
                let mut first = 0;
                while first < chosen && lens[first..=chosen].iter().sum::<usize>() > rows {
                    first += 1;
                }
                for (i, h) in list.iter().enumerate().skip(first) {
                    let selected = i == chosen;
                    for (j, l) in entry_lines(h, state, w).into_iter().enumerate() {
                        if y as usize >= rows {
                            break;
                        }
                        let style = match (j, selected, h.is_open()) {
                            (0, true, _) => t.selected(),
                            (0, false, true) => t.error(),
                            (0, false, false) | (_, _, false) => t.dim(),
                            _ => t.text(),
                        };
                        let marker = if j == 0 && selected { t.sym.selected } else { " " };
                        put_line(buf, inner, y, &Line::from(Span::styled(truncate(&format!("{marker}{l}"), w), style)));
                        y += 1;
                    }
                }
            }
            HoldsStep::Rationale | HoldsStep::Confirm => {
                if let Some(h) = self.chosen_open(ctx.room) {
                    for l in wrap(&format!("Clear {}: {}", h.code(), h.reason), w) {
                        put_line(buf, inner, y, &Line::from(Span::styled(l, t.bold())));
                        y += 1;
                    }
                    let others = list.iter().filter(|o| o.is_open() && o.number != h.number).count();
                    let after = if others == 0 {
                        "It is the last open hold: the room goes back to DRAFTING, and you mark it ready again.".into()
                    } else {
                        format!("{others} other hold(s) stay open: the room stays HELD.")
                    };
                    for l in wrap(&after, w) {
                        put_line(buf, inner, y, &Line::from(Span::styled(l, t.dim())));
                        y += 1;
                    }
                }
                y += 1;
                let ask = "Rationale (required; kept in the register, the audit and the export):";
                put_line(buf, inner, y, &Line::from(Span::styled(truncate(ask, w), t.dim())));
                y += 1;
                if y < inner.height {
                    self.rationale.render(Rect::new(inner.x, inner.y + y, inner.width, 1), buf);
                }
                y += 2;
                if self.step == HoldsStep::Confirm {
                    let warn = "Really clear it? A cleared hold stays in the register; a new concern is a new hold.";
                    for l in wrap(warn, w) {
                        put_line(buf, inner, y, &Line::from(Span::styled(l, t.error())));
                        y += 1;
                    }
                }
            }
        }
        if let Some(e) = &self.error {
            for (i, l) in wrap(e, w).into_iter().rev().take(2).enumerate() {
                let row = inner.height.saturating_sub(2 + i as u16);
                put_line(buf, inner, row, &Line::from(Span::styled(l, t.error())));
            }
        }
        let hints = match self.step {
            HoldsStep::Choose if ctx.room.is_owner() => "j/k choose · Enter clear the open hold… · Esc close — audited",
            HoldsStep::Choose => "j/k choose · Esc close (an owner clears holds)",
            HoldsStep::Rationale => "type the rationale · Enter continue · Esc back",
            HoldsStep::Confirm => "y / Enter clear now · n / Esc back",
        };
        put_line(buf, inner, inner.height.saturating_sub(1), &Line::from(Span::styled(truncate(hints, w), t.dim())));
    }
}

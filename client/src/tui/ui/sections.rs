//! The sections list: title, statement-label badges, open/blocking
//! objection counts and who is editing there now.

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::Widget;

use super::chrome::{pane_block, put_line, truncate};
use crate::tui::action::Pane;
use crate::tui::pane::sections::{ROWS, SectionList, SectionMeta};
use crate::tui::pane::{Ctx, Draw};
use crate::tui::theme::Theme;

impl Draw for SectionList {
    fn draw(&self, ctx: &Ctx<'_>, area: Rect, buf: &mut Buffer) {
        draw(self, ctx, area, buf);
    }
}

fn draw(list: &SectionList, ctx: &Ctx<'_>, area: Rect, buf: &mut Buffer) {
    let t = ctx.theme;
    let focused = ctx.focus == Pane::Sections;
    let n = ctx.room.sections().len();
    let title = Line::from(vec![Span::styled(" 1 Sections ", t.title()), Span::styled(format!("{n} "), t.dim())]);
    let block = pane_block(t, title, focused);
    let inner = block.inner(area);
    block.render(area, buf);
    let first = list.first_visible(area);
    let width = inner.width as usize;
    let mut y = 0u16;
    for (i, s) in ctx.room.sections().iter().enumerate().skip(first) {
        if y as usize + ROWS > inner.height as usize + 1 {
            break;
        }
        let selected = i == list.current;
        let marker = if selected { t.sym.selected } else { " " };
        let pending = ctx.room.docs.get(&s.id).is_some_and(|d| d.has_pending());
        let title = format!("{marker}{}. {}{}", i + 1, s.title, if pending { " •" } else { "" });
        let style = if selected { t.selected() } else { t.text() };
        let mut l1 = Line::from(Span::styled(truncate(&title, width), style));
        if selected {
            l1 = l1.style(t.selected());
        }
        put_line(buf, inner, y, &l1);
        let meta = list.meta.get(&s.id).cloned().unwrap_or_default();
        let mut spans = vec![Span::raw("   ")];
        spans.extend(badges(t, &meta));
        if let Some(state) = &ctx.room.replica.state {
            let open = crate::tui::suggest::open_on(state, s.id);
            if open > 0 {
                spans.push(Span::styled(format!("✎{open} "), t.diff_insert()));
            }
            let stale = state.evidence.stale().filter(|b| b.section == s.id).count();
            if stale > 0 {
                spans.push(Span::styled(format!("⚠{stale} stale "), t.error()));
            }
        }
        let editors = ctx.room.editing_in(s.id);
        if !editors.is_empty() {
            // `@priya,daniel`: who is in this section now (`✎` is open
            // suggestions; one meaning per symbol).
            spans.push(Span::styled(t.sym.editing, t.dim()));
            for (k, (user, name)) in editors.iter().enumerate() {
                if k > 0 {
                    spans.push(Span::raw(","));
                }
                spans.push(Span::styled(short_name(name), t.user(*user)));
            }
        }
        let l2 = Line::from(spans);
        put_line(buf, inner, y + 1, &l2);
        if selected && inner.height > y + 1 {
            buf.set_style(Rect::new(inner.x, inner.y + y + 1, inner.width, 1), t.selected());
        }
        y += ROWS as u16;
    }
    if n == 0 {
        put_line(buf, inner, 0, &Line::from(Span::styled("no sections yet", t.dim())));
    }
}

/// Label and objection badges: `✓2 ?1 🔒1 ≈1 ✗1 ⚑2!1` (the help overlay's
/// legend explains each).
pub fn badges<'a>(t: &Theme, m: &SectionMeta) -> Vec<Span<'a>> {
    let mut v = Vec::new();
    let mut push = |n: usize, sym: &str, style| {
        if n > 0 {
            v.push(Span::styled(format!("{sym}{n} "), style));
        }
    };
    push(m.verified, t.sym.verified, t.verified());
    push(m.contested, t.sym.contested, t.contested());
    push(m.restricted, t.sym.restricted, t.restricted());
    push(m.residual, t.sym.residual, t.residual());
    push(m.unsupported, t.sym.unsupported, t.unsupported());
    if m.open_objections > 0 {
        v.push(Span::styled(format!("{}{}", t.sym.objection, m.open_objections), t.warn()));
        if m.blocking_open > 0 {
            v.push(Span::styled(format!("{}{}", t.sym.blocking, m.blocking_open), t.blocking()));
        }
        v.push(Span::raw(" "));
    }
    v
}

/// `priya.natarajan` → `priya`.
pub fn short_name(name: &str) -> String {
    name.split(['.', ' ', '-']).next().unwrap_or(name).to_string()
}

//! The disagreement register: objections for the current section (or all),
//! with kind, blocking flag, status, author and thread.

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::Widget;
use trustroom_shared::objection::{Objection, ObjectionStatus};

use super::chrome::{hint, pane_block, put_line, str_width, truncate, wrap};
use crate::tui::action::Pane;
use crate::tui::pane::register::Register;
use crate::tui::pane::{Ctx, Draw};

impl Draw for Register {
    fn draw(&self, ctx: &Ctx<'_>, area: Rect, buf: &mut Buffer) {
        draw(self, ctx, area, buf);
    }
}

fn draw(register: &Register, ctx: &Ctx<'_>, area: Rect, buf: &mut Buffer) {
    let t = ctx.theme;
    let focused = ctx.focus == Pane::Register;
    let items = register.items(ctx);
    let scope = if register.all { "all" } else { "this section" };
    let title = Line::from(vec![
        Span::styled(" 3 Register ", t.title()),
        Span::styled(format!("{scope} ({}) ", items.len()), t.dim()),
    ]);
    let mut block = pane_block(t, title, focused);
    if focused {
        let mut bottom = vec![Span::raw(" ")];
        bottom.extend(hint(t, "n", "new", true));
        bottom.extend(hint(t, "c", "reply", true));
        bottom.extend(hint(t, "s", "status", true));
        bottom.extend(hint(t, "f", "filter", true));
        block = block.title_bottom(Line::from(bottom));
    }
    let inner = block.inner(area);
    block.render(area, buf);
    let Some(state) = &ctx.room.replica.state else { return };
    if items.is_empty() {
        let msg =
            if register.all { "no objections in this room" } else { "no objections on this section (f: show all)" };
        put_line(buf, inner, 0, &Line::from(Span::styled(msg, t.dim())));
        return;
    }
    let width = inner.width as usize;
    // Build every item's lines, then scroll so the selected one is visible.
    let mut lines: Vec<(Line, bool)> = Vec::new();
    let mut sel_range = (0, 0);
    let at = register.selected_index(&items);
    for (i, id) in items.iter().enumerate() {
        let Some(o) = state.objections.get(id) else { continue };
        let selected = Some(i) == at;
        let start = lines.len();
        for l in item_lines(ctx, o, selected, register.is_expanded(*id), width) {
            lines.push((l, selected));
        }
        if selected {
            sel_range = (start, lines.len());
        }
        lines.push((Line::from(""), false));
    }
    let h = inner.height as usize;
    let mut top = 0usize;
    if sel_range.1 > h {
        top = sel_range.1 - h;
    }
    if sel_range.0 < top {
        top = sel_range.0;
    }
    for (row, (line, selected)) in lines.iter().skip(top).take(h).enumerate() {
        put_line(buf, inner, row as u16, line);
        if *selected && focused {
            buf.set_style(Rect::new(inner.x, inner.y + row as u16, 1, 1), t.border_focused());
        }
    }
}

fn status_style(ctx: &Ctx<'_>, s: ObjectionStatus) -> Style {
    let t = ctx.theme;
    match s {
        ObjectionStatus::Open => t.warn(),
        ObjectionStatus::Addressed => t.ok(),
        ObjectionStatus::Withdrawn => t.dim(),
        ObjectionStatus::AcceptedResidual => t.residual(),
    }
}

fn item_lines<'a>(ctx: &Ctx<'_>, o: &Objection, selected: bool, expanded: bool, width: usize) -> Vec<Line<'a>> {
    let t = ctx.theme;
    let mut out = Vec::new();
    let marker = if selected { t.sym.selected } else { " " };
    let mut head =
        vec![Span::styled(marker.to_string(), t.border_focused()), Span::styled(format!("{} ", o.code()), t.title())];
    if o.blocking {
        head.push(Span::styled("BLOCKING ", t.blocking()));
    }
    if o.found_downstream.is_some() {
        head.push(Span::styled("FOUND DOWNSTREAM ", t.warn()));
    }
    head.push(Span::styled(o.status.to_string(), status_style(ctx, o.status)));
    out.push(Line::from(head));
    let section = ctx
        .room
        .replica
        .state
        .as_ref()
        .and_then(|s| s.section(o.anchor.section))
        .map(|s| s.title.clone())
        .unwrap_or_default();
    let by = format!("  {} · by {} · § {section}", o.kind, ctx.room.member_name(o.author));
    out.push(Line::from(Span::styled(truncate(&by, width), t.dim())));
    if let Some(f) = &o.found_downstream {
        let short = f.manifest_hash.get(..12).unwrap_or(&f.manifest_hash);
        let pin = format!("  {f} · release {short}… (rev {})", f.release_revision);
        out.push(Line::from(Span::styled(truncate(&pin, width), t.warn())));
    }
    if let Some(q) = &o.anchor.quote {
        let q = format!("  “{}”", q.split_whitespace().collect::<Vec<_>>().join(" "));
        out.push(Line::from(Span::styled(truncate(&q, width), t.contested())));
    }
    let body_lines = wrap(&o.text, width.saturating_sub(2));
    let limit = if expanded { usize::MAX } else { 2 };
    for (k, l) in body_lines.iter().enumerate() {
        if k == limit {
            out.push(Line::from(Span::styled("  …", t.dim())));
            break;
        }
        out.push(Line::from(format!("  {l}")));
    }
    if let Some(r) = &o.rationale {
        out.push(Line::from(Span::styled(truncate(&format!("  rationale: {r}"), width), t.residual())));
    }
    if expanded {
        // The reply marker is one cell (↳) or two (->): indent by its width.
        let first = format!("  {} ", t.sym.reply);
        let indent = " ".repeat(str_width(&first));
        for r in &o.replies {
            let who = ctx.room.member_name(r.author);
            for (k, l) in wrap(&format!("{who}: {}", r.text), width.saturating_sub(indent.len())).iter().enumerate() {
                let prefix = if k == 0 { first.clone() } else { indent.clone() };
                out.push(Line::from(vec![Span::styled(prefix, t.dim()), Span::raw(l.clone())]));
            }
        }
        for h in &o.history {
            let who = ctx.room.member_name(h.by);
            out.push(Line::from(Span::styled(truncate(&format!("  · {} by {who}", h.status), width), t.dim())));
        }
    } else if !o.replies.is_empty() {
        let n = o.replies.len();
        let s = format!("  {} {n} repl{} (Enter)", t.sym.reply, if n == 1 { "y" } else { "ies" });
        out.push(Line::from(Span::styled(s, t.dim())));
    }
    out
}

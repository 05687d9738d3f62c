//! The editor pane: the textarea with the section body, then painted over
//! it the statement-label highlights and other members' cursors (each in
//! their colour, with their name).

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::{Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::Widget;

use super::chrome::{char_width, pane_block, str_width};
use super::sections::short_name;
use crate::session::room::ConnState;
use crate::tui::action::{EditMode, Pane};
use crate::tui::highlight::HlKind;
use crate::tui::pane::editor::{Editor, position_of};
use crate::tui::pane::{Ctx, Draw};
use crate::tui::theme::Theme;
use trustroom_shared::UserId;

/// A remote cursor in local char offsets.
struct Remote {
    user: UserId,
    name: String,
    pos: usize,
    sel: Option<(usize, usize)>,
}

impl Draw for Editor {
    fn draw(&self, ctx: &Ctx<'_>, area: Rect, buf: &mut Buffer) {
        draw(self, ctx, area, buf);
    }
}

fn draw(editor: &Editor, ctx: &Ctx<'_>, area: Rect, buf: &mut Buffer) {
    let t = ctx.theme;
    let focused = ctx.focus == Pane::Editor;
    let Some(section) = ctx.current_section() else {
        pane_block(t, Line::from(" 2 Editor "), focused).render(area, buf);
        return;
    };
    let n = ctx.room.sections().len();
    let mut title = vec![
        Span::styled(" 2 ", t.title()),
        Span::styled(format!("§{}/{n} ", ctx.current + 1), t.dim()),
        Span::styled(format!("{} ", section.title), t.title()),
    ];
    if let Some(why) = ctx.room.read_only_reason() {
        title.push(Span::styled(format!("[{why}] "), t.warn()));
    } else if editor.mode == EditMode::Insert && focused {
        title.push(Span::styled("-- INSERT -- ", t.ok()));
    } else if focused {
        title.push(Span::styled("i to edit ", t.dim()));
    }
    if let Some(state) = &ctx.room.replica.state {
        let open = crate::tui::suggest::open_on(state, section.id);
        if open > 0 {
            let noun = if open == 1 { "suggestion" } else { "suggestions" };
            title.push(Span::styled(format!("✎ {open} open {noun} (u) "), t.diff_insert()));
        }
    }
    if let Some(state) = &ctx.room.replica.state {
        let stale: Vec<&str> =
            state.evidence.stale().filter(|b| b.section == section.id).map(|b| b.source.as_str()).collect();
        if !stale.is_empty() {
            title.push(Span::styled(format!("⚠ stale evidence: {} (e) ", stale.join(", ")), t.error()));
        }
    }
    if ctx.room.docs.get(&section.id).is_some_and(|d| d.has_pending()) {
        if matches!(ctx.room.conn, ConnState::Connected) {
            title.push(Span::styled("sending… ", t.dim()));
        } else {
            title.push(Span::styled("unsent: kept until reconnected ", t.warn()));
        }
    }
    let remotes = remote_cursors(ctx, section.id);
    let mut bottom: Vec<Span> = Vec::new();
    if !remotes.is_empty() {
        bottom.push(Span::raw(" "));
        let lines = editor.area.lines();
        for r in &remotes {
            let (row, _) = position_of(lines, r.pos);
            bottom.push(Span::styled(format!("{} L{} ", short_name(&r.name), row + 1), t.user(r.user)));
        }
    }
    let block = pane_block(t, Line::from(title), focused).title_bottom(Line::from(bottom));
    let inner = block.inner(area);
    block.render(area, buf);
    (&editor.area).render(inner, buf);
    paint_overlays(editor, ctx, inner, buf, &remotes);
}

/// Where open suggestions change this section, in local text positions:
/// `(start, end)`; an empty range is an insertion point.
fn suggestion_marks(ctx: &Ctx<'_>, section: trustroom_shared::SectionId) -> Vec<(usize, usize)> {
    use trustroom_shared::ot::Component;
    let (Some(state), Some(doc)) = (&ctx.room.replica.state, ctx.room.docs.get(&section)) else { return Vec::new() };
    let mut out = Vec::new();
    for s in state.suggestions.open() {
        let trustroom_shared::suggestion::Proposal::Edit { section: sec, op } = &s.proposal else { continue };
        if *sec != section {
            continue;
        }
        let mut pos = 0usize;
        for c in op.components() {
            match c {
                Component::Retain(n) => pos += n,
                Component::Insert(_) => out.push((doc.server_to_local(pos), doc.server_to_local(pos))),
                Component::Delete(n) => {
                    out.push((doc.server_to_local(pos), doc.server_to_local(pos + n)));
                    pos += n;
                }
            }
        }
    }
    out
}

fn remote_cursors(ctx: &Ctx<'_>, section: trustroom_shared::SectionId) -> Vec<Remote> {
    let Some(doc) = ctx.room.docs.get(&section) else { return Vec::new() };
    let mut v: Vec<Remote> = ctx
        .room
        .presence
        .values()
        .filter(|p| p.section == section && Some(p.user) != ctx.room.my_user())
        .map(|p| {
            let pos = doc.server_to_local(p.pos);
            let sel = p.anchor.map(|a| doc.server_to_local(a)).filter(|a| *a != pos).map(|a| (a.min(pos), a.max(pos)));
            Remote { user: p.user, name: p.name.clone(), pos, sel }
        })
        .collect();
    v.sort_by(|a, b| a.name.cmp(&b.name));
    v
}

fn hl_style(t: &Theme, k: HlKind) -> Style {
    match k {
        HlKind::Verified => t.verified().patch(t.label()),
        HlKind::Contested => t.contested().patch(t.label()),
        HlKind::Restricted => t.restricted().patch(t.label()),
        HlKind::Residual => t.residual().patch(t.label()),
        HlKind::Evidence => t.evidence(),
        HlKind::AnnexRef => t.annex_ref(),
        HlKind::Heading => t.heading(),
        HlKind::Unsupported => t.unsupported().add_modifier(ratatui::style::Modifier::ITALIC),
    }
}

/// Paints highlights and remote cursors over the rendered textarea.
fn paint_overlays(editor: &Editor, ctx: &Ctx<'_>, inner: Rect, buf: &mut Buffer, remotes: &[Remote]) {
    let t = ctx.theme;
    let ta = &editor.area;
    if ta.is_empty() || inner.width == 0 {
        return;
    }
    let lines = ta.lines();
    let mut starts = Vec::with_capacity(lines.len());
    let mut acc = 0usize;
    for l in lines {
        starts.push(acc);
        acc += l.chars().count() + 1;
    }
    let marks = ctx.current_section_id().map(|id| suggestion_marks(ctx, id)).unwrap_or_default();
    let insert_mark = t.diff_insert().add_modifier(Modifier::REVERSED | Modifier::UNDERLINED);
    let delete_mark = t.diff_delete().add_modifier(Modifier::CROSSED_OUT);
    let (top, _) = ta.scroll_offset();
    let mut prev = None;
    for sr in 0..inner.height {
        let dc = ta.screen_to_data(top as usize + sr as usize, 0);
        if prev == Some(dc) {
            break; // past the last screen line (the mapping clamps)
        }
        prev = Some(dc);
        let Some(line) = lines.get(dc.0) else { break };
        let line_len = line.chars().count();
        let next = ta.screen_to_data(top as usize + sr as usize + 1, 0);
        let seg_end = if next.0 == dc.0 && next.1 > dc.1 { next.1 } else { line_len };
        let row_start = starts[dc.0] + dc.1;
        let row_end = starts[dc.0] + seg_end;
        let hls: Vec<_> = editor.highlights.iter().filter(|h| h.start <= row_end && h.end > row_start).collect();
        let y = inner.y + sr;
        let mut x = inner.x;
        let right = inner.x + inner.width;
        let mut chars = line.chars().skip(dc.1);
        for col in dc.1..=seg_end {
            let off = starts[dc.0] + col;
            let c = if col < seg_end { chars.next() } else { None };
            let w = c.map_or(1, char_width).max(1) as u16;
            if x >= right {
                break;
            }
            if c.is_some() {
                for h in &hls {
                    if off >= h.start && off < h.end {
                        buf[(x, y)].set_style(hl_style(t, h.kind));
                    }
                }
            }
            // Open suggestions, inline: text they delete struck through,
            // a marked cell where they insert (`u` shows the whole change).
            for (a, b) in &marks {
                if a == b && off == *a && (c.is_some() || col == line_len) {
                    buf[(x, y)].set_style(insert_mark);
                } else if off >= *a && off < *b && c.is_some() {
                    buf[(x, y)].set_style(delete_mark);
                }
            }
            for r in remotes {
                if let Some((a, b)) = r.sel
                    && off >= a
                    && off < b
                    && c.is_some()
                {
                    buf[(x, y)].set_style(t.remote_selection(r.user));
                }
                if r.pos == off && (c.is_some() || col == line_len) {
                    buf[(x, y)].set_style(t.remote_cursor(r.user));
                }
            }
            x = x.saturating_add(w);
        }
        // Name flags after the end of the line (for every cursor on this
        // line), where there is room.
        if seg_end == line_len {
            let text_w = str_width(&line.chars().skip(dc.1).collect::<String>()) as u16;
            let mut fx = inner.x + text_w + 2;
            let line_start = starts[dc.0];
            for r in remotes.iter().filter(|r| r.pos >= line_start && r.pos <= line_start + line_len) {
                let flag = format!("◂{}", short_name(&r.name));
                let fw = str_width(&flag) as u16;
                if fx + fw <= right {
                    buf.set_string(fx, y, &flag, t.user(r.user));
                    fx += fw + 1;
                }
            }
        }
    }
}

//! The annex map: every annex with classification and access state; an
//! opened annex shows its content under a "this view is logged" banner, or
//! — without access — a gated pane with our own requests for it, live.
//! Content is only ever what the server sent for us; nothing is hidden
//! client-side.

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::Widget;
use trustroom_shared::AnnexId;
use trustroom_shared::access::{AccessRequest, Decided, RequestStatus, SYSTEM, format_duration};

use super::chrome::{hint, pane_block, put_line, truncate, wrap};
use crate::tui::action::Pane;
use crate::tui::announce::deciders;
use crate::tui::clock;
use crate::tui::pane::annex::{AnnexMap, AnnexOpen, annex_ids, my_requests};
use crate::tui::pane::{Ctx, Draw};

impl Draw for AnnexMap {
    fn draw(&self, ctx: &Ctx<'_>, area: Rect, buf: &mut Buffer) {
        draw(self, ctx, area, buf);
    }
}

fn draw(map: &AnnexMap, ctx: &Ctx<'_>, area: Rect, buf: &mut Buffer) {
    let t = ctx.theme;
    let focused = ctx.focus == Pane::Annexes;
    let ids = annex_ids(ctx.room);
    let title =
        Line::from(vec![Span::styled(" 4 Annex map ", t.title()), Span::styled(format!("({}) ", ids.len()), t.dim())]);
    let mut bottom = vec![Span::raw(" ")];
    if focused {
        if let Some(AnnexOpen::Gated(id)) = map.open {
            if ctx.room.has_annex_access(id) {
                bottom.extend(hint(t, "Enter", "open (logged)", true));
            } else {
                bottom.extend(hint(t, "A", "request access", true));
                if my_requests(ctx.room, id).iter().any(|r| r.is_pending()) {
                    bottom.extend(hint(t, "w", "withdraw", true));
                }
            }
            bottom.extend(hint(t, "Esc", "back", true));
        } else if map.open.is_some() {
            bottom.extend(hint(t, "Esc", "back to the map", true));
        } else {
            bottom.extend(hint(t, "Enter", "open", true));
        }
    }
    let block = pane_block(t, title, focused).title_bottom(Line::from(bottom));
    let inner = block.inner(area);
    block.render(area, buf);
    match &map.open {
        Some(AnnexOpen::Content(c)) => draw_content(map, ctx, c, inner, buf),
        Some(AnnexOpen::Gated(id)) => draw_gated(ctx, *id, inner, buf),
        Some(AnnexOpen::Loading(id)) => {
            let code = annex_code(ctx, *id);
            put_line(
                buf,
                inner,
                0,
                &Line::from(Span::styled(format!("opening {code}… (this view is logged)"), t.dim())),
            );
        }
        Some(AnnexOpen::Failed(id, why)) => {
            let code = annex_code(ctx, *id);
            put_line(buf, inner, 0, &Line::from(Span::styled(format!("{code}: {why}"), t.error())));
        }
        None => draw_map(map, ctx, &ids, inner, buf),
    }
}

fn annex_code(ctx: &Ctx<'_>, id: AnnexId) -> String {
    ctx.room.replica.state.as_ref().and_then(|s| s.annexes.get(&id)).map(|a| a.code.clone()).unwrap_or_default()
}

fn draw_map(map: &AnnexMap, ctx: &Ctx<'_>, ids: &[AnnexId], inner: Rect, buf: &mut Buffer) {
    let t = ctx.theme;
    let Some(state) = &ctx.room.replica.state else { return };
    if ids.is_empty() {
        put_line(buf, inner, 0, &Line::from(Span::styled("no annexes", t.dim())));
        return;
    }
    let w = inner.width as usize;
    let per = 2usize;
    let visible = (inner.height as usize / per).max(1);
    let first = map.selected.saturating_sub(visible - 1);
    for (row, (i, id)) in ids.iter().enumerate().skip(first).take(visible).enumerate() {
        let Some(a) = state.annexes.get(id) else { continue };
        let selected = i == map.selected;
        let access = ctx.room.has_annex_access(*id);
        let lock = if access { t.sym.unlocked } else { t.sym.lock };
        let marker = if selected { t.sym.selected } else { " " };
        let y = (row * per) as u16;
        let head = format!("{marker}{lock} {} {}", a.code, a.title);
        let style = if selected { t.selected() } else { t.text() };
        put_line(buf, inner, y, &Line::from(Span::styled(truncate(&head, w), style)));
        let state_span = if access {
            Span::styled("access granted", t.ok())
        } else {
            Span::styled("RESTRICTED", t.restricted().patch(t.bold()))
        };
        let mut l2 = vec![Span::styled(format!("   {} · ", a.classification), t.dim()), state_span];
        if !access && let Some(r) = my_requests(ctx.room, *id).into_iter().find(|r| r.is_pending()) {
            l2.push(Span::styled(format!(" · {} pending", r.code()), t.warn()));
        }
        let l2 = Line::from(l2);
        put_line(buf, inner, y + 1, &l2);
    }
}

fn draw_gated(ctx: &Ctx<'_>, id: AnnexId, inner: Rect, buf: &mut Buffer) {
    let t = ctx.theme;
    let Some(a) = ctx.room.replica.state.as_ref().and_then(|s| s.annexes.get(&id)) else { return };
    let w = inner.width as usize;
    let access = ctx.room.has_annex_access(id);
    let mut lines: Vec<Line> = vec![
        Line::from(""),
        if access {
            Line::from(vec![
                Span::styled(format!("  {}  ", t.sym.unlocked), t.ok()),
                Span::styled("ACCESS GRANTED", t.ok().patch(t.bold())),
            ])
        } else {
            Line::from(vec![
                Span::styled(format!("  {}  ", t.sym.lock), t.restricted()),
                Span::styled("RESTRICTED", t.banner_error()),
            ])
        },
        Line::from(""),
        Line::from(Span::styled(truncate(&format!("  {} · {}", a.code, a.title), w), t.title())),
        Line::from(vec![
            Span::styled("  classification: ", t.dim()),
            Span::styled(a.classification.clone(), t.restricted()),
        ]),
        Line::from(""),
    ];
    let mine = my_requests(ctx.room, id);
    if !mine.is_empty() {
        lines.push(Line::from(Span::styled("  Your requests", t.bold())));
        for r in mine.iter().take(4) {
            let (texts, style) = request_lines(ctx, r);
            for (k, text) in texts.iter().enumerate() {
                for (n, l) in wrap(text, w.saturating_sub(6)).into_iter().enumerate() {
                    let lead = if k == 0 && n == 0 { format!("  {} ", t.sym.selected) } else { "    ".into() };
                    let style = if k == 0 { t.bold() } else { style };
                    lines.push(Line::from(vec![Span::styled(lead, style), Span::styled(l, style)]));
                }
            }
        }
        lines.push(Line::from(""));
    }
    let explain = if access {
        "You may read this annex now. Press Enter to open it: the view is logged in the room's audit log.".to_string()
    } else {
        let who = ctx.room.my_user().map_or_else(|| "an owner".to_string(), |u| deciders(ctx.room, u));
        let again = if mine.iter().any(|r| r.is_pending()) { "w withdraws your pending request; " } else { "" };
        format!(
            "You are not on this annex's need-to-know list, so the server does not send its content to you. \
             Press A to request access with a reason and a duration: {who} approves or denies; {again}\
             every request, grant and view is audited."
        )
    };
    for l in wrap(&explain, w.saturating_sub(4)) {
        lines.push(Line::from(Span::styled(format!("  {l}"), t.dim())));
    }
    for (y, l) in lines.iter().enumerate() {
        put_line(buf, inner, y as u16, l);
    }
}

/// One of our requests for the gated annex, as it stands — what was
/// asked and when, then its state: who decided and when, until when a
/// grant runs, the decider's note — as lines, each wrapped on its own.
fn request_lines(ctx: &Ctx<'_>, r: &AccessRequest) -> (Vec<String>, ratatui::style::Style) {
    let t = ctx.theme;
    let mut lines = vec![format!("{} · {} · asked {}", r.code(), format_duration(r.duration_ms), clock::hms(r.at_ms))];
    let by = |d: &Decided| format!("by {} at {}", ctx.room.member_name(d.by), clock::hms(d.at_ms));
    let decided = r.decided.as_ref().map(by).unwrap_or_default();
    let style = match r.status {
        RequestStatus::Requested => {
            lines.push(format!("PENDING — waiting for {}", deciders(ctx.room, r.requester)));
            t.warn()
        }
        RequestStatus::Approved => {
            lines.push(format!("APPROVED {decided}"));
            if let Some(e) = r.expires_at {
                lines.push(format!("access until {}", clock::hms(e)));
            }
            t.ok()
        }
        RequestStatus::Denied => {
            lines.push(format!("DENIED {decided}"));
            t.error()
        }
        RequestStatus::Withdrawn => {
            let at = r.decided.as_ref().map_or_else(String::new, |d| format!(" at {}", clock::hms(d.at_ms)));
            lines.push(format!("withdrawn by you{at}"));
            t.dim()
        }
        RequestStatus::Expired | RequestStatus::Revoked => {
            lines.push(format!("approved {decided}"));
            lines.push(r.ended.as_ref().map_or_else(
                || r.status.to_string(),
                |e| {
                    let who =
                        if e.by == SYSTEM { String::new() } else { format!(" by {}", ctx.room.member_name(e.by)) };
                    format!("ENDED ({}){who} at {}", e.cause, clock::hms(e.at_ms))
                },
            ));
            t.dim()
        }
    };
    // The decider's note (a withdrawal's is the room's own words).
    if r.status != RequestStatus::Withdrawn
        && let Some(note) = r.decided.as_ref().and_then(|d| d.note.as_deref())
    {
        lines.push(format!("note: “{note}”"));
    }
    (lines, style)
}

fn draw_content(
    map: &AnnexMap,
    ctx: &Ctx<'_>,
    c: &trustroom_shared::protocol::AnnexContent,
    inner: Rect,
    buf: &mut Buffer,
) {
    let t = ctx.theme;
    let w = inner.width as usize;
    let long = format!(" {} This view is logged — it is in the room's audit log ", t.sym.warning);
    let banner =
        if super::chrome::str_width(&long) <= w { long } else { format!(" {} This view is logged ", t.sym.warning) };
    buf.set_style(Rect::new(inner.x, inner.y, inner.width, 1.min(inner.height)), t.banner_logged());
    put_line(buf, inner, 0, &Line::from(Span::styled(truncate(&banner, w), t.banner_logged())));
    put_line(buf, inner, 1, &Line::from(Span::styled(truncate(&format!("{} · {}", c.code, c.title), w), t.title())));
    put_line(
        buf,
        inner,
        2,
        &Line::from(vec![
            Span::styled("classification: ", t.dim()),
            Span::styled(c.classification.clone(), t.restricted()),
        ]),
    );
    let body: Vec<String> = wrap(&c.content, w);
    let avail = inner.height.saturating_sub(4) as usize;
    for (k, l) in body.iter().skip(map.scroll as usize).take(avail).enumerate() {
        put_line(buf, inner, 4 + k as u16, &Line::from(l.clone()));
    }
}

//! The status bar (room, revision, release state and blockers, connection,
//! who you are), the notification line above it, and the red banner.

use std::time::Instant;

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use trustroom_shared::release::ReleaseState;

use super::chrome::{fill, hint, put_line, str_width, truncate};
use crate::session::room::{ConnState, Level};
use crate::tui::diffview::DiffLayout;
use crate::tui::pane::approvals::{Item, items};
use crate::tui::pane::status::StatusBar;
use crate::tui::pane::{Ctx, Draw, ScreenKind};

/// A piece of the status bar in its forms, richest first; an empty form
/// drops it.
struct Segment {
    forms: Vec<Vec<Span<'static>>>,
    form: usize,
}

impl Segment {
    fn new(forms: Vec<Vec<Span<'static>>>) -> Self {
        Self { forms, form: 0 }
    }
    fn spans(&self) -> &[Span<'static>] {
        self.forms.get(self.form).map(Vec::as_slice).unwrap_or_default()
    }
    fn width(&self) -> usize {
        self.spans().iter().map(|s| str_width(&s.content)).sum()
    }
}

// The status bar's segments, in the order they are drawn.
const BRAND: usize = 0;
const RELEASE: usize = 1;
const BLOCKERS: usize = 2;
const CHECKS: usize = 3;
const WAITING: usize = 4;
const REV: usize = 5;
const CONN: usize = 6;
const WHO: usize = 7;
/// Cells the room's title should have before the brand is drawn.
const TITLE_MIN: usize = 24;

/// When the bar is too narrow, the segment that gives way next, one step
/// (to its next, shorter form) at a time. Who you are (name and role), the
/// room's release state, its blockers and failing checks, and the
/// connection are never dropped, only shortened: the room title goes
/// first, then the brand, then detail.
const GIVE_WAY: [usize; 12] = [BRAND, WHO, WAITING, REV, RELEASE, CHECKS, RELEASE, WAITING, WHO, WHO, CONN, RELEASE];

impl Draw for StatusBar {
    /// The status bar: release state, blockers, failing checks, approvals
    /// waiting (owners), revision, room title · connection, your name and role.
    fn draw(&self, ctx: &Ctx<'_>, area: Rect, buf: &mut Buffer) {
        draw_status(self, ctx, area, buf);
    }
}

fn draw_status(status: &StatusBar, ctx: &Ctx<'_>, area: Rect, buf: &mut Buffer) {
    if area.is_empty() {
        return;
    }
    let t = ctx.theme;
    fill(buf, area, t.status_bar());
    let width = area.width as usize;
    let bar = t.sym.bar;
    let (conn_sym, conn_text, conn_style) = match &ctx.room.conn {
        ConnState::Connected => (t.sym.connected, "connected", t.ok()),
        ConnState::Syncing => (t.sym.connected, "syncing", t.warn()),
        ConnState::Connecting { .. } => (t.sym.disconnected, "connecting", t.warn()),
        ConnState::Disconnected { .. } => (t.sym.disconnected, "OFFLINE", t.error()),
    };
    let one = |text: String, style| vec![Span::styled(text, style)];
    let mut seg: Vec<Segment> = (0..=WHO).map(|_| Segment::new(Vec::new())).collect();
    // The brand only where the room's own title has room beside it.
    let brand = if width >= 100 || ctx.room.replica.state.is_none() {
        one(" Trustroom ".into(), t.title())
    } else {
        vec![Span::raw(" ")]
    };
    seg[BRAND] = Segment::new(vec![brand, vec![Span::raw(" ")]]);
    seg[CONN] = Segment::new(vec![
        one(format!("{conn_sym} {conn_text} "), conn_style),
        one(format!("{conn_sym} "), conn_style),
    ]);
    if let Some(me) = &ctx.room.me {
        let who = |name: String, role: String| {
            vec![
                Span::raw(format!("{bar} ")),
                Span::styled(name, t.bold()),
                Span::styled(format!(" ({role}) "), t.dim()),
            ]
        };
        seg[WHO] = Segment::new(vec![
            who(me.name.clone(), me.role.label()),
            who(me.name.clone(), me.role.name().to_string()),
            who(truncate(&me.name, 12), me.role.name().to_string()),
            who(truncate(&me.name, 8), me.role.name().to_string()),
        ]);
    }
    if let Some(state) = &ctx.room.replica.state {
        let name = state.release.name();
        let style = t.release_state(name);
        // A release names its revision, and once the room changed after it:
        // `RELEASED rev N — superseded at rev M` (the release is stale).
        seg[RELEASE] = Segment::new(match (&state.release, &state.last_release) {
            (ReleaseState::Released { .. }, Some(last)) => {
                let short = match last.superseded_at {
                    Some(_) => format!(" {name} rev {} (stale) ", last.revision),
                    None => format!(" {name} rev {} ", last.revision),
                };
                vec![
                    one(format!(" {} ", last.status_line()), style),
                    one(short, style),
                    one(format!(" {name} "), style),
                ]
            }
            _ => vec![one(format!(" {name} "), style)],
        });
        let blockers = status.current_readiness(ctx.room).map_or(0, |r| r.blockers.len());
        let bstyle = if blockers > 0 { t.blocking() } else { t.ok() };
        seg[BLOCKERS] =
            Segment::new(vec![one(format!(" {blockers} blocker{} ", if blockers == 1 { "" } else { "s" }), bstyle)]);
        // Room checks the server published (docs/access.md): shown only
        // when one fails or is overridden.
        let failing: Vec<&str> =
            state.access.checks.iter().filter(|c| !c.overridden).map(|c| c.check.title()).collect();
        if !failing.is_empty() {
            seg[CHECKS] = Segment::new(vec![
                one(format!(" CHECK FAILING: {} ", failing.join(", ")), t.blocking()),
                one(" CHECK FAILING ".into(), t.blocking()),
            ]);
        } else if state.access.checks.iter().any(|c| c.overridden) {
            seg[CHECKS] = Segment::new(vec![one(" check overridden ".into(), t.warn())]);
        }
        // Owners: requests waiting in the approvals queue (key V).
        let waiting = if ctx.room.is_owner() { awaiting_approval(ctx) } else { 0 };
        if waiting > 0 {
            seg[WAITING] = Segment::new(vec![
                one(format!(" {waiting} awaiting approval (V) "), t.warn()),
                one(format!(" {waiting} to approve (V) "), t.warn()),
                Vec::new(),
            ]);
        }
        seg[REV] = Segment::new(vec![
            vec![Span::raw(format!("{bar} ")), Span::styled(format!("rev {} ", state.revision), t.bold())],
            Vec::new(),
        ]);
    }
    let total = |seg: &[Segment]| seg.iter().map(Segment::width).sum::<usize>();
    for i in GIVE_WAY {
        // The brand gives way as soon as the room's title would be cut short.
        let reserve = if i == BRAND { TITLE_MIN } else { 0 };
        if total(&seg) + reserve <= width {
            continue;
        }
        seg[i].form = (seg[i].form + 1).min(seg[i].forms.len().saturating_sub(1));
    }
    let mut left: Vec<Span> = seg[..CONN].iter().flat_map(|s| s.spans().iter().cloned()).collect();
    if let Some(state) = &ctx.room.replica.state {
        // The room title takes what is left, after a rule.
        let room_w = width.saturating_sub(total(&seg) + 3);
        if room_w >= 6 {
            left.push(Span::raw(format!("{bar} ")));
            left.push(Span::raw(truncate(&state.title, room_w)));
        }
    }
    buf.set_line(area.x, area.y, &Line::from(left), area.width);
    let right_line = Line::from(seg[CONN..].iter().flat_map(|s| s.spans().iter().cloned()).collect::<Vec<_>>());
    let rw = (right_line.width() as u16).min(area.width);
    buf.set_line(area.x + area.width - rw, area.y, &right_line, rw);
}

/// Requests in the approvals queue this owner may decide (not their own).
fn awaiting_approval(ctx: &Ctx<'_>) -> usize {
    items(ctx.room)
        .iter()
        .filter(|i| !matches!(i, Item::Access { own: true, .. } | Item::Promotion { own: true, .. }))
        .count()
}

/// The latest notification, else key hints (owner keys shown disabled to
/// everyone else; in the diff, `s` names the other layout).
pub fn draw_notice(status: &StatusBar, ctx: &Ctx<'_>, diff_layout: Option<DiffLayout>, area: Rect, buf: &mut Buffer) {
    if area.is_empty() {
        return;
    }
    let t = ctx.theme;
    if let Some(n) = status.current_notice(Instant::now()) {
        let style = match n.level {
            Level::Info => t.text(),
            Level::Warn => t.warn(),
            Level::Error => t.error(),
        };
        let text = truncate(&format!(" {}", n.text), area.width as usize);
        put_line(buf, area, 0, &Line::from(Span::styled(text, style)));
        return;
    }
    let owner = ctx.room.is_owner();
    let editable = ctx.room.read_only_reason().is_none();
    let items: Vec<(&str, &str, &str, bool)> = if ctx.screen == Some(ScreenKind::Diff) {
        let other = match diff_layout {
            Some(DiffLayout::SideBySide) => "unified",
            _ => "side-by-side",
        };
        vec![
            ("s", other, "s/u", true),
            ("p", "packet", "packet", true),
            ("l e b", "base", "base", true),
            ("j k", "scroll", "scroll", true),
            ("Esc", "close", "close", true),
        ]
    } else {
        vec![
            ("?", "help", "help", true),
            (":", "commands", "cmd", true),
            ("i", "edit", "edit", editable),
            ("o", "object", "obj", true),
            ("r", "register", "reg", true),
            ("a", "annexes", "annex", true),
            ("d", "diff", "diff", true),
            ("R", "release", "rel", owner),
            ("H", "hold", "hold", owner),
            ("E", "escalate", "esc", owner),
        ]
    };
    let build = |long: bool| -> Vec<Span> {
        let mut spans = vec![Span::raw(" ")];
        for (k, l, s, enabled) in &items {
            spans.extend(hint(t, k, if long { l } else { s }, *enabled));
        }
        spans
    };
    let mut spans = build(true);
    if spans.iter().map(|s| str_width(&s.content)).sum::<usize>() > area.width as usize {
        spans = build(false);
    }
    put_line(buf, area, 0, &Line::from(spans));
}

pub fn draw_banner(ctx: &Ctx<'_>, area: Rect, buf: &mut Buffer) {
    if area.is_empty() {
        return;
    }
    let t = ctx.theme;
    fill(buf, area, t.banner_error());
    let w = t.sym.warning;
    let glass = ctx.room.break_glass();
    let text = if !glass.is_empty() {
        let now_ms =
            std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_millis() as i64);
        let parts: Vec<String> = glass
            .iter()
            .map(|(code, who, annexes, reason, ends)| {
                let mins = ((ends - now_ms).max(0) + 59_999) / 60_000;
                format!("{code} by {who} on {} — {reason} (ends in {mins} min)", annexes.join(", "))
            })
            .collect();
        format!(" {w} BREAK-GLASS ACTIVE: {}", parts.join(" · "))
    } else if let ConnState::Disconnected { reason, retry_at, attempt } = &ctx.room.conn {
        let secs = retry_at.saturating_duration_since(Instant::now()).as_secs_f32();
        let kept = if ctx.room.replica.state.is_some() { " · your local edits are kept" } else { "" };
        let queued = ctx.room.outbox.waiting();
        let queued = if queued > 0 { format!(" · {queued} unsent, re-sent on reconnect") } else { String::new() };
        format!(" {w} DISCONNECTED — reconnecting in {secs:.0}s (attempt {attempt}){kept}{queued} · {reason}")
    } else if let Some(ReleaseState::Escalated { reason, .. }) = ctx.room.replica.state.as_ref().map(|s| &s.release) {
        format!(" {w} ESCALATED to direct human handling — the room is read-only · {reason}")
    } else {
        format!(" {w} resyncing with the server…")
    };
    put_line(buf, area, 0, &Line::from(Span::styled(truncate(&text, area.width as usize), t.banner_error())));
}

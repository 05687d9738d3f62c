//! The status bar (room, revision, release state and blockers, connection,
//! who you are), the notification line above it, and the red banner.

use std::time::Instant;

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use trustroom_shared::release::ReleaseState;

use super::chrome::{fill, hint, put_line, str_width, truncate};
use crate::session::room::{ConnState, Level};
use crate::tui::pane::approvals::{Item, items};
use crate::tui::pane::status::StatusBar;
use crate::tui::pane::{Ctx, Draw, ScreenKind};

impl Draw for StatusBar {
    /// The status line.
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
    let conn = Span::styled(format!("{conn_sym} {conn_text} "), conn_style);
    // Who we are: full role label, else the short role name, else nothing.
    let who = |full: bool| -> Vec<Span<'static>> {
        let Some(me) = &ctx.room.me else { return Vec::new() };
        let role = if full { me.role.label() } else { me.role.name().to_string() };
        vec![
            Span::raw(format!("{bar} ")),
            Span::styled(me.name.clone(), t.bold()),
            Span::styled(format!(" ({role}) "), t.dim()),
        ]
    };
    let mut fixed: Vec<Span> = Vec::new();
    if let Some(state) = &ctx.room.replica.state {
        let name = state.release.name();
        // A release names its revision, and once the room changed after it:
        // `RELEASED rev N — superseded at rev M` (the release is stale).
        let label = match (&state.release, &state.last_release) {
            (ReleaseState::Released { .. }, Some(last)) => last.status_line(),
            _ => name.to_string(),
        };
        fixed.push(Span::styled(format!(" {label} "), t.release_state(name)));
        let blockers = status.current_readiness(ctx.room).map_or(0, |r| r.blockers.len());
        let bstyle = if blockers > 0 { t.blocking() } else { t.ok() };
        fixed.push(Span::styled(format!(" {blockers} blocker{} ", if blockers == 1 { "" } else { "s" }), bstyle));
        // Room checks the server published (docs/access.md): shown only
        // when one fails or is overridden.
        let failing: Vec<&str> =
            state.access.checks.iter().filter(|c| !c.overridden).map(|c| c.check.title()).collect();
        if !failing.is_empty() {
            fixed.push(Span::styled(format!(" CHECK FAILING: {} ", failing.join(", ")), t.blocking()));
        } else if state.access.checks.iter().any(|c| c.overridden) {
            fixed.push(Span::styled(" check overridden ", t.warn()));
        }
        // Owners: requests waiting in the approvals queue (key V).
        if ctx.room.is_owner() {
            let waiting = items(ctx.room)
                .iter()
                .filter(|i| !matches!(i, Item::Access { own: true, .. } | Item::Promotion { own: true, .. }))
                .count();
            if waiting > 0 {
                fixed.push(Span::styled(format!(" {waiting} awaiting approval (V) "), t.warn()));
            }
        }
        fixed.push(Span::raw(format!("{bar} ")));
        fixed.push(Span::styled(format!("rev {} ", state.revision), t.bold()));
        fixed.push(Span::raw(format!("{bar} ")));
    }
    let w = |v: &[Span]| -> usize { v.iter().map(|s| str_width(&s.content)).sum() };
    let mut right = vec![conn.clone()];
    right.extend(who(true));
    if w(&fixed) + w(&right) + 8 > width {
        right = vec![conn.clone()];
        right.extend(who(false));
    }
    if w(&fixed) + w(&right) + 4 > width {
        right = vec![conn];
    }
    let mut left: Vec<Span> = Vec::new();
    let brand = Span::styled(" Trustroom ", t.title());
    if width >= 100 || ctx.room.replica.state.is_none() {
        left.push(brand);
    } else {
        left.push(Span::raw(" "));
    }
    left.extend(fixed);
    if let Some(state) = &ctx.room.replica.state {
        let room_w = width.saturating_sub(w(&left) + w(&right) + 1);
        if room_w > 0 {
            left.push(Span::raw(truncate(&state.title, room_w)));
        }
    }
    let left_line = Line::from(left);
    buf.set_line(area.x, area.y, &left_line, area.width);
    let right_line = Line::from(right);
    let rw = right_line.width() as u16;
    if rw < area.width {
        buf.set_line(area.x + area.width - rw, area.y, &right_line, rw);
    }
}

/// The latest notification, else key hints (owner keys shown disabled to
/// everyone else).
pub fn draw_notice(status: &StatusBar, ctx: &Ctx<'_>, area: Rect, buf: &mut Buffer) {
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
        vec![
            ("s", "side-by-side", "s/u", true),
            ("p", "packet", "packet", true),
            ("l e b", "base", "base", true),
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

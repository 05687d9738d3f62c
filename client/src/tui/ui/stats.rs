//! The stats screen — people would rather look than read: headline
//! figures on one line, sparklines of edits, objections and suggestions
//! over time, a bar chart of suggestion outcomes per role (accepted,
//! rejected, open), and the chronology section's entries on a time axis.

use ratatui::buffer::Buffer;
use ratatui::layout::{Constraint, Direction, Layout, Rect};
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Bar, BarChart, BarGroup, Block, Borders, Sparkline, Widget};
use trustroom_shared::stats::RoomStats;
use trustroom_shared::timeline::{minutes, timeline};

use super::chrome::{pane_block, put_line, truncate};
use crate::tui::pane::stats::StatsScreen;
use crate::tui::pane::{Ctx, Draw};
use crate::tui::theme::Theme;

impl Draw for StatsScreen {
    fn draw(&self, ctx: &Ctx<'_>, area: Rect, buf: &mut Buffer) {
        draw(self, ctx, area, buf);
    }
}

fn draw(view: &StatsScreen, ctx: &Ctx<'_>, area: Rect, buf: &mut Buffer) {
    let t = ctx.theme;
    let title =
        Line::from(vec![Span::styled(" Stats ", t.title()), Span::styled("the room's working metrics ", t.dim())]);
    let block = pane_block(t, title, true).title_bottom(Line::from(Span::styled(" r refresh · Esc close ", t.dim())));
    let inner = block.inner(area);
    block.render(area, buf);
    let [head, sparks, bars, time] =
        Layout::vertical([Constraint::Length(4), Constraint::Length(5), Constraint::Min(8), Constraint::Min(6)])
            .areas(inner);
    match (&view.stats, &view.error) {
        (Some(s), _) => {
            headline(t, s, ctx, head, buf);
            sparklines(t, s, sparks, buf);
            outcomes(t, s, bars, buf);
        }
        (None, Some(e)) => put_line(buf, head, 0, &Line::from(Span::styled(format!("no figures: {e}"), t.error()))),
        (None, None) => {
            put_line(buf, head, 0, &Line::from(Span::styled("asking the server for the figures…", t.dim())));
        }
    }
    chronology(ctx, time, buf);
}

fn duration(ms: Option<i64>) -> String {
    match ms {
        None => "—".into(),
        Some(ms) => {
            let m = ms.max(0) / 60_000;
            if m >= 60 { format!("{}h{:02}m", m / 60, m % 60) } else { format!("{m}m") }
        }
    }
}

fn headline(t: &Theme, s: &RoomStats, ctx: &Ctx<'_>, area: Rect, buf: &mut Buffer) {
    let w = area.width as usize;
    let o = &s.objections;
    let sg = &s.suggestions;
    let rejected = sg.rejection_pct().map_or_else(|| "—".into(), |p| format!("{p}%"));
    let behind = ctx.room.replica.state.as_ref().is_some_and(|st| st.revision > s.revision);
    let lines = [
        Line::from(vec![
            Span::styled(format!("rev {}{}  ", s.revision, if behind { " (r: newer revisions)" } else { "" }), t.dim()),
            Span::styled(format!("edits {}  ", s.edits), t.text()),
            Span::styled(format!("suggestions {} ", sg.proposed), t.text()),
            Span::styled(format!("✓{} ", sg.accepted), t.ok()),
            Span::styled(format!("✗{} ", sg.rejected), t.error()),
            Span::styled(format!("…{} ", sg.open), t.warn()),
            Span::styled(format!("out-of-bounds {}  ", sg.flagged), if sg.flagged > 0 { t.error() } else { t.dim() }),
            Span::styled(format!("rejected {rejected}"), t.bold()),
        ]),
        Line::from(vec![
            Span::styled(
                format!("objections opened {}  open {} (blocking {})  ", o.opened, o.open, o.blocking_open),
                t.text(),
            ),
            Span::styled(
                format!(
                    "addressed {}  withdrawn {}  accepted-residual {}",
                    o.addressed, o.withdrawn, o.accepted_residual
                ),
                t.dim(),
            ),
        ]),
        Line::from(vec![
            Span::styled(
                format!(
                    "to first ready {}  to release {}  ",
                    duration(s.first_ready_after_ms),
                    duration(s.first_release_after_ms)
                ),
                t.text(),
            ),
            Span::styled(
                format!(
                    "annex views {}  access requests {} (approved {}, denied {})  break-glass {}",
                    s.access.annex_views.map_or_else(|| "—".into(), |v| v.to_string()),
                    s.access.access_requests,
                    s.access.approved,
                    s.access.denied,
                    s.access.break_glass
                ),
                t.dim(),
            ),
        ]),
        handoff_line(s, t),
    ];
    for (y, l) in lines.iter().enumerate() {
        let text: String = l.spans.iter().map(|s| s.content.as_ref()).collect();
        if text.chars().count() > w {
            put_line(buf, area, y as u16, &Line::from(Span::styled(truncate(&text, w), t.text())));
        } else {
            put_line(buf, area, y as u16, l);
        }
    }
}

fn sparklines(t: &Theme, s: &RoomStats, area: Rect, buf: &mut Buffer) {
    let [a, b, c] =
        Layout::horizontal([Constraint::Ratio(1, 3), Constraint::Ratio(1, 3), Constraint::Ratio(1, 3)]).areas(area);
    let total = |v: &[u64]| v.iter().sum::<u64>();
    for (rect, name, data, style) in [
        (a, "edits", &s.series.edits, t.ok()),
        (b, "objections", &s.series.objections, t.warn()),
        (c, "suggestions", &s.series.suggestions, t.title()),
    ] {
        let block = Block::default()
            .borders(Borders::ALL)
            .border_style(t.border())
            .title(Line::from(Span::styled(format!(" {name} ({}) ", total(data)), t.dim())));
        Sparkline::default().block(block).data(data.iter().copied()).style(style).render(rect, buf);
    }
}

fn outcomes(t: &Theme, s: &RoomStats, area: Rect, buf: &mut Buffer) {
    let block = Block::default().borders(Borders::ALL).border_style(t.border()).title(Line::from(vec![
        Span::styled(" suggestion outcomes per role: ", t.dim()),
        Span::styled("accepted ", t.ok()),
        Span::styled("rejected ", t.error()),
        Span::styled("open ", t.warn()),
    ]));
    let inner = block.inner(area);
    block.render(area, buf);
    if s.by_role.is_empty() {
        put_line(buf, inner, 0, &Line::from(Span::styled("no suggestions yet", t.dim())));
        return;
    }
    let groups: Vec<BarGroup> = s
        .by_role
        .iter()
        .map(|r| {
            // `agent/objection-normaliser` → `normaliser`, `reviewer/privacy` → `privacy`.
            let tail = r.role.rsplit('/').next().unwrap_or(&r.role);
            let label = tail.strip_prefix("objection-").unwrap_or(tail).to_string();
            let bar = |v: u64, style: Style| Bar::default().value(v).style(style).value_style(style.reversed());
            BarGroup::default().label(Line::from(label)).bars(&[
                bar(r.outcomes.accepted, t.ok()),
                bar(r.outcomes.rejected, t.error()),
                bar(r.outcomes.open, t.warn()),
            ])
        })
        .collect();
    let mut chart = BarChart::default().direction(Direction::Vertical).bar_width(4).bar_gap(1).group_gap(3);
    for g in groups {
        chart = chart.data(g);
    }
    chart.render(inner, buf);
}

fn chronology(ctx: &Ctx<'_>, area: Rect, buf: &mut Buffer) {
    let t = ctx.theme;
    let block = Block::default()
        .borders(Borders::ALL)
        .border_style(t.border())
        .title(Line::from(Span::styled(" chronology timeline (the Chronology section's entries) ", t.dim())));
    let inner = block.inner(area);
    block.render(area, buf);
    let Some(state) = &ctx.room.replica.state else { return };
    let entries = timeline(state);
    if entries.is_empty() || inner.width < 10 || inner.height < 3 {
        put_line(buf, inner, 0, &Line::from(Span::styled("no timed entries in the chronology", t.dim())));
        return;
    }
    let at = minutes(&entries);
    let (lo, hi) = (at.iter().copied().min().unwrap_or(0), at.iter().copied().max().unwrap_or(0));
    let span = f64::from((hi - lo).max(1));
    let w = inner.width.saturating_sub(1);
    // The axis with one mark per entry (a gap in time is a gap on the axis).
    let axis = "─".repeat(w as usize + 1);
    put_line(buf, inner, 1, &Line::from(Span::styled(axis, t.dim())));
    for (e, m) in entries.iter().zip(&at) {
        let x = ((f64::from(m - lo) / span) * f64::from(w)).round() as u16;
        let style = if e.unverified { t.unsupported() } else { t.verified() };
        buf.set_string(inner.x + x, inner.y + 1, "●", style);
    }
    let first = &entries[0];
    let last = &entries[entries.len() - 1];
    let ends = format!("{} {}", first.date, first.clock);
    put_line(buf, inner, 0, &Line::from(Span::styled(ends.trim().to_string(), t.dim())));
    let end = format!("{} {}", last.date, last.clock).trim().to_string();
    let end_x = inner.width.saturating_sub(end.chars().count() as u16);
    buf.set_string(inner.x + end_x, inner.y, &end, t.dim());
    // The entries, one a line.
    for (i, e) in entries.iter().enumerate() {
        let y = 2 + i as u16;
        if y >= inner.height {
            break;
        }
        let when = if e.date.is_empty() { e.clock.clone() } else { format!("{} {}", e.date, e.clock) };
        let ids = if e.evidence.is_empty() { "unverified".to_string() } else { e.evidence.join(", ") };
        let style = if e.unverified { t.unsupported() } else { t.verified() };
        let text = truncate(&e.text, (inner.width as usize).saturating_sub(when.len() + ids.len() + 6));
        put_line(
            buf,
            inner,
            y,
            &Line::from(vec![
                Span::styled("● ", style),
                Span::styled(format!("{when} "), t.bold()),
                Span::styled(format!("{ids} "), t.evidence()),
                Span::styled(text, t.text()),
            ]),
        );
    }
}

/// Time held per kind of hold and what became of the releases.
fn handoff_line(s: &trustroom_shared::stats::RoomStats, t: &crate::tui::theme::Theme) -> Line<'static> {
    let h = &s.handoff;
    let held: Vec<String> = h
        .held
        .iter()
        .map(|k| format!("{} {} ({})", k.kind, k.holds, trustroom_shared::stats::format_span(k.total_ms)))
        .collect();
    let held = if held.is_empty() { "never held".to_string() } else { format!("held: {}", held.join(" · ")) };
    let mut spans = vec![
        Span::styled(format!("{held}  "), t.text()),
        Span::styled(
            format!("releases {}: {} superseded, {} withdrawn  ", h.releases.len(), h.superseded, h.withdrawn),
            t.dim(),
        ),
        Span::styled(
            format!(
                "evidence maintained {} (median {}), stale now {}",
                h.maintain.maintained,
                h.maintain.median_ms.map_or_else(|| "—".to_string(), trustroom_shared::stats::format_span),
                h.maintain.open
            ),
            if h.maintain.open > 0 { t.warn() } else { t.dim() },
        ),
    ];
    let d = &h.downstream;
    if !d.is_empty() {
        spans.push(Span::styled(
            format!(
                "  found downstream {} ({}), accepted never returned {}",
                d.findings,
                d.rate_text(),
                d.accepted_never_returned
            ),
            t.warn(),
        ));
    }
    Line::from(spans)
}

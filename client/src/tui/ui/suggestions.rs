//! The suggestions screen: the list of open (and conflicting) suggestions
//! on the left; on the right the selected one — who proposed it, why, its
//! evidence, any OUT-OF-BOUNDS flags in a red box the accepting human
//! cannot miss, and the change itself, inline in the section text
//! (insertions and deletions coloured) or as a unified diff.

use ratatui::buffer::Buffer;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::Modifier;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, BorderType, Borders, Paragraph, Widget, Wrap};
use trustroom_shared::suggestion::{Proposal, Suggestion, SuggestionStatus};

use super::chrome::{pane_block, put_line, truncate, wrap};
use super::diff::to_line;
use crate::tui::diffing::lines::{Gutter, row_lines};
use crate::tui::pane::suggestions::{SuggestMode, SuggestionsScreen, may_decide};
use crate::tui::pane::{Ctx, Draw};
use crate::tui::suggest::{Inline, describe_register, diff, inline, target};
use crate::tui::theme::Theme;

impl Draw for SuggestionsScreen {
    fn draw(&self, ctx: &Ctx<'_>, area: Rect, buf: &mut Buffer) {
        draw(self, ctx, area, buf);
    }
}

fn draw(view: &SuggestionsScreen, ctx: &Ctx<'_>, area: Rect, buf: &mut Buffer) {
    let t = ctx.theme;
    let (list, selected) = view.cursor(ctx.room.replica.state.as_ref());
    let decide = may_decide(ctx.room);
    let title = Line::from(vec![
        Span::styled(" Suggestions ", t.title()),
        Span::styled(format!("{} open ", list.iter().filter(|s| s.is_open()).count()), t.dim()),
    ]);
    let keys = if decide.is_ok() {
        " j k step · y accept · x reject (reason) · i inline/diff · PgUp PgDn scroll · Esc close "
    } else {
        " j k step · i inline/diff · PgUp PgDn scroll · Esc close "
    };
    let block = pane_block(t, title, true).title_bottom(Line::from(Span::styled(keys, t.dim())));
    let inner = block.inner(area);
    block.render(area, buf);
    let Some(state) = &ctx.room.replica.state else { return };
    if list.is_empty() {
        put_line(buf, inner, 0, &Line::from(Span::styled("No open suggestions.", t.dim())));
        return;
    }
    let list_w = if inner.width >= 100 { 34 } else { (inner.width / 3).max(16) };
    let [left, right] = Layout::horizontal([Constraint::Length(list_w), Constraint::Min(10)]).areas(inner);
    // The list.
    let first = selected.saturating_sub(left.height.saturating_sub(1) as usize);
    for (y, (i, s)) in list.iter().enumerate().skip(first).take(left.height as usize).enumerate() {
        let marker = if i == selected { t.sym.selected } else { " " };
        let flag = if s.flags.is_empty() { "" } else { "! " };
        let status = if s.status == SuggestionStatus::Conflicting { " (conflicting)" } else { "" };
        let text =
            format!("{marker}{} {flag}{} · {}{status}", s.code(), ctx.room.member_name(s.proposer), target(state, s));
        let mut style = if s.flags.is_empty() { t.text() } else { t.error() };
        if i == selected {
            style = style.patch(t.selected());
        }
        put_line(buf, left, y as u16, &Line::from(Span::styled(truncate(&text, left.width as usize), style)));
    }
    // A rule between the list and the detail, so the two columns never
    // read as one line.
    for y in right.y..right.y.saturating_add(right.height) {
        buf[(right.x, y)].set_symbol(t.sym.bar).set_style(t.dim());
    }
    let Some(s) = list.get(selected) else { return };
    let detail = Rect::new(right.x + 2, right.y, right.width.saturating_sub(2), right.height);
    draw_detail(ctx, view, s, decide.err(), detail, buf);
}

fn draw_detail(
    ctx: &Ctx<'_>,
    view: &SuggestionsScreen,
    s: &Suggestion,
    refusal: Option<String>,
    area: Rect,
    buf: &mut Buffer,
) {
    let t = ctx.theme;
    let Some(state) = &ctx.room.replica.state else { return };
    let w = area.width as usize;
    let mut head: Vec<Line> = Vec::new();
    head.push(Line::from(vec![
        Span::styled(format!("{} ", s.code()), t.title()),
        Span::styled(target(state, s), t.bold()),
        Span::styled(format!("  {}", s.status), t.dim()),
    ]));
    head.push(Line::from(vec![
        Span::styled("proposed by ", t.dim()),
        Span::styled(ctx.room.member_name(s.proposer), t.user(s.proposer)),
        Span::styled(format!(" ({}) at rev {}", s.proposer_role.label(), s.proposed_revision), t.dim()),
    ]));
    for l in wrap(&format!("why: {}", s.rationale), w) {
        head.push(Line::from(Span::styled(l, t.text())));
    }
    if !s.evidence.is_empty() {
        head.push(Line::from(vec![
            Span::styled("evidence: ", t.dim()),
            Span::styled(s.evidence.join(", "), t.evidence()),
        ]));
    }
    if let Some(c) = &s.conflict {
        head.push(Line::from(Span::styled(format!("conflicting: {c}"), t.warn())));
    }
    if let Some(why) = refusal {
        head.push(Line::from(Span::styled(why, t.dim())));
    }
    let mut y = 0u16;
    for l in &head {
        put_line(buf, area, y, l);
        y += 1;
    }
    if !s.flags.is_empty() {
        let h = (s.flags.len() as u16 + 2).min(area.height.saturating_sub(y));
        let rect = Rect::new(area.x, area.y + y, area.width, h);
        let block = Block::default()
            .borders(Borders::ALL)
            .border_type(BorderType::Thick)
            .border_style(t.error())
            .title(Line::from(Span::styled(" OUT OF BOUNDS — the room must not do this ", t.banner_error())));
        let inner = block.inner(rect);
        block.render(rect, buf);
        for (i, f) in s.flags.iter().enumerate() {
            let text = format!("{} ({}): \"{}\" in the {}", f.category.label(), f.rule, f.matched, f.field);
            put_line(buf, inner, i as u16, &Line::from(Span::styled(truncate(&text, inner.width as usize), t.error())));
        }
        y += h;
    }
    y += 1;
    if y >= area.height {
        return;
    }
    let body_area = Rect::new(area.x, area.y + y, area.width, area.height - y);
    // A diff comes wrapped already (under its `+`/`-`, changed words
    // emphasised); inline text and register changes wrap as paragraphs.
    let unfit = || vec![Line::from(Span::styled("(the operation no longer fits the section text)", t.dim()))];
    let (lines, prewrapped) = match &s.proposal {
        Proposal::Edit { section, op } => {
            let body = state.section(*section).map(|sec| sec.body.as_str()).unwrap_or_default();
            match view.mode {
                SuggestMode::Inline => (inline(body, op).map_or_else(unfit, |runs| inline_lines(t, &runs)), false),
                SuggestMode::Diff => match diff(body, op) {
                    Some(d) => (
                        d.rows.iter().flat_map(|r| row_lines(r, Gutter::Sign, w)).map(|l| to_line(t, &l)).collect(),
                        true,
                    ),
                    None => (unfit(), false),
                },
            }
        }
        Proposal::Register { change } => (
            vec![
                Line::from(Span::styled("Register change:", t.dim())),
                Line::from(Span::styled(describe_register(state, change), t.diff_insert())),
            ],
            false,
        ),
    };
    let mode = match view.mode {
        SuggestMode::Inline => "inline: inserted text green, deleted text red and struck through",
        SuggestMode::Diff => "diff against the section text",
    };
    put_line(buf, body_area, 0, &Line::from(Span::styled(truncate(mode, w), t.dim())));
    let text_area = Rect::new(body_area.x, body_area.y + 1, body_area.width, body_area.height.saturating_sub(1));
    if prewrapped {
        let height = usize::from(text_area.height);
        let top = usize::from(view.scroll).min(lines.len().saturating_sub(height));
        for (y, l) in lines.iter().skip(top).take(height).enumerate() {
            put_line(buf, text_area, y as u16, l);
        }
    } else {
        Paragraph::new(lines).wrap(Wrap { trim: false }).scroll((view.scroll, 0)).render(text_area, buf);
    }
}

/// Inline runs as lines: inserted text in the insert colour (underlined),
/// deleted text in the delete colour and struck through.
fn inline_lines(t: &Theme, runs: &[Inline]) -> Vec<Line<'static>> {
    let mut lines: Vec<Line<'static>> = vec![Line::default()];
    for run in runs {
        let (text, style) = match run {
            Inline::Same(s) => (s, t.text()),
            Inline::Insert(s) => (s, t.diff_insert().add_modifier(Modifier::UNDERLINED)),
            Inline::Delete(s) => (s, t.diff_delete().add_modifier(Modifier::CROSSED_OUT)),
        };
        for (i, part) in text.split('\n').enumerate() {
            if i > 0 {
                lines.push(Line::default());
            }
            if !part.is_empty()
                && let Some(last) = lines.last_mut()
            {
                last.spans.push(Span::styled(part.to_string(), style));
            }
        }
    }
    lines
}

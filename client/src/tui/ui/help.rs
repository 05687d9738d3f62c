//! The help overlay: keys of the focused pane, the global keys (owner-only
//! ones shown disabled to others), extra lines from the caller (the demo:
//! the commands that join, and who to join as for each flow), and a legend
//! of the symbols.
//!
//! The caller's lines are marked by their first characters: `# ` a
//! heading, `$ ` a command, anything else text (wrapped). A command is
//! never wrapped and nothing else is drawn on its row — not even the
//! overlay's border — so selecting it in the terminal copies exactly the
//! command.

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Clear, Widget};

use super::chrome::{centered, popup, put_line, str_width, truncate, wrap};
use crate::tui::app::App;
use crate::tui::keys::{self, KeyHelp};
use crate::tui::theme::Theme;

/// A line of the caller's extra help that is a command.
pub const COMMAND: &str = "$ ";
/// A line of the caller's extra help that is a heading.
pub const HEADING: &str = "# ";

/// Every help line, in order, one per screen row at `width` (also used by
/// tests and for scrolling).
pub fn help_lines(app: &App, width: usize) -> Vec<Line<'static>> {
    help_rows(app, width).into_iter().map(|(line, _)| line).collect()
}

/// Help rows, each flagged when it is a command to copy.
fn help_rows(app: &App, width: usize) -> Vec<(Line<'static>, bool)> {
    let t = &app.theme;
    let owner = app.is_owner();
    let mut out: Vec<(Line<'static>, bool)> = Vec::new();
    let (title, pane_keys): (String, &[KeyHelp]) = if app.diff.is_some() {
        ("Diff view".into(), keys::DIFF)
    } else if app.suggestions.is_some() {
        ("Suggestions".into(), keys::SUGGESTIONS)
    } else if app.stats.is_some() {
        ("Stats".into(), keys::STATS)
    } else {
        (format!("Focused: {}", app.focus.name()), keys::for_pane(app.focus, app.editor.mode))
    };
    let section = |out: &mut Vec<(Line<'static>, bool)>, heading: String, list: &[KeyHelp]| {
        out.push((Line::from(Span::styled(heading, t.title())), false));
        for k in list {
            let enabled = !k.owner_only || owner;
            let key_style = if enabled { t.key() } else { t.key_disabled() };
            let what_style = if enabled { t.text() } else { t.key_disabled() };
            let mut spans = vec![
                Span::styled(format!("  {:<18}", k.keys), key_style),
                Span::styled(k.what.to_string(), what_style),
            ];
            if !enabled {
                spans.push(Span::styled("  (owner only)", t.dim()));
            }
            out.push((Line::from(spans), false));
        }
        out.push((Line::from(""), false));
    };
    section(&mut out, title, pane_keys);
    section(&mut out, "Everywhere".into(), keys::GLOBAL);
    if !app.help_extra.is_empty() {
        out.push((Line::from(Span::styled("Join this room from other terminals", t.title())), false));
        for l in &app.help_extra {
            if let Some(cmd) = l.strip_prefix(COMMAND) {
                // Whole, on a row of its own (drawn past the border when wide).
                out.push((Line::from(Span::styled(cmd.to_string(), t.key())), true));
            } else if let Some(h) = l.strip_prefix(HEADING) {
                for w in wrap(h, width) {
                    out.push((Line::from(Span::styled(w, t.bold())), false));
                }
            } else {
                let indent = 2 + l.len() - l.trim_start().len();
                for w in wrap(l.trim_start(), width.saturating_sub(indent)) {
                    out.push((Line::from(Span::styled(format!("{}{w}", " ".repeat(indent)), t.text())), false));
                }
            }
        }
        out.push((Line::from(""), false));
    }
    out.push((Line::from(Span::styled("Symbols", t.title())), false));
    for (sym, what) in legend(t) {
        let first = format!("  {sym}{}", " ".repeat(8usize.saturating_sub(str_width(&sym))));
        for (i, l) in wrap(what, width.saturating_sub(10)).into_iter().enumerate() {
            let lead = if i == 0 { first.clone() } else { " ".repeat(10) };
            out.push((Line::from(vec![Span::styled(lead, t.key()), Span::styled(l, t.text())]), false));
        }
    }
    out.push((Line::from(""), false));
    if let Some(path) = &app.log_path {
        out.push((Line::from(Span::styled(format!("log file: {}", path.display()), t.dim())), false));
    }
    out
}

/// What each symbol on the screen means (one meaning per symbol).
pub fn legend(t: &Theme) -> Vec<(String, &'static str)> {
    let s = &t.sym;
    vec![
        (format!("{}2", s.verified), "statements verified by evidence (case, session-log, registry ids)"),
        (format!("{}1", s.contested), "contested statements: an objection disputes them"),
        (format!("{}1", s.restricted), "restricted statements: they only point at an annex"),
        (format!("{}1", s.residual), "accepted-residual disagreement, handed on unresolved"),
        (format!("{}1", s.unsupported), "statements with no label or evidence: they must not stand as fact"),
        (format!("{}3{}1", s.objection, s.blocking), "open objections, and how many of them block release"),
        ("✎2".into(), "open suggestions waiting for a decision (u)"),
        (format!("{}priya", s.editing), "who is in that section now"),
        ("•".into(), "your edits the server has not acknowledged yet"),
        (format!("{} {}", s.lock, s.unlocked), "annex map: gated for you / you may read it (views are logged)"),
        (format!("{} {}", s.connected, s.disconnected), "connected / not connected (edits are kept and re-sent)"),
    ]
}

pub fn draw(app: &App, area: Rect, buf: &mut Buffer) {
    let w = (area.width.saturating_sub(4)).min(100);
    let h = area.height.saturating_sub(2);
    let rect = centered(area, w, h);
    let inner = popup(buf, &app.theme, rect, "Help — any key closes, j/k scroll");
    let rows = help_rows(app, inner.width as usize);
    let max_scroll = rows.len().saturating_sub(inner.height as usize);
    let shown = rows.iter().skip((app.help_scroll as usize).min(max_scroll)).take(inner.height as usize);
    for (y, (line, command)) in shown.enumerate() {
        if !command {
            put_line(buf, inner, y as u16, line);
            continue;
        }
        // A command: clear its whole row (borders included) and start it
        // where it fits, so the terminal's selection takes nothing else.
        let row = Rect::new(area.x, inner.y + y as u16, area.width, 1);
        Clear.render(row, buf);
        let text: String = line.spans.iter().map(|s| s.content.as_ref()).collect();
        let style = line.spans.first().map(|s| s.style).unwrap_or_default();
        let width = str_width(&text);
        let right = area.x.saturating_add(area.width);
        let x = if usize::from(right.saturating_sub(inner.x)) >= width { inner.x } else { area.x };
        let room = usize::from(right.saturating_sub(x));
        buf.set_string(x, row.y, truncate(&text, room), style);
    }
}

//! The help overlay: keys of the focused pane, the global keys (owner-only
//! ones shown disabled to others), and extra lines from the caller (the
//! demo's join commands).

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};

use super::chrome::{centered, popup, put_line, wrap};
use crate::tui::app::App;
use crate::tui::keys::{self, KeyHelp};

/// Every help line, in order (also used by tests).
pub fn help_lines(app: &App, width: usize) -> Vec<Line<'static>> {
    let t = &app.theme;
    let owner = app.room.is_owner();
    let mut out = Vec::new();
    let (title, pane_keys): (String, &[KeyHelp]) = if app.diff.is_some() {
        ("Diff view".into(), keys::DIFF)
    } else if app.suggestions.is_some() {
        ("Suggestions".into(), keys::SUGGESTIONS)
    } else if app.stats.is_some() {
        ("Stats".into(), keys::STATS)
    } else {
        (format!("Focused: {}", app.focus.name()), keys::for_pane(app.focus, app.editor.mode))
    };
    let section = |out: &mut Vec<Line<'static>>, heading: String, list: &[KeyHelp]| {
        out.push(Line::from(Span::styled(heading, t.title())));
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
            out.push(Line::from(spans));
        }
        out.push(Line::from(""));
    };
    section(&mut out, title, pane_keys);
    section(&mut out, "Everywhere".into(), keys::GLOBAL);
    if !app.help_extra.is_empty() {
        out.push(Line::from(Span::styled("Join this room from other terminals", t.title())));
        out.push(Line::from(Span::styled("  (also printed in your terminal before the TUI opened)", t.dim())));
        for l in &app.help_extra {
            for w in wrap(l, width.saturating_sub(2)) {
                out.push(Line::from(Span::styled(format!("  {w}"), t.text())));
            }
        }
        out.push(Line::from(""));
    }
    if let Some(path) = &app.log_path {
        out.push(Line::from(Span::styled(format!("log file: {}", path.display()), t.dim())));
    }
    out
}

pub fn draw(app: &App, area: Rect, buf: &mut Buffer) {
    let w = (area.width.saturating_sub(4)).min(100);
    let h = area.height.saturating_sub(2);
    let rect = centered(area, w, h);
    let inner = popup(buf, &app.theme, rect, "Help — any key closes, j/k scroll");
    let lines = help_lines(app, inner.width as usize);
    let max_scroll = lines.len().saturating_sub(inner.height as usize);
    for (y, l) in lines.iter().skip((app.help_scroll as usize).min(max_scroll)).take(inner.height as usize).enumerate()
    {
        put_line(buf, inner, y as u16, l);
    }
}

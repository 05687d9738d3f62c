//! Drawing. Everything here takes `&App`: drawing never changes state.
//! One file per pane; `chrome` holds the shared frame and text helpers.

pub mod annex;
pub mod approvals;
pub mod chrome;
pub mod dialog;
pub mod diff;
pub mod editor;
pub mod help;
pub mod palette;
pub mod register;
pub mod sections;
pub mod stats;
pub mod status;
pub mod suggestions;

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Widget, Wrap};

use super::app::{App, ConnState, Overlay};
use super::layout::layout;

/// Draws the whole screen.
pub fn draw(app: &App, frame: &mut Frame) {
    let area = frame.area();
    let buf = frame.buffer_mut();
    let l = layout(app, area);
    if let Some(b) = l.banner {
        status::draw_banner(app, b, buf);
    }
    if app.room.replica.state.is_none() {
        draw_waiting(app, l.main, buf);
    } else if let Some(d) = &app.diff {
        diff::draw(app, d, l.main, buf);
    } else if let Some(v) = &app.suggestions {
        suggestions::draw(app, v, l.main, buf);
    } else if let Some(v) = &app.stats {
        stats::draw(app, v, l.main, buf);
    } else {
        if let Some(r) = l.sections {
            sections::draw(app, r, buf);
        }
        if let Some(r) = l.editor {
            editor::draw(app, r, buf);
        }
        if let Some(r) = l.register {
            register::draw(app, r, buf);
        }
        if let Some(r) = l.annexes {
            annex::draw(app, r, buf);
        }
    }
    status::draw_notice(app, l.notice, buf);
    status::draw_status(app, l.status, buf);
    match &app.overlay {
        Some(Overlay::Help) => help::draw(app, area, buf),
        Some(Overlay::Palette(p)) => palette::draw(app, p, area, buf),
        Some(Overlay::Dialog(d)) => dialog::draw(app, d, area, buf),
        None => {}
    }
}

/// Before the first snapshot: what we are waiting for.
fn draw_waiting(app: &App, area: Rect, buf: &mut ratatui::buffer::Buffer) {
    let t = &app.theme;
    let what = match &app.room.conn {
        ConnState::Connecting { .. } => "connecting to the server…".to_string(),
        ConnState::Syncing => format!("joining room \"{}\"…", app.room.room_ref),
        ConnState::Connected => "waiting for the room…".to_string(),
        ConnState::Disconnected { reason, attempt, .. } => {
            format!("cannot reach the server ({reason}); retrying (attempt {attempt})…")
        }
    };
    let lines = vec![
        Line::from(""),
        Line::from(Span::styled("Trustroom", t.title())),
        Line::from(""),
        Line::from(Span::styled(what, t.dim())),
        Line::from(""),
        Line::from(Span::styled("q quits", t.dim())),
    ];
    Paragraph::new(lines).alignment(ratatui::layout::Alignment::Center).wrap(Wrap { trim: true }).render(area, buf);
}

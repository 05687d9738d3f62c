//! Drawing. Each pane draws itself here (`impl Draw`, in the file named
//! after its pane) from `&self` and a [`Ctx`]: drawing never changes
//! state. `chrome` holds the shared frame and text helpers.

pub mod annex;
pub mod approvals;
pub mod break_glass;
pub mod chrome;
pub mod dialog;
pub mod diff;
pub mod editor;
pub mod evidence;
pub mod export;
pub mod grants;
pub mod help;
pub mod history;
pub mod holds;
pub mod manifests;
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

use super::app::{App, Overlay, Screen};
use super::pane::{Ctx, Draw};
use crate::session::room::ConnState;

/// Draws the whole screen.
pub fn draw(app: &App, frame: &mut Frame) {
    let area = frame.area();
    let buf = frame.buffer_mut();
    let ctx = app.ctx();
    let l = app.layout(area);
    if let Some(b) = l.banner {
        status::draw_banner(&ctx, b, buf);
    }
    if app.room.replica.state.is_none() {
        draw_waiting(&ctx, l.main, buf);
    } else if let Some(screen) = &app.screen {
        match screen {
            Screen::Diff(d) => d.draw(&ctx, l.main, buf),
            Screen::Suggestions(s) => s.draw(&ctx, l.main, buf),
            Screen::Stats(s) => s.draw(&ctx, l.main, buf),
            Screen::History(h) => h.draw(&ctx, l.main, buf),
        }
    } else {
        if let Some(r) = l.sections {
            app.sections.draw(&ctx, r, buf);
        }
        if let Some(r) = l.editor {
            app.editor.draw(&ctx, r, buf);
        }
        if let Some(r) = l.register {
            app.register.draw(&ctx, r, buf);
        }
        if let Some(r) = l.annexes {
            app.annexes.draw(&ctx, r, buf);
        }
    }
    let diff_layout = match &app.screen {
        Some(Screen::Diff(d)) => Some(d.view.layout),
        _ => None,
    };
    status::draw_notice(&app.status, &ctx, diff_layout, l.notice, buf);
    app.status.draw(&ctx, l.status, buf);
    match &app.overlay {
        Some(Overlay::Help) => app.help.draw(&ctx, area, buf),
        Some(Overlay::Palette(p)) => p.draw(&ctx, area, buf),
        Some(Overlay::Dialog(d)) => d.draw(&ctx, area, buf),
        None => {}
    }
}

/// Before the first snapshot: what we are waiting for.
fn draw_waiting(ctx: &Ctx<'_>, area: Rect, buf: &mut ratatui::buffer::Buffer) {
    let t = ctx.theme;
    let what = match &ctx.room.conn {
        ConnState::Connecting { .. } => "connecting to the server…".to_string(),
        ConnState::Syncing => format!("joining room \"{}\"…", ctx.room.room_ref),
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

//! Screens that fit: long paragraphs wrap in every diff (unified, side by
//! side, a suggestion's diff) with the changed words emphasised and the
//! diff scrolling by screen line; the status bar keeps who you are, the
//! room's state and the connection on a narrow terminal; the help overlay
//! explains every symbol and shows the demo's join commands whole, each
//! alone on its row. TestBackend + insta snapshots, driven by keys.
#![allow(dead_code, unused_imports)]
// Test code: a failed expectation is the verdict (the lints bind product code).
#![allow(clippy::expect_used, clippy::panic)]

mod common;
#[path = "../src/session/mod.rs"]
mod session;
#[path = "../src/tui/mod.rs"]
mod tui;

#[path = "fitting/diffs.rs"]
mod diffs;
#[path = "fitting/help.rs"]
mod help;
#[path = "fitting/owner.rs"]
mod owner;
#[path = "fitting/status.rs"]
mod status;

use ratatui::style::Modifier;
use tui::app::App;

/// The screen as text, and the text of its cells whose style has
/// `modifier`, row by row.
pub fn render_marked(app: &mut App, w: u16, h: u16, modifier: Modifier) -> (String, Vec<String>) {
    app.size = ratatui::layout::Rect::new(0, 0, w, h);
    app.refresh();
    let mut term = ratatui::Terminal::new(ratatui::backend::TestBackend::new(w, h)).expect("terminal");
    term.draw(|f| tui::ui::draw(app, f)).expect("draw");
    let buf = term.backend().buffer().clone();
    let rows = (0..h)
        .map(|y| (0..w).map(|x| &buf[(x, y)]).filter(|c| c.modifier.contains(modifier)).map(|c| c.symbol()).collect())
        .collect();
    (term.backend().to_string(), rows)
}

/// The last row of a rendered screen (the status bar).
pub fn last_row(screen: &str) -> &str {
    screen.lines().last().unwrap_or_default()
}

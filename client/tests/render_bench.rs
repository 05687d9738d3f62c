//! Frame render time for a packet of 50 sections × 200 lines with 10 remote
//! cursors, on TestBackend. A measurement, not a test:
//!
//! ```text
//! cargo test -p trustroom --release --test render_bench -- --ignored --nocapture
//! ```
#![allow(dead_code, unused_imports)]
// Test code: a failed expectation is the verdict (the lints bind product code).
#![allow(clippy::expect_used, clippy::panic)]

mod common;
#[path = "../src/session/mod.rs"]
mod session;
#[path = "../src/tui/mod.rs"]
mod tui;

use std::time::{Duration, Instant};

use common::*;
use crossterm::event::KeyCode;
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use session::connection::NetEvent;
use trustroom_shared::protocol::ServerFrame;
use trustroom_shared::room::Section;

fn measure(app: &mut tui::app::App, w: u16, h: u16, frames: usize) -> (Duration, Duration, Duration) {
    let mut term = Terminal::new(TestBackend::new(w, h)).expect("terminal");
    app.refresh();
    let mut times = Vec::with_capacity(frames);
    for i in 0..frames {
        // Something changes every frame, like a remote cursor moving.
        app.editor.area.move_cursor(if i % 2 == 0 {
            ratatui_textarea::CursorMove::Down
        } else {
            ratatui_textarea::CursorMove::Forward
        });
        let t = Instant::now();
        app.refresh();
        term.draw(|f| tui::ui::draw(app, f)).expect("draw");
        times.push(t.elapsed());
    }
    times.sort();
    let mean = times.iter().sum::<Duration>() / frames as u32;
    (mean, times[frames / 2], times[frames * 99 / 100])
}

#[test]
#[ignore = "benchmark: run with --ignored --nocapture (use --release)"]
fn frame_render_time_50_sections_200_lines_10_cursors() {
    let mut app = app_with(OWNER, big_room());
    let room = app.room.id.expect("room");
    let len = app.room.docs.get(&section_id(0)).expect("doc").text.chars().count();
    for c in 0..10u128 {
        let pos = (len / 12) * (c as usize + 1);
        let p = presence(PRIVACY + (c % 3), &format!("member{c}"), OTHER_CLIENT + c, 0, pos, 12);
        app.on_net(NetEvent::Frame(ServerFrame::Presence { room, presence: p }));
    }
    key(&mut app, KeyCode::Char('2'));
    key(&mut app, KeyCode::Char('r'));
    for (w, h) in [(120u16, 40u16), (200, 60), (80, 24)] {
        let (mean, p50, p99) = measure(&mut app, w, h, 500);
        println!(
            "render {w}x{h}: mean {mean:?}  p50 {p50:?}  p99 {p99:?}  (50 sections x 200 lines, 10 remote cursors)"
        );
    }
}

//! Keystroke to operation, and the frame after it, while typing in the middle
//! of a 200-line section of a 50-section packet with 10 remote cursors (on
//! TestBackend, no network: the server's acknowledgement is fed back between
//! keys so every key sends its own operation). A measurement, not a test:
//!
//! ```text
//! cargo test -p trustroom --release --test keystroke_bench -- --ignored --nocapture
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
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use session::connection::NetEvent;
use trustroom_shared::change::{Change, ClientStamp, Revision};
use trustroom_shared::protocol::{Request, ServerFrame};
use trustroom_shared::room::{RoomState, Section};
use trustroom_shared::{ClientId, UserId};
use tui::app::App;

/// The server's acknowledgement of every edit in the outbox.
fn ack_edits(app: &mut App) {
    let room = app.room.id.expect("room");
    let sent: Vec<Request> = app.room.outbox.queue.drain(..).map(|o| o.request).collect();
    for request in sent {
        let Request::Edit { section, op, seq, .. } = request else { continue };
        let op =
            trustroom_shared::ot::TextOp::from_wire(&op, trustroom_shared::ot::OpLimits::default()).expect("valid op");
        let rev = Revision {
            revision: app.room.replica.state.as_ref().map_or(0, |s| s.revision) + 1,
            author: UserId(uid(OWNER)),
            at_ms: 0,
            client: Some(ClientStamp { client: ClientId(uid(MY_CLIENT)), seq: seq.unwrap_or(0) }),
            change: Change::SectionEdited { section, op },
        };
        app.on_net(NetEvent::Frame(ServerFrame::Event { room, rev: Box::new(rev) }));
    }
}

/// A typing mix: mostly letters and spaces, some newlines, backspaces and deletes.
fn keystroke(i: usize) -> KeyEvent {
    let code = match i % 20 {
        7 => KeyCode::Enter,
        3 | 11 => KeyCode::Backspace,
        15 => KeyCode::Delete,
        5 | 13 | 18 => KeyCode::Char(' '),
        n => KeyCode::Char((b'a' + n as u8) as char),
    };
    KeyEvent::new(code, KeyModifiers::NONE)
}

fn stats(mut v: Vec<Duration>) -> (Duration, Duration, Duration) {
    v.sort();
    let mean = v.iter().sum::<Duration>() / v.len() as u32;
    (mean, v[v.len() / 2], v[(v.len() * 99 / 100).min(v.len() - 1)])
}

fn load() -> String {
    std::fs::read_to_string("/proc/loadavg").map(|s| s.trim().to_string()).unwrap_or_else(|_| "unknown".into())
}

#[test]
#[ignore = "benchmark: run with --ignored --nocapture (use --release)"]
fn keystroke_to_operation_and_frame_50_sections_200_lines_10_cursors() {
    let mut app = app_with(OWNER, big_room());
    let room = app.room.id.expect("room");
    let len = app.room.docs.get(&section_id(0)).expect("doc").text.chars().count();
    for c in 0..10u128 {
        let pos = (len / 12) * (c as usize + 1);
        let p = presence(PRIVACY + (c % 3), &format!("member{c}"), OTHER_CLIENT + c, 0, pos, 1);
        app.on_net(NetEvent::Frame(ServerFrame::Presence { room, presence: p }));
    }
    key(&mut app, KeyCode::Char('2'));
    key(&mut app, KeyCode::Char('r'));
    key(&mut app, KeyCode::Char('2'));
    // The middle of the section, a few words into a line.
    for _ in 0..100 {
        key(&mut app, KeyCode::Down);
    }
    for _ in 0..20 {
        key(&mut app, KeyCode::Right);
    }
    key(&mut app, KeyCode::Char('i'));
    let (w, h) = (120u16, 40u16);
    app.size = ratatui::layout::Rect::new(0, 0, w, h);
    let mut term = Terminal::new(TestBackend::new(w, h)).expect("terminal");
    app.refresh();
    term.draw(|f| tui::ui::draw(&app, f)).expect("draw");
    let load_before = load();
    let n = 2000;
    let (mut to_op, mut frame) = (Vec::with_capacity(n), Vec::with_capacity(n));
    for i in 0..n {
        let t = Instant::now();
        app.on_key(keystroke(i));
        to_op.push(t.elapsed());
        assert!(
            app.room.outbox.queue.iter().any(|o| matches!(o.request, Request::Edit { .. })),
            "key {i} sent no operation"
        );
        ack_edits(&mut app);
        let t = Instant::now();
        app.refresh();
        term.draw(|f| tui::ui::draw(&app, f)).expect("draw");
        frame.push(t.elapsed());
    }
    assert_eq!(app.editor.text(), app.room.docs.get(&section_id(0)).expect("doc").text, "editor and section in step");
    let (mean, p50, p99) = stats(to_op);
    println!("keystroke → operation ({n} keys): mean {mean:?}  p50 {p50:?}  p99 {p99:?}");
    let (mean, p50, p99) = stats(frame);
    println!("frame after a keystroke {w}x{h}: mean {mean:?}  p50 {p50:?}  p99 {p99:?}");
    println!("load average before: {load_before}; after: {}", load());
}

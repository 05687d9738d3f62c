//! Keys become operations from the edit itself (a splice at the cursor),
//! not from a diff of the section: random key sequences (typing, newlines,
//! tabs, every delete key, selections, pastes, in texts with runs of equal
//! and multi-byte characters) must send, key by key, the very operation
//! `TextOp::from_texts(text before, text after)` gives, and leave the
//! section's text equal to the editor's.
#![allow(dead_code, unused_imports)]
// Test code: a failed expectation is the verdict (the lints bind product code).
#![allow(clippy::expect_used, clippy::panic)]

mod common;
#[path = "../src/session/mod.rs"]
mod session;
#[path = "../src/tui/mod.rs"]
mod tui;

use common::*;
use crossterm::event::{Event, KeyCode, KeyEvent, KeyModifiers};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use session::connection::NetEvent;
use trustroom_shared::change::{Change, ClientStamp, Revision};
use trustroom_shared::ot::{OpLimits, TextOp};
use trustroom_shared::protocol::{Request, ServerFrame};
use trustroom_shared::room::Section;
use trustroom_shared::{ClientId, UserId};
use tui::app::App;

const NONE: KeyModifiers = KeyModifiers::NONE;
const SHIFT: KeyModifiers = KeyModifiers::SHIFT;
const CTRL: KeyModifiers = KeyModifiers::CONTROL;
const ALT: KeyModifiers = KeyModifiers::ALT;

/// The edits in the outbox, acknowledged by the server at once so the next
/// key sends its own operation.
fn sent_and_acked(app: &mut App) -> Vec<TextOp> {
    let room = app.room.id.expect("room");
    let requests: Vec<Request> = app.room.outbox.queue.drain(..).map(|o| o.request).collect();
    let mut ops = Vec::new();
    for request in requests {
        let Request::Edit { section, op, seq, .. } = request else { continue };
        let op = TextOp::from_wire(&op, OpLimits::default()).expect("valid op");
        ops.push(op.clone());
        let rev = Revision {
            revision: app.room.replica.state.as_ref().map_or(0, |s| s.revision) + 1,
            author: UserId(uid(OWNER)),
            at_ms: 0,
            client: Some(ClientStamp { client: ClientId(uid(MY_CLIENT)), seq: seq.unwrap_or(0) }),
            change: Change::SectionEdited { section, op },
        };
        app.on_net(NetEvent::Frame(ServerFrame::Event { room, rev: Box::new(rev) }));
    }
    ops
}

fn section_text(app: &App) -> String {
    app.room.docs.get(&section_id(0)).expect("doc").text.clone()
}

/// One random input for the editor in insert mode.
fn random_input(rng: &mut StdRng) -> Event {
    let chars = ['a', 'a', 'b', ' ', ' ', 'é', '日', '🐱', '.', '['];
    let key = |code, mods| Event::Key(KeyEvent::new(code, mods));
    match rng.random_range(0..100) {
        0..=34 => key(KeyCode::Char(chars[rng.random_range(0..chars.len())]), NONE),
        35..=39 => key(KeyCode::Enter, NONE),
        40..=41 => key(KeyCode::Tab, NONE),
        42..=49 => key(KeyCode::Backspace, NONE),
        50..=53 => key(KeyCode::Delete, NONE),
        54 => key(KeyCode::Char('w'), CTRL),
        55 => key(KeyCode::Backspace, ALT),
        56 => key(KeyCode::Char('d'), ALT),
        57 => key(KeyCode::Char('k'), CTRL),
        58 => key(KeyCode::Char('j'), CTRL),
        59 => key(KeyCode::Char('h'), CTRL),
        60 => key(KeyCode::Char('d'), CTRL),
        61 => key(KeyCode::Char('m'), CTRL),
        62..=64 => {
            let pastes = ["pasted", "two\nlines", "a\n\nb\n", "aa", "\n", "日本"];
            Event::Paste(pastes[rng.random_range(0..pastes.len())].to_string())
        }
        65..=74 => {
            let moves = [KeyCode::Left, KeyCode::Right, KeyCode::Up, KeyCode::Down, KeyCode::Home, KeyCode::End];
            key(moves[rng.random_range(0..moves.len())], SHIFT)
        }
        _ => {
            let moves = [KeyCode::Left, KeyCode::Right, KeyCode::Up, KeyCode::Down, KeyCode::Home, KeyCode::End];
            let mods = if rng.random_bool(0.2) { CTRL } else { NONE };
            key(moves[rng.random_range(0..moves.len())], mods)
        }
    }
}

fn run(seed: u64, body: &str, steps: usize) {
    let mut state = room_state();
    state.sections[0] = Section::new(section_id(0), "Summary".into(), body.into(), 1);
    let mut app = app_with(OWNER, state);
    key(&mut app, KeyCode::Char('2'));
    key(&mut app, KeyCode::Char('i'));
    let mut rng = StdRng::seed_from_u64(seed);
    for step in 0..steps {
        let before = section_text(&app);
        let input = random_input(&mut rng);
        app.on_terminal_event(input.clone());
        let after = app.editor.text();
        let sent = sent_and_acked(&mut app);
        let diffed = TextOp::from_texts(&before, &after);
        let expected = if diffed.is_noop() { Vec::new() } else { vec![diffed] };
        assert_eq!(sent, expected, "seed {seed} step {step}: {input:?} on {before:?}");
        assert_eq!(section_text(&app), after, "seed {seed} step {step}: {input:?}: section and editor in step");
    }
    assert!(!app.room.docs.get(&section_id(0)).expect("doc").has_pending());
}

#[test]
fn random_keys_send_the_operations_the_diff_sent() {
    let bodies = [
        "",
        "aaaa aaaa\n\naa",
        "# What happened\n\n[verified: TL-0412] On 14 March a support engineer opened a session.\n\nThe end.",
        "日本語 and é\n🐱🐱\n\n  indented  \n",
    ];
    for (i, body) in bodies.iter().enumerate() {
        for seed in 0..25u64 {
            run(seed * 10 + i as u64, body, 120);
        }
    }
}

#[test]
fn undo_after_typing_restores_the_text() {
    let mut app = app_as(OWNER);
    let original = section_text(&app);
    key(&mut app, KeyCode::Char('2'));
    key(&mut app, KeyCode::Char('i'));
    typ(&mut app, "one two\nthree");
    key(&mut app, KeyCode::Backspace);
    app.on_key(KeyEvent::new(KeyCode::Char('w'), CTRL));
    app.on_terminal_event(Event::Paste("pasted\ntext".into()));
    let _ = sent_and_acked(&mut app);
    assert_ne!(section_text(&app), original);
    // However the steps are grouped (by time), undoing them all restores the text.
    for _ in 0..20 {
        ctrl(&mut app, 'z');
        let _ = sent_and_acked(&mut app);
    }
    assert_eq!(section_text(&app), original);
    assert_eq!(app.editor.text(), original);
}

/// The editor maps every edit key to a splice (none falls back to the
/// diff), and the splice's operation is the diff's.
#[test]
fn every_edit_key_is_a_splice_never_a_diff() {
    use tui::keyedit::KeyEdit;
    let theme = tui::theme::Theme::new(false, true);
    let mut spliced = 0;
    for seed in 0..40u64 {
        let mut editor = tui::pane::editor::Editor::new(&theme);
        editor.load(section_id(0), "aa bb\n\n日本 é🐱\naa", 3, None, &theme);
        let mut rng = StdRng::seed_from_u64(1000 + seed);
        for step in 0..150 {
            let before = editor.text();
            let edit = match random_input(&mut rng) {
                Event::Key(k) => editor.input(k),
                Event::Paste(p) => editor.paste(&p),
                _ => continue,
            };
            let after = editor.text();
            match edit {
                KeyEdit::Unchanged => assert_eq!(before, after, "seed {seed} step {step}"),
                KeyEdit::Splice(s) => {
                    let made = s.op(&before, before.chars().count()).expect("the splice fits the text before");
                    assert_eq!(made.op, TextOp::from_texts(&before, &after), "seed {seed} step {step}: {s:?}");
                    spliced += 1;
                }
                KeyEdit::Unmapped => panic!("seed {seed} step {step}: an edit key fell back to the diff"),
            }
        }
    }
    assert!(spliced > 1000, "only {spliced} splices");
}

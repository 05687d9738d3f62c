//! Render tests for the TUI: TestBackend + insta snapshots of every pane
//! and state, built from a fixture room made with the shared types. The
//! client is a binary crate, so the TUI's modules are compiled into this
//! test crate by path.
#![allow(dead_code, unused_imports)]
// Test code: a failed expectation is the verdict (the lints bind product code).
#![allow(clippy::expect_used, clippy::panic)]

mod common;
#[path = "../src/session/mod.rs"]
mod session;
#[path = "../src/tui/mod.rs"]
mod tui;

use common::*;
use crossterm::event::KeyCode;
use serde_json::json;
use session::connection::NetEvent;
use session::outbox::Pending;
use session::room::ConnState;
use trustroom_shared::AnnexId;
use trustroom_shared::protocol::{AnnexContent, Request, ServerFrame};
use trustroom_shared::release::ReleaseState;
use tui::app::{App, Overlay};

/// The tag of the only pending request of a kind.
fn tag_of(app: &App, pred: impl Fn(&Pending) -> bool) -> u64 {
    *app.room.outbox.pending.iter().find(|(_, p)| pred(p)).map(|(t, _)| t).expect("a pending request of that kind")
}

#[test]
fn whole_screen_80x24() {
    let mut app = app_as(OWNER);
    insta::assert_snapshot!(render(&mut app, 80, 24));
}

#[test]
fn whole_screen_120x40_editor_focused() {
    let mut app = app_as(PRIVACY);
    key(&mut app, KeyCode::Char('2'));
    insta::assert_snapshot!(render(&mut app, 120, 40));
}

#[test]
fn register_with_objections() {
    let mut app = app_as(PRIVACY);
    key(&mut app, KeyCode::Char('r'));
    key(&mut app, KeyCode::Enter); // expand the thread of the first one
    insta::assert_snapshot!(render(&mut app, 120, 36));
}

#[test]
fn register_all_objections_80x24() {
    let mut app = app_as(LEGAL);
    key(&mut app, KeyCode::Char('r'));
    key(&mut app, KeyCode::Char('f'));
    insta::assert_snapshot!(render(&mut app, 80, 24));
}

#[test]
fn read_only_editor_for_observer() {
    let mut app = app_as(OBSERVER);
    key(&mut app, KeyCode::Char('2'));
    key(&mut app, KeyCode::Char('i'));
    let screen = render(&mut app, 100, 24);
    assert!(screen.contains("read-only: observer"), "{screen}");
    assert!(app.room.outbox.queue.is_empty());
    insta::assert_snapshot!(screen);
}

#[test]
fn gated_annex_for_reviewer_without_access() {
    let mut app = app_as(PRIVACY);
    key(&mut app, KeyCode::Char('a'));
    key(&mut app, KeyCode::Enter); // A1: tenant identifiers, owner only
    assert!(app.room.outbox.queue.is_empty(), "no view_annex request without access: {:?}", app.room.outbox.queue);
    let screen = render(&mut app, 120, 30);
    assert!(screen.contains("RESTRICTED"), "{screen}");
    assert!(screen.contains("tenant-identifiers"));
    insta::assert_snapshot!(screen);
}

#[test]
fn granted_annex_shows_content_and_logged_banner() {
    let mut app = app_as(OWNER);
    key(&mut app, KeyCode::Char('a'));
    key(&mut app, KeyCode::Enter);
    let tag = tag_of(&app, |p| matches!(p, Pending::ViewAnnex(_)));
    let content = AnnexContent {
        annex: AnnexId(uid(ANNEX_A1)),
        code: "A1".into(),
        title: "Full tenant identifiers".into(),
        classification: "tenant-identifiers".into(),
        content: "Northwind: tenant 7f3a-0091\nContoso: tenant 22be-1440".into(),
        logged: true,
    };
    app.on_net(NetEvent::Reply { tag, result: Ok(serde_json::to_value(&content).expect("json")) });
    let screen = render(&mut app, 120, 30);
    assert!(screen.contains("This view is logged"), "{screen}");
    assert!(screen.contains("tenant 7f3a-0091"));
    insta::assert_snapshot!(screen);
}

fn app_with_history() -> App {
    let mut app = app_as(OWNER);
    let body = common::SECTIONS[0].1.to_string();
    let edited =
        body.replace("under ten minutes", "about nine minutes").replace("Only one other", "At least one other");
    let ev = remote_edit(&app, 0, &body, &edited);
    app.on_net(NetEvent::Frame(ServerFrame::Event { room: app.room.id.expect("room"), rev: Box::new(ev) }));
    let edited2 = format!("{edited}\n\n[verified: SL-0140] Access was revoked at 09:40.");
    let ev2 = remote_edit(&app, 0, &edited, &edited2);
    app.on_net(NetEvent::Frame(ServerFrame::Event { room: app.room.id.expect("room"), rev: Box::new(ev2) }));
    app.status.notices.clear();
    app
}

#[test]
fn diff_unified() {
    let mut app = app_with_history();
    key(&mut app, KeyCode::Char('d'));
    let screen = render(&mut app, 110, 30);
    assert!(screen.contains("about nine minutes"), "{screen}");
    insta::assert_snapshot!(screen);
}

#[test]
fn diff_side_by_side() {
    let mut app = app_with_history();
    key(&mut app, KeyCode::Char('d'));
    key(&mut app, KeyCode::Char('s'));
    insta::assert_snapshot!(render(&mut app, 140, 30));
}

#[test]
fn diff_between_revisions_whole_packet() {
    let mut app = app_with_history();
    key(&mut app, KeyCode::Char('D'));
    key(&mut app, KeyCode::Char('b'));
    let screen = render(&mut app, 110, 24);
    assert!(screen.contains("rev 13 → rev 14"), "{screen}");
    insta::assert_snapshot!(screen);
}

#[test]
fn readiness_dialog_with_blockers() {
    let mut app = app_as(OWNER);
    key(&mut app, KeyCode::Char('R'));
    let screen = render(&mut app, 110, 32);
    assert!(screen.contains("Blockers (2)"), "{screen}");
    insta::assert_snapshot!(screen);
}

#[test]
fn readiness_dialog_confirm_release() {
    let mut st = room_state();
    st.objections.clear();
    st.sections[0].body = "[verified: TL-0412] Session S-19 opened at 09:14.".into();
    st.content_revision = 11;
    let mut app = app_with(OWNER, st);
    key(&mut app, KeyCode::Char('R'));
    key(&mut app, KeyCode::Char('2'));
    key(&mut app, KeyCode::Enter);
    let screen = render(&mut app, 110, 30);
    assert!(screen.contains("RELEASE packet rev 11 to product-security · lane-reviewers"), "{screen}");
    insta::assert_snapshot!(screen);
}

#[test]
fn cosign_dialog_shows_lane_and_audience() {
    let mut app = app_as(PRIVACY);
    key(&mut app, KeyCode::Char('S'));
    let ask = app
        .room
        .outbox
        .queue
        .iter()
        .find(|o| matches!(o.request, Request::Readiness { .. }))
        .expect("asks for the hash")
        .clone();
    let mut record = trustroom_shared::readiness::readiness(app.room.replica.state.as_ref().expect("state"));
    record.content_hash = "9f2c".repeat(16);
    app.on_net(NetEvent::Reply { tag: ask.tag, result: Ok(serde_json::to_value(&record).expect("json")) });
    key(&mut app, KeyCode::Tab);
    let screen = render(&mut app, 110, 30);
    assert!(screen.contains("for lane privacy · audience lane-and-leads"), "{screen}");
    insta::assert_snapshot!(screen);
}

#[test]
fn disconnected_banner_keeps_edits() {
    let mut app = app_as(OWNER);
    key(&mut app, KeyCode::Char('i'));
    typ(&mut app, "Draft: ");
    app.on_net(NetEvent::Disconnected {
        reason: "connection lost".into(),
        retry_in: std::time::Duration::from_secs(4),
        attempt: 2,
    });
    let screen = render(&mut app, 100, 24);
    assert!(screen.contains("DISCONNECTED"), "{screen}");
    assert!(screen.contains("Draft: "), "local text stays: {screen}");
    // The countdown depends on the clock: normalise it.
    let mut screen = screen;
    for n in 0..=9 {
        screen = screen.replace(&format!("reconnecting in {n}s"), "reconnecting in Ns");
    }
    insta::assert_snapshot!(screen);
}

#[test]
fn help_overlay_shows_owner_keys_disabled_and_join_commands() {
    let mut app = app_as(PRIVACY);
    key(&mut app, KeyCode::Char('?'));
    let screen = render(&mut app, 100, 40);
    assert!(screen.contains("(owner only)"), "{screen}");
    assert!(screen.contains("trustroom connect --url"), "{screen}");
    insta::assert_snapshot!(screen);
}

#[test]
fn palette_filters_commands() {
    let mut app = app_as(PRIVACY);
    key(&mut app, KeyCode::Char(':'));
    typ(&mut app, "rel");
    insta::assert_snapshot!(render(&mut app, 90, 24));
}

#[test]
fn objection_form_with_quote() {
    let mut app = app_as(PRIVACY);
    key(&mut app, KeyCode::Char('2'));
    // Select "Only one" on line 5 with shift-arrows.
    for _ in 0..4 {
        key(&mut app, KeyCode::Down);
    }
    for _ in 0..17 {
        key(&mut app, KeyCode::Right);
    }
    for _ in 0..8 {
        app.on_key(crossterm::event::KeyEvent::new(KeyCode::Right, crossterm::event::KeyModifiers::SHIFT));
    }
    key(&mut app, KeyCode::Char('o'));
    typ(&mut app, "Two contexts were loaded");
    insta::assert_snapshot!(render(&mut app, 90, 24));
}

#[test]
fn remote_cursors_and_editors_in_section_list() {
    let mut app = app_as(OWNER);
    let room = app.room.id.expect("room");
    for (n, (u, name, pos)) in
        [(PRIVACY, "priya.natarajan", 40usize), (LEGAL, "daniel.okafor", 130)].into_iter().enumerate()
    {
        let p = presence(u, name, OTHER_CLIENT + n as u128, 0, pos, 12);
        app.on_net(NetEvent::Frame(ServerFrame::Presence { room, presence: p }));
    }
    let screen = render(&mut app, 120, 24);
    assert!(screen.contains("priya L3"), "{screen}");
    assert!(screen.contains("daniel"), "{screen}");
    insta::assert_snapshot!(screen);
}

#[test]
fn escalated_room_is_read_only_with_banner() {
    let mut st = room_state();
    st.release = ReleaseState::Escalated {
        reason: "possible second tenant".into(),
        by: trustroom_shared::UserId(uid(OWNER)),
        at_ms: 0,
    };
    let mut app = app_with(PRIVACY, st);
    let screen = render(&mut app, 100, 24);
    assert!(screen.contains("ESCALATED"), "{screen}");
    assert!(screen.contains("read-only: escalated"), "{screen}");
    insta::assert_snapshot!(screen);
}

#[test]
fn a_superseded_release_names_both_revisions_in_the_status_bar() {
    let mut st = room_state();
    let owner = trustroom_shared::UserId(uid(OWNER));
    let lane = trustroom_shared::release::Lane::Privacy;
    st.release = ReleaseState::Released { revision: 9, content_hash: "h".into(), lane, by: owner, at_ms: 0 };
    st.last_release = Some(trustroom_shared::release::LastRelease {
        revision: 9,
        content_hash: "h".into(),
        lane,
        by: owner,
        at_ms: 0,
        release_revision: 10,
        superseded_at: None,
        holds_since: 0,
        trace_since: 0,
    });
    let mut app = app_with(PRIVACY, st.clone());
    let screen = render(&mut app, 140, 24);
    assert!(screen.contains("RELEASED rev 9 "), "{screen}");
    assert!(!screen.contains("superseded"), "{screen}");
    if let Some(last) = st.last_release.as_mut() {
        last.superseded_at = Some(12);
    }
    let mut app = app_with(PRIVACY, st);
    let screen = render(&mut app, 140, 24);
    assert!(screen.contains("RELEASED rev 9 — superseded at rev 12"), "{screen}");
}

#[test]
fn waiting_screen_before_snapshot() {
    let mut app = App::new(
        "room".into(),
        Vec::new(),
        tui::theme::Theme::new(false, true),
        trustroom_shared::ClientId(uid(MY_CLIENT)),
    );
    insta::assert_snapshot!(render(&mut app, 80, 24));
}

#[test]
fn status_bar_shows_release_state_for_everyone() {
    let mut app = app_as(PRIVACY);
    let room = app.room.id.expect("room");
    let rev = trustroom_shared::change::Revision {
        revision: 13,
        author: trustroom_shared::UserId(uid(OWNER)),
        at_ms: 0,
        client: None,
        change: trustroom_shared::change::Change::ReleaseChanged {
            release: ReleaseState::Held {
                reasons: vec!["waiting for trace keeper".into()],
                by: trustroom_shared::UserId(uid(OWNER)),
                at_ms: 0,
            },
        },
    };
    app.on_net(NetEvent::Frame(ServerFrame::Event { room, rev: Box::new(rev) }));
    let screen = render(&mut app, 120, 24);
    assert!(screen.contains("HELD"), "{screen}");
    assert!(screen.contains("rev 13"), "{screen}");
    assert!(screen.contains("waiting for trace keeper"), "{screen}");
}

#[test]
fn no_color_theme_renders_without_colours() {
    let mut app = app_as(OWNER);
    app.refresh();
    let mut term = ratatui::Terminal::new(ratatui::backend::TestBackend::new(80, 24)).expect("terminal");
    term.draw(|f| tui::ui::draw(&app, f)).expect("draw");
    let buf = term.backend().buffer();
    for cell in buf.content() {
        assert_eq!(cell.fg, ratatui::style::Color::Reset, "colour used with NO_COLOR");
        assert_eq!(cell.bg, ratatui::style::Color::Reset, "colour used with NO_COLOR");
    }
}

#[test]
fn tiny_terminals_do_not_panic() {
    for (w, h) in [(10u16, 4u16), (4, 2), (1, 1), (30, 5), (15, 6), (80, 3)] {
        let mut app = app_as(OWNER);
        render(&mut app, w, h);
        key(&mut app, KeyCode::Char('r'));
        key(&mut app, KeyCode::Char('a'));
        render(&mut app, w, h);
        key(&mut app, KeyCode::Char('R'));
        render(&mut app, w, h);
        key(&mut app, KeyCode::Esc);
        key(&mut app, KeyCode::Char('?'));
        render(&mut app, w, h);
        key(&mut app, KeyCode::Esc);
        key(&mut app, KeyCode::Char('d'));
        render(&mut app, w, h);
        key(&mut app, KeyCode::Char('s'));
        render(&mut app, w, h);
        key(&mut app, KeyCode::Esc);
        key(&mut app, KeyCode::Char(':'));
        render(&mut app, w, h);
        key(&mut app, KeyCode::Esc);
        key(&mut app, KeyCode::Char('o'));
        render(&mut app, w, h);
    }
}

#[test]
fn labels_evidence_and_remote_cursors_are_coloured() {
    use ratatui::style::{Color, Modifier};
    let mut app = app_as(OWNER);
    app.theme = tui::theme::Theme::new(true, false);
    let room = app.room.id.expect("room");
    let p = presence(PRIVACY, "priya.natarajan", OTHER_CLIENT, 0, 2, 12);
    app.on_net(NetEvent::Frame(ServerFrame::Presence { room, presence: p }));
    app.refresh();
    let mut term = ratatui::Terminal::new(ratatui::backend::TestBackend::new(120, 24)).expect("terminal");
    term.draw(|f| tui::ui::draw(&app, f)).expect("draw");
    let buf = term.backend().buffer().clone();
    let find = |needle: &str| -> (u16, u16) {
        for y in 0..buf.area.height {
            let row: String = (0..buf.area.width).map(|x| buf[(x, y)].symbol().to_string()).collect();
            if let Some(i) = row.find(needle) {
                return (row[..i].chars().count() as u16, y);
            }
        }
        panic!("{needle} not on screen");
    };
    let (x, y) = find("[verified:");
    assert_eq!(buf[(x, y)].fg, Color::Green, "verified label is green");
    let (x, y) = find("TL-0412");
    assert!(buf[(x, y)].modifier.contains(Modifier::UNDERLINED), "evidence reference underlined");
    let (x, y) = find("[contested:");
    assert_eq!(buf[(x, y)].fg, Color::Yellow, "contested label is yellow");
    // Priya's cursor sits on the third char of the heading, in her colour.
    let (x, y) = find("# What happened");
    let cell = &buf[(x + 2, y)];
    assert_ne!(cell.bg, Color::Reset, "remote cursor cell is coloured");
    let (_, fy) = find("◂priya");
    assert_eq!(fy, y, "her name flag is on her line");
}

#[test]
fn a_finding_from_downstream_is_marked_in_the_register() {
    use trustroom_shared::downstream::{FindingKind, FoundDownstream};
    let mut state = room_state();
    let first = state.objections.values().map(|o| o.id).min().expect("the fixture has objections");
    if let Some(o) = state.objections.get_mut(&first) {
        o.found_downstream = Some(FoundDownstream {
            manifest_hash: "9f2c".repeat(16),
            release_revision: 33,
            lane: trustroom_shared::release::Lane::Privacy,
            finding: FindingKind::StaleChronology,
        });
    }
    let mut app = app_with(OWNER, state);
    key(&mut app, KeyCode::Char('r'));
    let screen = render(&mut app, 120, 36);
    assert!(screen.contains("FOUND DOWNSTREAM"), "{screen}");
    // The line under it names the lane, the kind and the release (truncated to the pane).
    assert!(screen.contains("found downstream (privacy, stale-ch"), "{screen}");
}

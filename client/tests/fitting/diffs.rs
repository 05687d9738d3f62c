//! Long paragraphs in every diff view: wrapped, never past the right edge.

use crossterm::event::KeyCode;
use ratatui::style::Modifier;
use trustroom_shared::ot::TextOp;
use trustroom_shared::protocol::ServerFrame;
use trustroom_shared::role::{AgentRole, Role};
use trustroom_shared::suggestion::{Proposal, Suggestion, SuggestionStatus};
use trustroom_shared::{SuggestionId, UserId};

use super::common::*;
use super::render_marked;
use super::session::connection::NetEvent;
use super::tui::app::{App, Screen};

/// One paragraph, one line of the section, about 380 characters long.
const LONG: &str = "[verified: SL-0088, SL-0091, SL-0104] At 09:14 UTC a support engineer started \
privileged remote session S-19 for Northwind Freight with elevated tenant-switch scope; at 09:17 the \
session rendered the customer-list view of a second tenant after a cached tenant context was reused, \
and the view stayed on screen for roughly 11 minutes until the engineer noticed the wrong tenant \
banner and ended the session at 09:28.";

/// The body before and after: one edit past column 80 of the paragraph,
/// one at its very end.
fn bodies() -> (String, String) {
    let before = format!("# What happened\n\n{LONG}\n\nThe exposure lasted under ten minutes.");
    let after = before.replace("cached tenant context", "stale tenant context").replace("at 09:28.", "at 09:29.");
    (before, after)
}

/// The owner, after someone else edited the long paragraph.
fn app_after_remote_edit() -> App {
    let (before, after) = bodies();
    let mut st = room_state();
    st.sections[0].body = before.clone();
    let mut app = app_with(OWNER, st);
    let ev = remote_edit(&app, 0, &before, &after);
    app.on_net(NetEvent::Frame(ServerFrame::Event { room: app.room.id.expect("room"), rev: Box::new(ev) }));
    app.status.notices.clear();
    app
}

/// Both edits are on screen, with their words emphasised.
fn assert_both_edits_visible(app: &mut App, w: u16, h: u16) -> String {
    let (screen, reversed) = render_marked(app, w, h, Modifier::REVERSED);
    for word in ["cached", "stale", "09:28.", "09:29."] {
        assert!(screen.contains(word), "{word} is not on the {w}×{h} screen:\n{screen}");
    }
    let emphasised: String = reversed.concat();
    for word in ["cached", "stale", "28", "29"] {
        assert!(emphasised.contains(word), "{word} is not emphasised ({emphasised:?}):\n{screen}");
    }
    assert!(!emphasised.contains("Northwind"), "unchanged words are not emphasised: {emphasised:?}");
    screen
}

#[test]
fn a_long_paragraph_diff_wraps_unified_and_side_by_side_at_80x24() {
    let mut app = app_after_remote_edit();
    key(&mut app, KeyCode::Char('d'));
    let screen = assert_both_edits_visible(&mut app, 80, 24);
    insta::assert_snapshot!("unified_80x24", screen);
    key(&mut app, KeyCode::Char('s'));
    let screen = assert_both_edits_visible(&mut app, 80, 24);
    insta::assert_snapshot!("side_by_side_80x24", screen);
}

#[test]
fn a_long_paragraph_diff_wraps_unified_and_side_by_side_at_140x45() {
    let mut app = app_after_remote_edit();
    key(&mut app, KeyCode::Char('d'));
    let screen = assert_both_edits_visible(&mut app, 140, 45);
    insta::assert_snapshot!("unified_140x45", screen);
    key(&mut app, KeyCode::Char('s'));
    let screen = assert_both_edits_visible(&mut app, 140, 45);
    insta::assert_snapshot!("side_by_side_140x45", screen);
}

/// The packet's every section gets the long paragraph, edited: taller
/// than any screen.
fn app_with_a_tall_diff() -> App {
    let (before, after) = bodies();
    let mut st = room_state();
    for s in &mut st.sections {
        s.body = before.clone();
    }
    let mut app = app_with(OWNER, st);
    for i in 0..5 {
        let ev = remote_edit(&app, i, &before, &after);
        app.on_net(NetEvent::Frame(ServerFrame::Event { room: app.room.id.expect("room"), rev: Box::new(ev) }));
    }
    app.status.notices.clear();
    app
}

#[test]
fn a_diff_taller_than_the_screen_scrolls_by_screen_line_to_its_last_line() {
    let mut app = app_with_a_tall_diff();
    key(&mut app, KeyCode::Char('D'));
    key(&mut app, KeyCode::Char('s'));
    let screen = render(&mut app, 80, 24);
    let Some(Screen::Diff(d)) = &app.screen else { panic!("no diff open:\n{screen}") };
    let total = d.view.line_count(78);
    assert!(total > 20, "{total} lines:\n{screen}");
    assert!(screen.contains(&format!(" 1–20 of {total} ")), "where we are:\n{screen}");
    key(&mut app, KeyCode::Char('j'));
    assert!(render(&mut app, 80, 24).contains(&format!(" 2–21 of {total} ")));
    key(&mut app, KeyCode::Char('G'));
    let screen = render(&mut app, 80, 24);
    assert!(screen.contains(&format!(" {}–{total} of {total} ", total - 19)), "the last page:\n{screen}");
    // The last section's edit at the paragraph's end is on the last page.
    assert!(screen.contains("09:29."), "{screen}");
    insta::assert_snapshot!("tall_side_by_side_at_the_end_80x24", screen);
    key(&mut app, KeyCode::Char('j'));
    assert!(render(&mut app, 80, 24).contains(&format!(" {}–{total} of {total} ", total - 19)), "stops there");
    key(&mut app, KeyCode::Char('g'));
    assert!(render(&mut app, 80, 24).contains(&format!(" 1–20 of {total} ")));
}

fn suggestion_on_the_long_paragraph() -> trustroom_shared::room::RoomState {
    let (before, after) = bodies();
    let mut st = room_state();
    st.sections[0].body = before.clone();
    let s = Suggestion {
        id: SuggestionId(uid(0x701)),
        number: 1,
        proposer: UserId(uid(AGENT)),
        proposer_role: Role::Agent { agent_role: AgentRole::Chronology },
        proposal: Proposal::Edit { section: section_id(0), op: TextOp::from_texts(&before, &after) },
        rationale: "SL-0104 records the end of session S-19 at 09:29; the context was stale, not cached.".into(),
        evidence: vec!["SL-0104".into()],
        status: SuggestionStatus::Open,
        flags: Vec::new(),
        proposed_revision: 12,
        revision: 12,
        conflict: None,
        decision: None,
        at_ms: 1_700_000_000_000,
    };
    st.suggestions.suggestions.insert(s.id, s);
    st
}

#[test]
fn a_suggestions_diff_wraps_the_long_paragraph_with_its_changed_words_emphasised() {
    let mut app = app_with(OWNER, suggestion_on_the_long_paragraph());
    key(&mut app, KeyCode::Char('u'));
    key(&mut app, KeyCode::Char('i'));
    let screen = assert_both_edits_visible(&mut app, 140, 45);
    insta::assert_snapshot!("suggestion_diff_140x45", screen);
    // At 80×24 the detail column is narrow: the change wraps onto more
    // lines than fit, and scrolling brings the rest.
    let (screen, reversed) = render_marked(&mut app, 80, 24, Modifier::REVERSED);
    assert!(screen.contains("cached") && reversed.concat().contains("cached"), "{screen}");
    insta::assert_snapshot!("suggestion_diff_80x24", screen);
    key(&mut app, KeyCode::PageDown);
    key(&mut app, KeyCode::PageDown);
    let (screen, reversed) = render_marked(&mut app, 80, 24, Modifier::REVERSED);
    assert!(screen.contains("09:29.") && reversed.concat().contains("stale"), "{screen}");
    insta::assert_snapshot!("suggestion_diff_80x24_scrolled", screen);
}

//! Behaviour of the TUI's state machine driven by synthetic keys and
//! server frames: what is sent, how acks, remote edits, gaps, reconnects
//! and refusals are handled. No terminal, no network.
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
use trustroom_shared::change::{Change, ClientStamp, Revision};
use trustroom_shared::objection::ObjectionStatus;
use trustroom_shared::ot::{OpLimits, TextOp};
use trustroom_shared::protocol::{ErrorCode, Request, ServerFrame};
use trustroom_shared::release::{Audience, Cosignature, Lane, ReleasePolicy, ReleaseState};
use trustroom_shared::role::Discipline;
use trustroom_shared::{ClientId, UserId};
use tui::app::{App, ConnState, Pending};

fn edits(app: &App) -> Vec<(u64, u64, TextOp)> {
    app.outbox
        .iter()
        .filter_map(|o| match &o.request {
            Request::Edit { base, op, seq, .. } => {
                Some((*base, seq.unwrap_or(0), TextOp::from_wire(op, OpLimits::default()).expect("valid op")))
            }
            _ => None,
        })
        .collect()
}

fn ev(app: &mut App, rev: Revision) {
    let room = app.room.expect("room");
    app.on_net(NetEvent::Frame(ServerFrame::Event { room, rev: Box::new(rev) }));
}

/// The event the server sends back for our own edit.
fn own_ack(app: &App, base_text: &str, op: &TextOp, seq: u64) -> Revision {
    let _ = base_text;
    Revision {
        revision: app.replica.state.as_ref().map_or(0, |s| s.revision) + 1,
        author: UserId(uid(OWNER)),
        at_ms: 0,
        client: Some(ClientStamp { client: ClientId(uid(MY_CLIENT)), seq }),
        change: Change::SectionEdited { section: section_id(0), op: op.clone() },
    }
}

/// A release decision was sent.
fn decided(app: &App) -> bool {
    app.outbox.iter().any(|o| matches!(o.request, Request::MarkReady { .. } | Request::Release { .. }))
}

fn body(app: &App) -> String {
    app.docs.get(&section_id(0)).expect("doc").text.clone()
}

#[test]
fn typing_sends_one_op_in_flight_then_the_buffer_after_the_ack() {
    let mut app = app_as(OWNER);
    let original = body(&app);
    key(&mut app, KeyCode::Char('i'));
    typ(&mut app, "AB");
    assert_eq!(app.editor.text(), format!("AB{original}"));
    let sent = edits(&app);
    assert_eq!(sent.len(), 1, "one op in flight: {sent:?}");
    let (base, seq, op) = sent[0].clone();
    assert_eq!(base, 12);
    assert_eq!(op.apply(&original).expect("applies"), format!("A{original}"));
    app.outbox.clear();
    let a = own_ack(&app, &original, &op, seq);
    ev(&mut app, a);
    let sent = edits(&app);
    assert_eq!(sent.len(), 1, "buffer sent after ack");
    assert_eq!(sent[0].0, 13, "buffer based on the ack's revision");
    assert_eq!(app.replica.state.as_ref().expect("state").sections[0].body, format!("A{original}"));
}

#[test]
fn remote_edit_moves_our_cursor_and_keeps_our_pending_text() {
    let mut app = app_as(OWNER);
    let original = body(&app);
    key(&mut app, KeyCode::Char('2'));
    key(&mut app, KeyCode::Down);
    key(&mut app, KeyCode::Down); // line 3, col 0: offset 17
    let before = app.editor.cursor_index();
    key(&mut app, KeyCode::Char('i'));
    typ(&mut app, "X");
    // Someone else inserts 5 chars at the very start (server text).
    let remote = remote_edit(&app, 0, &original, &format!("NOTE {original}"));
    ev(&mut app, remote);
    assert_eq!(app.editor.text(), body(&app));
    assert!(app.editor.text().starts_with("NOTE # What happened"));
    assert!(app.editor.text().contains("X[verified"));
    assert_eq!(app.editor.cursor_index(), before + 1 + 5, "cursor moved right by their insert");
}

#[test]
fn undo_reverts_only_our_own_edit() {
    let mut app = app_as(OWNER);
    let original = body(&app);
    key(&mut app, KeyCode::Char('i'));
    typ(&mut app, "mine ");
    let (_, seq, op) = edits(&app)[0].clone();
    app.outbox.clear();
    let a = own_ack(&app, &original, &op, seq);
    ev(&mut app, a);
    let (_, seq2, op2) = edits(&app)[0].clone();
    let server = app.replica.state.as_ref().expect("state").sections[0].body.clone();
    app.outbox.clear();
    let a = own_ack(&app, &server, &op2, seq2);
    ev(&mut app, a);
    let server = app.replica.state.as_ref().expect("state").sections[0].body.clone();
    assert!(server.starts_with("mine "));
    let theirs = format!("{server}\n\nTheirs.");
    let r = remote_edit(&app, 0, &server, &theirs);
    ev(&mut app, r);
    key(&mut app, KeyCode::Esc);
    tui::app::App::run_action(&mut app, tui::actions::Action::Undo);
    assert_eq!(app.editor.text(), format!("{original}\n\nTheirs."));
    assert_eq!(edits(&app).len(), 1, "the undo is sent as an edit");
}

#[test]
fn a_gap_in_revisions_triggers_a_resync_never_a_silent_skip() {
    let mut app = app_as(PRIVACY);
    let b0 = body(&app);
    let e13 = remote_edit(&app, 0, &b0, &format!("{b0} a"));
    let mut e14 = e13.clone();
    e14.revision = 14;
    e14.change = Change::SectionEdited {
        section: section_id(0),
        op: TextOp::from_texts(&format!("{b0} a"), &format!("{b0} ab")),
    };
    let mut e15 = e13.clone();
    e15.revision = 15;
    e15.change = Change::SectionEdited {
        section: section_id(0),
        op: TextOp::from_texts(&format!("{b0} ab"), &format!("{b0} abc")),
    };
    ev(&mut app, e15.clone()); // 13 and 14 are missing
    assert!(app.replica.resyncing);
    let join = app.outbox.iter().find(|o| matches!(o.request, Request::Join { .. })).expect("a join").clone();
    assert!(matches!(join.request, Request::Join { since: Some(12), .. }), "replay from the last revision seen");
    assert_eq!(app.replica.state.as_ref().expect("state").revision, 12, "nothing applied past the gap");
    // The replay arrives in order, then the join's answer.
    for e in [e13, e14, e15] {
        ev(&mut app, e);
    }
    app.on_net(NetEvent::Reply { tag: join.tag, result: Ok(json!({"revision": 15})) });
    assert!(!app.replica.resyncing);
    assert_eq!(app.replica.state.as_ref().expect("state").revision, 15);
    assert_eq!(body(&app), format!("{b0} abc"));
}

#[test]
fn an_event_that_does_not_apply_asks_for_a_snapshot() {
    let mut app = app_as(PRIVACY);
    let bad = remote_edit(&app, 0, "not the section text", "x");
    ev(&mut app, bad);
    assert!(app.outbox.iter().any(|o| matches!(o.request, Request::Join { since: None, .. })));
}

#[test]
fn reconnect_rejoins_since_last_revision_and_resends_the_same_seq() {
    let mut app = app_as(OWNER);
    key(&mut app, KeyCode::Char('i'));
    typ(&mut app, "Z");
    let (_, seq, _) = edits(&app)[0].clone();
    let tag = app.outbox[0].tag;
    app.outbox.clear();
    app.on_net(NetEvent::Reply { tag, result: Err(session::RequestError::Disconnected) });
    app.on_net(NetEvent::Disconnected {
        reason: "connection lost".into(),
        retry_in: std::time::Duration::from_millis(300),
        attempt: 1,
    });
    assert!(matches!(app.conn, ConnState::Disconnected { .. }));
    assert!(body(&app).starts_with('Z'), "local edit kept while offline");
    app.on_net(NetEvent::Connected {
        user: UserId(uid(OWNER)),
        name: "morgan.hale".into(),
        client: ClientId(uid(MY_CLIENT)),
    });
    let join = app.outbox.iter().find(|o| matches!(o.request, Request::Join { .. })).expect("join").clone();
    assert!(matches!(join.request, Request::Join { since: Some(12), .. }));
    app.outbox.clear();
    app.on_net(NetEvent::Reply { tag: join.tag, result: Ok(json!({"revision": 12})) });
    assert_eq!(app.conn, ConnState::Connected);
    let resent = edits(&app);
    assert_eq!(resent.len(), 1);
    assert_eq!(resent[0].1, seq, "same seq: the server deduplicates");
}

#[test]
fn snapshot_after_resync_rebases_pending_edits() {
    let mut app = app_as(OWNER);
    let original = body(&app);
    key(&mut app, KeyCode::Char('i'));
    typ(&mut app, "Q");
    // The server moved on without our edit: someone appended text.
    let mut st = room_state();
    st.sections[0].body = format!("{original} More.");
    st.revision = 20;
    app.apply_snapshot(snapshot_for(OWNER, &st));
    assert_eq!(body(&app), format!("Q{original} More."));
    assert_eq!(app.editor.text(), body(&app));
}

#[test]
fn refused_edit_resets_the_section_to_the_server_text() {
    let mut app = app_as(OWNER);
    let original = body(&app);
    key(&mut app, KeyCode::Char('i'));
    typ(&mut app, "W");
    let tag = app.outbox[0].tag;
    app.on_net(NetEvent::Reply {
        tag,
        result: Err(session::RequestError::Server { code: ErrorCode::ReadOnly, message: "escalated".into() }),
    });
    assert_eq!(body(&app), original);
    assert_eq!(app.editor.text(), original);
}

#[test]
fn a_refused_edit_keeps_the_users_text_in_a_file_it_names() {
    let mut app = app_as(OWNER);
    key(&mut app, KeyCode::Char('i'));
    typ(&mut app, "Unsent words");
    let tag = app.outbox[0].tag;
    app.on_net(NetEvent::Reply {
        tag,
        result: Err(session::RequestError::Server {
            code: ErrorCode::Forbidden,
            message: "your role (observer) may not edit".into(),
        }),
    });
    let notice =
        app.notices.iter().find(|n| n.text.contains("your unsent text is kept in")).expect("a notice names the file");
    let path = notice.text.rsplit("kept in ").next().expect("path").trim().to_string();
    let kept = std::fs::read_to_string(&path).expect("the file exists");
    let _ = std::fs::remove_file(&path);
    assert!(kept.contains("Unsent words"), "{kept}");
}

#[test]
fn an_edit_refused_for_restricted_detail_reverts_keeps_the_text_and_says_why() {
    let mut app = app_as(OWNER);
    let original = body(&app);
    key(&mut app, KeyCode::Char('i'));
    typ(&mut app, "Pasted acct-4471-NWF");
    let tag = app.outbox[0].tag;
    app.on_net(NetEvent::Reply {
        tag,
        result: Err(session::RequestError::Server {
            code: ErrorCode::Restricted,
            message: "`op` holds restricted detail; nothing was stored".into(),
        }),
    });
    assert_eq!(body(&app), original, "the refused local edit is reverted");
    assert_eq!(app.editor.text(), original);
    assert!(
        app.notices.iter().any(|n| n.text.contains("restricted annex detail") && n.text.contains("[[annex:CODE]]")),
        "the notice says why"
    );
    let notice =
        app.notices.iter().find(|n| n.text.contains("your unsent text is kept in")).expect("a notice names the file");
    let path = notice.text.rsplit("kept in ").next().expect("path").trim().to_string();
    let kept = std::fs::read_to_string(&path).expect("the file exists");
    let _ = std::fs::remove_file(&path);
    assert!(kept.contains("Pasted acct-4471-NWF"), "{kept}");
}

#[test]
fn observers_cannot_type_and_get_told_why() {
    let mut app = app_as(OBSERVER);
    key(&mut app, KeyCode::Char('2'));
    key(&mut app, KeyCode::Char('i'));
    typ(&mut app, "abc");
    assert!(edits(&app).is_empty());
    assert!(app.notices.iter().any(|n| n.text.contains("read-only: observer")));
}

#[test]
fn reviewer_raises_an_objection_from_the_register() {
    let mut app = app_as(PRIVACY);
    key(&mut app, KeyCode::Char('r'));
    key(&mut app, KeyCode::Char('n'));
    typ(&mut app, "Scope is wrong");
    ctrl(&mut app, 'b');
    key(&mut app, KeyCode::Enter);
    let obj = app.outbox.iter().find_map(|o| match &o.request {
        Request::Object { text, blocking, section, quote, .. } => {
            Some((text.clone(), *blocking, *section, quote.clone()))
        }
        _ => None,
    });
    assert_eq!(obj, Some(("Scope is wrong".to_string(), true, section_id(0), None)));
    assert!(app.overlay.is_none());
}

#[test]
fn accepted_residual_is_owner_only_and_needs_a_rationale() {
    let mut app = app_as(PRIVACY);
    key(&mut app, KeyCode::Char('r'));
    key(&mut app, KeyCode::Char('s'));
    key(&mut app, KeyCode::Down);
    key(&mut app, KeyCode::Down); // accepted-residual
    key(&mut app, KeyCode::Enter);
    assert!(app.outbox.is_empty(), "reviewers cannot accept residual");
    let mut owner = app_as(OWNER);
    key(&mut owner, KeyCode::Char('r'));
    key(&mut owner, KeyCode::Char('s'));
    key(&mut owner, KeyCode::Down);
    key(&mut owner, KeyCode::Down);
    key(&mut owner, KeyCode::Enter);
    assert!(owner.outbox.is_empty(), "rationale required");
    typ(&mut owner, "handed to legal review");
    key(&mut owner, KeyCode::Enter);
    let sent = owner.outbox.iter().find_map(|o| match &o.request {
        Request::SetObjectionStatus { status, rationale, .. } => Some((*status, rationale.clone())),
        _ => None,
    });
    assert_eq!(sent, Some((ObjectionStatus::AcceptedResidual, Some("handed to legal review".into()))));
}

#[test]
fn owner_keys_are_refused_for_others_without_a_request() {
    let mut app = app_as(PRIVACY);
    for k in ['H', 'R', 'E'] {
        key(&mut app, KeyCode::Char(k));
        assert!(app.overlay.is_none());
    }
    assert!(app.outbox.is_empty());
    assert!(app.notices.iter().any(|n| n.text.contains("owner only")));
}

#[test]
fn hold_asks_for_a_reason() {
    let mut app = app_as(OWNER);
    key(&mut app, KeyCode::Char('H'));
    key(&mut app, KeyCode::Enter);
    assert!(app.outbox.is_empty(), "empty reason refused");
    typ(&mut app, "waiting for trace keeper");
    key(&mut app, KeyCode::Enter);
    assert!(matches!(&app.outbox[0].request, Request::Hold { reason, .. } if reason == "waiting for trace keeper"));
}

#[test]
fn escalate_asks_for_a_reason_and_confirmation() {
    let mut app = app_as(OWNER);
    key(&mut app, KeyCode::Char('E'));
    typ(&mut app, "second tenant suspected");
    key(&mut app, KeyCode::Enter);
    assert!(app.outbox.is_empty(), "asks to confirm first");
    key(&mut app, KeyCode::Enter);
    assert!(matches!(&app.outbox[0].request, Request::Escalate { .. }));
}

#[test]
fn release_marks_ready_then_releases_to_the_chosen_lane() {
    let mut st = room_state();
    st.objections.clear();
    st.sections[0].body = "[verified: TL-0412] Session S-19 opened at 09:14.".into();
    let mut app = app_with(OWNER, st);
    key(&mut app, KeyCode::Char('R'));
    key(&mut app, KeyCode::Char('3'));
    key(&mut app, KeyCode::Enter);
    assert!(!decided(&app), "asks for confirmation");
    key(&mut app, KeyCode::Char('y'));
    let mark = app.outbox.iter().find(|o| matches!(o.request, Request::MarkReady { .. })).expect("mark_ready").clone();
    app.outbox.clear();
    app.on_net(NetEvent::Reply { tag: mark.tag, result: Ok(json!({"revision": 13})) });
    assert!(matches!(
        app.outbox[0].request,
        Request::Release { lane: Lane::AccountGovernance, audience: Audience::LaneReviewers, .. }
    ));
}

/// A clean room whose policy requires a privacy co-signature, signed for
/// the privacy lane up to `audience`.
fn cosigned_for_privacy(audience: Audience) -> trustroom_shared::room::RoomState {
    let mut st = room_state();
    st.objections.clear();
    st.sections[0].body = "[verified: TL-0412] Session S-19 opened at 09:14.".into();
    st.release_policy = ReleasePolicy { members: vec![], disciplines: vec![Discipline::Privacy] };
    st.cosignatures.push(Cosignature {
        user: UserId(uid(PRIVACY)),
        name: "priya.natarajan".into(),
        role: "reviewer/privacy".into(),
        discipline: Some(Discipline::Privacy),
        revision: st.content_revision,
        content_hash: "ab".repeat(32),
        lane: Some(Lane::Privacy),
        audience,
        at_ms: 0,
        voided_at: None,
    });
    st
}

#[test]
fn release_goes_to_the_chosen_audience() {
    let mut app = app_with(OWNER, cosigned_for_privacy(Audience::Organisation));
    key(&mut app, KeyCode::Char('R'));
    key(&mut app, KeyCode::Tab);
    let screen = render(&mut app, 110, 32);
    assert!(screen.contains("[x] lane-and-leads"), "{screen}");
    assert!(screen.contains("Co-signatures for privacy · lane-and-leads: met — signed by priya.natarajan"), "{screen}");
    key(&mut app, KeyCode::Enter);
    let screen = render(&mut app, 110, 32);
    assert!(screen.contains("to the privacy lane · audience lane-and-leads?"), "{screen}");
    key(&mut app, KeyCode::Char('y'));
    let mark = app.outbox.iter().find(|o| matches!(o.request, Request::MarkReady { .. })).expect("mark_ready").clone();
    app.outbox.clear();
    app.on_net(NetEvent::Reply { tag: mark.tag, result: Ok(json!({"revision": 13})) });
    assert!(matches!(
        app.outbox[0].request,
        Request::Release { lane: Lane::Privacy, audience: Audience::LaneAndLeads, .. }
    ));
}

#[test]
fn release_to_a_lane_or_audience_the_cosignatures_do_not_cover_is_disabled() {
    let mut app = app_with(OWNER, cosigned_for_privacy(Audience::LaneReviewers));
    key(&mut app, KeyCode::Char('R'));
    // Another lane: not covered.
    key(&mut app, KeyCode::Char('2'));
    let screen = render(&mut app, 110, 32);
    assert!(screen.contains("Co-signatures for product-security · lane-reviewers: missing co-signature"), "{screen}");
    assert!(screen.contains("Release to product-security · lane-reviewers is disabled"), "{screen}");
    key(&mut app, KeyCode::Enter);
    key(&mut app, KeyCode::Char('y'));
    assert!(!decided(&app), "not covered: no release");
    // The signed lane, but a wider audience than signed: not covered either.
    key(&mut app, KeyCode::Char('1'));
    key(&mut app, KeyCode::Tab);
    key(&mut app, KeyCode::Tab);
    let screen = render(&mut app, 110, 32);
    assert!(screen.contains("Co-signatures for privacy · organisation: missing"), "{screen}");
    key(&mut app, KeyCode::Enter);
    key(&mut app, KeyCode::Char('y'));
    assert!(!decided(&app), "narrower signature, wider release: no release");
    // Back to the signed scope: allowed.
    key(&mut app, KeyCode::BackTab);
    key(&mut app, KeyCode::BackTab);
    key(&mut app, KeyCode::Enter);
    key(&mut app, KeyCode::Char('y'));
    assert!(decided(&app));
}

#[test]
fn release_is_disabled_while_blockers_remain() {
    let mut app = app_as(OWNER);
    key(&mut app, KeyCode::Char('R'));
    key(&mut app, KeyCode::Enter);
    key(&mut app, KeyCode::Char('y'));
    assert!(!decided(&app));
}

#[test]
fn granted_annex_is_requested_gated_one_is_not() {
    let mut app = app_as(PRIVACY);
    key(&mut app, KeyCode::Char('a'));
    key(&mut app, KeyCode::Enter); // A1: no access
    assert!(app.outbox.is_empty());
    key(&mut app, KeyCode::Esc);
    key(&mut app, KeyCode::Down);
    key(&mut app, KeyCode::Enter); // A2: access
    assert!(matches!(app.outbox[0].request, Request::ViewAnnex { .. }));
}

#[test]
fn new_objection_by_someone_else_is_announced() {
    let mut app = app_as(OWNER);
    let mut o = app.replica.state.as_ref().expect("state").objections.values().next().expect("one").clone();
    o.id = trustroom_shared::ObjectionId(uid(0x5ff));
    o.number = 9;
    o.text = "Canary objection text".into();
    let rev = Revision {
        revision: 13,
        author: UserId(uid(PRIVACY)),
        at_ms: 0,
        client: None,
        change: Change::ObjectionRaised { objection: o },
    };
    ev(&mut app, rev);
    let n = app.notices.back().expect("a notice");
    assert!(n.text.contains("O-9") && n.text.contains("Canary objection text"), "{}", n.text);
}

#[test]
fn room_title_is_resolved_through_the_room_list() {
    let theme = tui::theme::Theme::new(false, true);
    let mut app =
        App::new("SEV-1 cross-tenant support session exposure".into(), vec![], theme, ClientId(uid(MY_CLIENT)));
    app.on_net(NetEvent::Connected {
        user: UserId(uid(OWNER)),
        name: "morgan.hale".into(),
        client: ClientId(uid(MY_CLIENT)),
    });
    let rooms = app.outbox.iter().find(|o| matches!(o.request, Request::Rooms)).expect("rooms request").clone();
    app.outbox.clear();
    let result = json!({"rooms": [{"id": uid(ROOM).to_string(), "title": "SEV-1 cross-tenant support session exposure", "role": "owner"}]});
    app.on_net(NetEvent::Reply { tag: rooms.tag, result: Ok(result) });
    assert!(matches!(app.outbox[0].request, Request::Join { since: None, .. }));
}

#[test]
fn help_lists_every_key_the_panes_handle() {
    // Every pane's help mentions its main keys; a change to event.rs that
    // adds a key should add it to keys.rs too.
    let all: String = [
        tui::keys::GLOBAL,
        tui::keys::SECTIONS,
        tui::keys::EDITOR_NORMAL,
        tui::keys::EDITOR_INSERT,
        tui::keys::REGISTER,
        tui::keys::ANNEXES,
        tui::keys::DIFF,
    ]
    .iter()
    .flat_map(|l| l.iter().map(|k| k.keys))
    .collect::<Vec<_>>()
    .join(" ");
    for k in [
        "?", ":", "Tab", "r", "a", "o", "d / D", "R", "H", "E", "n / o", "c", "s", "f", "Enter", "Esc", "Ctrl-z", "[ ]",
    ] {
        assert!(all.contains(k), "help lacks {k}");
    }
}

#[test]
fn the_readiness_dialog_takes_the_servers_record() {
    let mut app = app_as(OWNER);
    key(&mut app, KeyCode::Char('R'));
    let ask =
        app.outbox.iter().find(|o| matches!(o.request, Request::Readiness { .. })).expect("asks the server").clone();
    // The server knows an annex-boundary problem the client cannot see.
    let mut record = trustroom_shared::readiness::readiness(app.replica.state.as_ref().expect("state"));
    record.blockers.push(trustroom_shared::readiness::Blocker::AnnexBoundary {
        section: section_id(0),
        section_title: "Summary".into(),
        annex: "A1".into(),
        position: 3,
    });
    record.content_hash = "feedface".repeat(8);
    app.on_net(NetEvent::Reply { tag: ask.tag, result: Ok(serde_json::to_value(&record).expect("json")) });
    let screen = render(&mut app, 110, 32);
    assert!(screen.contains("annex A1 sensitive detail"), "{screen}");
    assert!(screen.contains("Blockers (3)"), "{screen}");
    assert!(screen.contains("3 blockers"), "status bar uses the server's count: {screen}");
}

#[test]
fn cosign_fetches_the_hash_then_confirms() {
    let mut app = app_as(PRIVACY);
    key(&mut app, KeyCode::Char('S'));
    let ask =
        app.outbox.iter().find(|o| matches!(o.request, Request::Readiness { .. })).expect("asks for the hash").clone();
    app.outbox.clear();
    let mut record = trustroom_shared::readiness::readiness(app.replica.state.as_ref().expect("state"));
    record.content_hash = "c0ffee".repeat(10);
    app.on_net(NetEvent::Reply { tag: ask.tag, result: Ok(serde_json::to_value(&record).expect("json")) });
    let screen = render(&mut app, 100, 24);
    assert!(screen.contains("Co-sign the packet"), "{screen}");
    assert!(screen.contains("for lane privacy · audience lane-reviewers"), "the default scope is shown: {screen}");
    key(&mut app, KeyCode::Char('y'));
    assert!(matches!(
        &app.outbox[0].request,
        Request::Cosign { content_hash, lane: Lane::Privacy, audience: Audience::LaneReviewers, .. }
            if content_hash == &"c0ffee".repeat(10)
    ));
}

#[test]
fn cosign_asks_for_the_lane_and_audience() {
    let mut app = app_as(PRIVACY);
    key(&mut app, KeyCode::Char('S'));
    let ask =
        app.outbox.iter().find(|o| matches!(o.request, Request::Readiness { .. })).expect("asks for the hash").clone();
    app.outbox.clear();
    let mut record = trustroom_shared::readiness::readiness(app.replica.state.as_ref().expect("state"));
    record.content_hash = "c0ffee".repeat(10);
    app.on_net(NetEvent::Reply { tag: ask.tag, result: Ok(serde_json::to_value(&record).expect("json")) });
    key(&mut app, KeyCode::Right);
    key(&mut app, KeyCode::Tab);
    let screen = render(&mut app, 120, 24);
    let rev = record.content_revision;
    assert!(
        screen.contains(&format!(
            "Co-sign packet rev {rev} (hash c0ffeec0ffee…) for lane product-security · audience lane-and-leads"
        )),
        "{screen}"
    );
    key(&mut app, KeyCode::Char('3'));
    key(&mut app, KeyCode::Up);
    key(&mut app, KeyCode::Up);
    assert!(render(&mut app, 120, 24).contains("for lane account-governance · audience organisation"));
    key(&mut app, KeyCode::Enter);
    assert!(matches!(
        &app.outbox[0].request,
        Request::Cosign { lane: Lane::AccountGovernance, audience: Audience::Organisation, .. }
    ));
}

#[test]
fn a_gated_annex_offers_an_access_request() {
    let mut app = app_as(PRIVACY);
    key(&mut app, KeyCode::Char('a'));
    key(&mut app, KeyCode::Enter); // A1: gated
    key(&mut app, KeyCode::Char('A'));
    typ(&mut app, "need the tenant ids to verify scope");
    key(&mut app, KeyCode::Enter);
    let sent = app.outbox.iter().find_map(|o| match &o.request {
        Request::RequestAccess { annexes, reason, .. } => Some((annexes.clone(), reason.clone())),
        _ => None,
    });
    assert_eq!(
        sent,
        Some((vec![trustroom_shared::AnnexId(uid(ANNEX_A1))], "need the tenant ids to verify scope".into()))
    );
}

/// The objection the app sent: (tag, seq, text).
fn objection_sent(app: &App) -> Option<(u64, u64, String)> {
    app.outbox.iter().find_map(|o| match &o.request {
        Request::Object { text, seq, .. } => Some((o.tag, seq.expect("objections carry a seq"), text.clone())),
        _ => None,
    })
}

fn reconnect(app: &mut App) {
    app.on_net(NetEvent::Disconnected {
        reason: "connection lost".into(),
        retry_in: std::time::Duration::from_millis(300),
        attempt: 1,
    });
    app.on_net(NetEvent::Connected {
        user: UserId(uid(PRIVACY)),
        name: "privacy".into(),
        client: ClientId(uid(MY_CLIENT)),
    });
    let join = app.outbox.iter().find(|o| matches!(o.request, Request::Join { .. })).expect("join").clone();
    app.outbox.clear();
    app.on_net(NetEvent::Reply { tag: join.tag, result: Ok(json!({"revision": 12})) });
}

#[test]
fn an_objection_lost_with_the_connection_is_resent_with_its_seq_after_the_rejoin() {
    let mut app = app_as(PRIVACY);
    key(&mut app, KeyCode::Char('r'));
    key(&mut app, KeyCode::Char('n'));
    typ(&mut app, "Session log shows a second tenant");
    key(&mut app, KeyCode::Enter);
    let (tag, seq, text) = objection_sent(&app).expect("objection sent");
    app.outbox.clear();
    // The socket dies before the answer: the objection is kept, not dropped.
    app.on_net(NetEvent::Reply { tag, result: Err(session::RequestError::Disconnected) });
    assert_eq!(app.unsent.len(), 1);
    assert!(app.notices.iter().any(|n| n.text.contains("objection not acknowledged yet")), "the user is told");
    assert!(!app.notices.iter().any(|n| n.text.contains("objection not raised")), "not reported as failed");
    reconnect(&mut app);
    let (tag2, seq2, text2) = objection_sent(&app).expect("re-sent after the join");
    assert_eq!((seq2, text2.as_str()), (seq, text.as_str()), "same seq and words: the server applies it once");
    assert!(app.unsent.is_empty());
    assert!(app.notices.iter().any(|n| n.text.contains("re-sent 1 unsent request")));
    // Acknowledged this time: nothing left to re-send on the next reconnect.
    app.on_net(NetEvent::Reply { tag: tag2, result: Ok(json!({"revision": 13})) });
    assert!(app.retriable.is_empty() && app.unsent.is_empty());
    reconnect(&mut app);
    assert!(objection_sent(&app).is_none(), "an acknowledged objection is never sent again");
}

#[test]
fn a_reply_made_while_offline_waits_and_a_refusal_after_reconnect_keeps_its_words() {
    let mut app = app_as(PRIVACY);
    app.on_net(NetEvent::Disconnected {
        reason: "connection lost".into(),
        retry_in: std::time::Duration::from_secs(5),
        attempt: 1,
    });
    key(&mut app, KeyCode::Char('r'));
    key(&mut app, KeyCode::Char('n'));
    typ(&mut app, "Written while offline");
    key(&mut app, KeyCode::Enter);
    let (tag, seq, _) = objection_sent(&app).expect("handed to the network task");
    app.outbox.clear();
    // The network task answers at once while it waits out its backoff.
    app.on_net(NetEvent::Reply { tag, result: Err(session::RequestError::Disconnected) });
    assert!(app.overlay.is_none() && app.unsent.len() == 1);
    reconnect(&mut app);
    let (tag2, seq2, _) = objection_sent(&app).expect("re-sent");
    assert_eq!(seq2, seq);
    // Demoted while offline: the server refuses; the words go to a file.
    app.on_net(NetEvent::Reply {
        tag: tag2,
        result: Err(session::RequestError::Server {
            code: ErrorCode::Forbidden,
            message: "your role (observer) may not object".into(),
        }),
    });
    assert!(app.notices.iter().any(|n| n.text.contains("objection not raised")));
    let notice = app
        .notices
        .iter()
        .find(|n| n.text.contains("your objection text is kept in"))
        .expect("a notice names the file");
    let path = notice.text.rsplit("kept in ").next().expect("path").trim().to_string();
    let kept = std::fs::read_to_string(&path).expect("the file exists");
    let _ = std::fs::remove_file(&path);
    assert_eq!(kept, "Written while offline");
    assert!(app.unsent.is_empty() && app.retriable.is_empty());
}

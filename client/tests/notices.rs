//! Refusals shown where the person acted, the message history, the
//! requester's own access requests on the gated pane, the duration of an
//! access request, and the demo's quit question — driven with keys and
//! server frames against the fixture room (no terminal, no network), with
//! insta snapshots of the screens.
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
use session::RequestError;
use session::connection::NetEvent;
use trustroom_shared::access::{
    AccessPolicy, AccessRequest, AccessScope, DAY_MS, Decided, HOUR_MS, MINUTE_MS, RequestAccessResult, RequestOutcome,
    RequestStatus,
};
use trustroom_shared::change::{Change, Revision};
use trustroom_shared::ids::AccessRequestId;
use trustroom_shared::objection::ObjectionKind;
use trustroom_shared::protocol::{ErrorCode, Request, ServerFrame};
use trustroom_shared::{AnnexId, UserId};
use tui::app::{App, Overlay, Screen};
use tui::pane::dialog::Dialog;
use tui::pane::status::NoticeKind;

const REQUEST: u128 = 0x701;
const OTHERS_REQUEST: u128 = 0x702;
/// 2023-11-14 22:13:20 UTC (tests read no local zone: times are UTC).
const T0: i64 = 1_700_000_000_000;

const SHORT_REASON: &str =
    "a reason of at least 10 characters is required (got 3): say why you need it, e.g. the case id";

/// Times vary from run to run: masked (same width) in snapshots.
macro_rules! snapshot {
    ($screen:expr) => {
        insta::with_settings!({ filters => vec![(r"\d\d:\d\d:\d\d", "hh:mm:ss")] }, {
            insta::assert_snapshot!($screen);
        })
    };
}

/// The reviewer on the gated annex A1, access request dialog open.
fn reviewer_asking_for_a1() -> App {
    let mut app = app_as(PRIVACY);
    key(&mut app, KeyCode::Char('a'));
    key(&mut app, KeyCode::Enter); // A1: gated for the privacy reviewer
    key(&mut app, KeyCode::Char('A'));
    assert!(matches!(&app.overlay, Some(Overlay::Dialog(d)) if matches!(**d, Dialog::Access(_))), "the dialog opens");
    app
}

/// The access request the app queued: (tag, seq, reason, duration).
fn access_sent(app: &App) -> Option<(u64, u64, String, Option<u64>)> {
    app.room.outbox.queue.iter().find_map(|o| match &o.request {
        Request::RequestAccess { reason, duration_ms, seq, .. } => {
            Some((o.tag, seq.expect("a seq"), reason.clone(), *duration_ms))
        }
        _ => None,
    })
}

fn refuse(app: &mut App, tag: u64, code: ErrorCode, message: &str) {
    app.on_net(NetEvent::Reply { tag, result: Err(RequestError::Server { code, message: message.into() }) });
}

fn access_form(app: &App) -> &tui::forms::AccessForm {
    match &app.overlay {
        Some(Overlay::Dialog(d)) => match &**d {
            Dialog::Access(f) => f,
            _ => panic!("another dialog is open"),
        },
        _ => panic!("no dialog is open"),
    }
}

fn notices(app: &App) -> Vec<String> {
    app.status.notices.iter().map(|n| n.text.clone()).collect()
}

fn request(number: u32, requester: u128, status: RequestStatus, duration_ms: u64) -> AccessRequest {
    AccessRequest {
        id: AccessRequestId(uid(if requester == PRIVACY { REQUEST } else { OTHERS_REQUEST })),
        number,
        requester: UserId(uid(requester)),
        annex: AnnexId(uid(ANNEX_A1)),
        scope: AccessScope::Read,
        reason: "CASE-88412: verify the exposure scope".into(),
        duration_ms,
        at_ms: T0,
        status,
        decided: None,
        expires_at: None,
        ended: None,
        folds: Vec::new(),
    }
}

fn event(app: &mut App, change: Change, author: u128, at_ms: i64) {
    let state = app.room.replica.state.as_ref().expect("state");
    let rev = Revision { revision: state.revision + 1, author: UserId(uid(author)), at_ms, client: None, change };
    let room = app.room.id.expect("room");
    app.on_net(NetEvent::Frame(ServerFrame::Event { room, rev: Box::new(rev) }));
}

fn reconnect(app: &mut App) {
    app.on_net(NetEvent::Disconnected {
        reason: "connection lost".into(),
        retry_in: std::time::Duration::from_millis(300),
        attempt: 1,
    });
    app.on_net(NetEvent::Connected {
        user: UserId(uid(PRIVACY)),
        name: "priya.natarajan".into(),
        client: trustroom_shared::ClientId(uid(MY_CLIENT)),
    });
    let join = app.room.outbox.queue.iter().find(|o| matches!(o.request, Request::Join { .. })).expect("join").clone();
    app.room.outbox.queue.clear();
    app.on_net(NetEvent::Reply { tag: join.tag, result: Ok(json!({"revision": 12})) });
}

// ----- 1. refusals where the person acted -----

#[test]
fn a_refused_access_request_reopens_its_dialog_with_the_servers_error_and_no_unsent_file() {
    let mut app = reviewer_asking_for_a1();
    typ(&mut app, "pls");
    key(&mut app, KeyCode::Enter);
    assert!(app.overlay.is_none(), "sent: the dialog closes");
    let (tag, _, reason, duration) = access_sent(&app).expect("the request is sent");
    assert_eq!((reason.as_str(), duration), ("pls", Some(2 * HOUR_MS)), "the room's default duration");
    app.room.outbox.queue.clear();
    refuse(&mut app, tag, ErrorCode::Invalid, SHORT_REASON);

    // The dialog is back, with the words and the server's code and message.
    let f = access_form(&app);
    assert_eq!(tui::forms::input_text(&f.text), "pls");
    assert_eq!(f.error.as_deref(), Some(format!("error[invalid]: {SHORT_REASON}").as_str()));
    assert_eq!(f.duration_ms(), 2 * HOUR_MS, "the chosen duration is kept");
    let all = notices(&app);
    assert!(
        all.iter().any(|n| n == &format!("access request refused: error[invalid]: {SHORT_REASON}")),
        "the notice names the code: {all:?}"
    );
    assert!(!all.iter().any(|n| n.contains("kept in") || n.contains("unsent")), "no unsent-file line: {all:?}");
    let refusal = app.status.notices.iter().find(|n| n.text.contains("error[invalid]")).expect("refusal");
    assert_eq!(refusal.kind, NoticeKind::Refusal);
    let screen = render(&mut app, 80, 24);
    assert!(screen.contains("error[invalid]: a reason of at least 10"), "{screen}");
    assert!(screen.contains("pls"), "{screen}");
    snapshot!(screen);

    // Fixed in place and sent again: a new request with the whole reason.
    typ(&mut app, " CASE-88412 verify the exposure scope");
    key(&mut app, KeyCode::Enter);
    let (_, _, reason, _) = access_sent(&app).expect("sent again");
    assert_eq!(reason, "pls CASE-88412 verify the exposure scope");
    assert!(app.overlay.is_none());
}

#[test]
fn a_refused_objection_comes_back_in_its_dialog_and_a_refusal_waits_for_the_open_overlay() {
    let mut app = app_as(PRIVACY);
    key(&mut app, KeyCode::Char('o'));
    typ(&mut app, "The scope claim is not supported");
    key(&mut app, KeyCode::Enter);
    let tag = app.room.outbox.queue.iter().find(|o| matches!(o.request, Request::Object { .. })).expect("sent").tag;
    app.room.outbox.queue.clear();
    // Another overlay is open when the refusal arrives: it is not replaced.
    key(&mut app, KeyCode::Char('?'));
    refuse(&mut app, tag, ErrorCode::ReadOnly, "the room is escalated: read-only");
    assert!(matches!(app.overlay, Some(Overlay::Help)), "the help stays");
    assert!(notices(&app).iter().any(|n| n.contains("objection not raised: error[read_only]")));
    key(&mut app, KeyCode::Esc);
    let Some(Overlay::Dialog(d)) = &app.overlay else { panic!("the objection dialog is back") };
    let Dialog::Objection(f) = &**d else { panic!("the objection dialog is back") };
    assert_eq!(tui::forms::input_text(&f.text), "The scope claim is not supported");
    assert_eq!(f.error.as_deref(), Some("error[read_only]: the room is escalated: read-only"));
}

#[test]
fn a_lost_connection_keeps_the_words_in_a_file_and_a_later_refusal_reopens_the_dialog() {
    let mut app = reviewer_asking_for_a1();
    typ(&mut app, "CASE-88412 verify the exposure scope");
    key(&mut app, KeyCode::Tab); // 2h → 4h
    key(&mut app, KeyCode::Enter);
    let (tag, seq, _, duration) = access_sent(&app).expect("sent");
    assert_eq!(duration, Some(4 * HOUR_MS));
    app.room.outbox.queue.clear();
    // The socket dies before the answer, the way flows/offline.rs does it.
    app.on_net(NetEvent::Reply { tag, result: Err(RequestError::Disconnected) });
    let notice = notices(&app)
        .into_iter()
        .find(|n| n.contains("your access request text is kept in"))
        .expect("the unsent-file line names the file");
    assert!(notice.starts_with("access request not acknowledged yet"), "{notice}");
    let path = notice.rsplit("kept in ").next().expect("path").trim().to_string();
    let kept = std::fs::read_to_string(&path).expect("the file exists");
    let _ = std::fs::remove_file(&path);
    assert_eq!(kept, "CASE-88412 verify the exposure scope");
    assert!(app.overlay.is_none() && app.room.outbox.unsent.len() == 1, "kept and re-sent, not given back");

    // Back online: re-sent with its seq; this time the server refuses it.
    reconnect(&mut app);
    let (tag2, seq2, _, duration2) = access_sent(&app).expect("re-sent");
    assert_eq!((seq2, duration2), (seq, Some(4 * HOUR_MS)));
    let before = notices(&app).iter().filter(|n| n.contains("kept in")).count();
    refuse(&mut app, tag2, ErrorCode::Forbidden, "your role may no longer ask for access");
    let f = access_form(&app);
    assert_eq!(tui::forms::input_text(&f.text), "CASE-88412 verify the exposure scope");
    assert_eq!(f.duration_ms(), 4 * HOUR_MS);
    assert_eq!(f.error.as_deref(), Some("error[forbidden]: your role may no longer ask for access"));
    assert_eq!(notices(&app).iter().filter(|n| n.contains("kept in")).count(), before, "no file line on a refusal");
}

// ----- 2. the message history -----

/// A room with a refusal, a room event and notices behind it.
fn app_with_history() -> App {
    let mut app = reviewer_asking_for_a1();
    typ(&mut app, "pls");
    key(&mut app, KeyCode::Enter);
    let (tag, ..) = access_sent(&app).expect("sent");
    app.room.outbox.queue.clear();
    refuse(&mut app, tag, ErrorCode::Invalid, SHORT_REASON);
    key(&mut app, KeyCode::Esc);
    let mut o = trustroom_shared::objection::Objection {
        id: trustroom_shared::ObjectionId(uid(0x5ff)),
        number: 4,
        author: UserId(uid(LEGAL)),
        anchor: trustroom_shared::objection::Anchor { section: section_id(1), statement: None, quote: None },
        kind: ObjectionKind::Wording,
        blocking: true,
        text: "\"Switched the tenant context\" hides that the engineer chose the wrong tenant.".into(),
        status: trustroom_shared::objection::ObjectionStatus::Open,
        rationale: None,
        replies: Vec::new(),
        history: Vec::new(),
        at_ms: T0,
        found_downstream: None,
    };
    o.anchor.quote = None;
    event(&mut app, Change::ObjectionRaised { objection: o }, LEGAL, T0);
    app.notify(session::room::Level::Info, "reconnecting now…");
    app
}

#[test]
fn the_message_history_lists_refusals_notices_and_room_events_newest_first() {
    let mut app = app_with_history();
    key(&mut app, KeyCode::Char('N'));
    assert!(matches!(app.screen, Some(Screen::History(_))));
    let screen = render(&mut app, 80, 24);
    let newest = screen.find("reconnecting now").expect("the notice");
    let event = screen.find("new blocking objection O-4 by daniel.okafor").expect("the room event");
    let refused = screen.find("error[invalid]").expect("the refusal");
    assert!(newest < event && event < refused, "newest first:\n{screen}");
    assert!(screen.contains("refused") && screen.contains("room"), "{screen}");
    snapshot!(screen);

    let screen = render(&mut app, 140, 45);
    assert!(screen.contains("at least 10 characters is required (got 3): say why you need it"), "whole:\n{screen}");
    assert!(screen.contains("the case id"), "wrapped, not cut:\n{screen}");
    snapshot!(screen);

    // f: refusals only; Esc closes.
    key(&mut app, KeyCode::Char('f'));
    let screen = render(&mut app, 140, 45);
    assert!(screen.contains("error[invalid]") && !screen.contains("O-4"), "{screen}");
    key(&mut app, KeyCode::Esc);
    assert!(app.screen.is_none());
}

#[test]
fn the_palette_opens_the_message_history_and_it_keeps_the_last_200() {
    let mut app = app_as(PRIVACY);
    for i in 0..250 {
        app.notify(session::room::Level::Info, format!("notice {i}"));
    }
    assert_eq!(app.status.notices.len(), 200);
    assert_eq!(app.status.notices.front().map(|n| n.text.as_str()), Some("notice 50"));
    key(&mut app, KeyCode::Char(':'));
    typ(&mut app, "messages");
    key(&mut app, KeyCode::Enter);
    assert!(matches!(app.screen, Some(Screen::History(_))), "the palette entry opens it");
    key(&mut app, KeyCode::Char('G'));
    let screen = render(&mut app, 80, 24);
    assert!(screen.contains("notice 50") && !screen.contains("notice 70"), "scrolled to the oldest:\n{screen}");
    assert!(screen.contains("notice 69"), "the last page is full:\n{screen}");
}

// ----- 3. the requester's own requests on the gated pane, live -----

#[test]
fn the_gated_pane_shows_the_requesters_pending_request_and_its_approval_live() {
    let mut app = reviewer_asking_for_a1();
    key(&mut app, KeyCode::Esc);
    // Another member's request for the same annex is never shown here.
    event(
        &mut app,
        Change::AccessRequested { request: request(1, LEGAL, RequestStatus::Requested, HOUR_MS) },
        LEGAL,
        T0,
    );
    event(
        &mut app,
        Change::AccessRequested { request: request(2, PRIVACY, RequestStatus::Requested, HOUR_MS) },
        PRIVACY,
        T0,
    );
    let screen = render(&mut app, 160, 40);
    assert!(screen.contains("R-2 · 1h · asked 22:13:20"), "{screen}");
    assert!(screen.contains("PENDING — waiting for the owner (morgan.hale)"), "{screen}");
    assert!(!screen.contains("R-1"), "not another member's request:\n{screen}");
    assert!(screen.contains("w withdraw"), "{screen}");
    insta::assert_snapshot!("gated_pane_pending", render(&mut app, 120, 30));

    // The owner approves: the pane changes at once.
    let decided = Decided { by: UserId(uid(OWNER)), note: Some("ok for the scope check".into()), at_ms: T0 + 60_000 };
    let expires_at = Some(T0 + 60_000 + HOUR_MS as i64);
    event(
        &mut app,
        Change::AccessDecided { request: AccessRequestId(uid(REQUEST)), approved: true, decided, expires_at },
        OWNER,
        T0 + 60_000,
    );
    let screen = render(&mut app, 160, 40);
    assert!(screen.contains("ACCESS GRANTED"), "{screen}");
    for line in ["APPROVED by morgan.hale at 22:14:20", "access until 23:14:20", "note: “ok for the scope check”"] {
        assert!(screen.contains(line), "{line}:\n{screen}");
    }
    assert!(screen.contains("your request R-2 for A1 was approved"), "the notice says so:\n{screen}");
    assert!(screen.contains("Enter open (logged)"), "{screen}");
    insta::assert_snapshot!("gated_pane_approved", render(&mut app, 120, 30));
    // Enter opens it (the view is asked for, and logged by the server).
    key(&mut app, KeyCode::Enter);
    assert!(app.room.outbox.queue.iter().any(|o| matches!(o.request, Request::ViewAnnex { .. })));
}

#[test]
fn a_pending_request_is_withdrawn_from_the_gated_pane_after_a_question() {
    let mut app = reviewer_asking_for_a1();
    key(&mut app, KeyCode::Esc);
    key(&mut app, KeyCode::Char('w'));
    assert!(app.overlay.is_none(), "nothing pending: nothing to withdraw");
    assert!(notices(&app).iter().any(|n| n.contains("no pending request")));
    event(
        &mut app,
        Change::AccessRequested { request: request(2, PRIVACY, RequestStatus::Requested, HOUR_MS) },
        PRIVACY,
        T0,
    );
    key(&mut app, KeyCode::Char('w'));
    assert!(render(&mut app, 100, 30).contains("Withdraw your pending request R-2 for A1?"));
    key(&mut app, KeyCode::Char('y'));
    let sent = app.room.outbox.queue.iter().find_map(|o| match &o.request {
        Request::WithdrawAccess { request, .. } => Some((o.tag, *request)),
        _ => None,
    });
    let (tag, id) = sent.expect("withdrawal sent");
    assert_eq!(id, AccessRequestId(uid(REQUEST)));
    app.on_net(NetEvent::Reply { tag, result: Ok(json!({"revision": 14})) });
    assert!(notices(&app).iter().any(|n| n == "R-2 withdrawn"));
}

// ----- 4. the duration of an access request -----

#[test]
fn the_access_request_sends_the_chosen_duration_within_the_rooms_limit() {
    let mut state = room_state();
    state.access.policy =
        AccessPolicy { default_duration_ms: HOUR_MS, max_duration_ms: 3 * HOUR_MS, ..AccessPolicy::default() };
    let mut app = app_with(PRIVACY, state);
    key(&mut app, KeyCode::Char('a'));
    key(&mut app, KeyCode::Enter);
    key(&mut app, KeyCode::Char('A'));
    assert_eq!(access_form(&app).durations, vec![15 * MINUTE_MS, HOUR_MS, 3 * HOUR_MS], "nothing above 3h");
    assert_eq!(access_form(&app).duration_ms(), HOUR_MS, "the room's default first");
    let screen = render(&mut app, 80, 24);
    assert!(screen.contains("[x] 1h") && screen.contains("grants 3h at most"), "{screen}");
    typ(&mut app, "CASE-88412 verify the exposure scope");
    key(&mut app, KeyCode::Down); // 3h
    key(&mut app, KeyCode::Down); // wraps to 15m
    key(&mut app, KeyCode::Up); // back to 3h
    key(&mut app, KeyCode::Up); // 1h
    assert_eq!(access_form(&app).duration_ms(), HOUR_MS);
    key(&mut app, KeyCode::Down);
    assert!(render(&mut app, 80, 24).contains("Enter ask for 3h"));
    key(&mut app, KeyCode::Enter);
    let (_, _, _, duration) = access_sent(&app).expect("sent");
    assert_eq!(duration, Some(3 * HOUR_MS));
}

#[test]
fn the_notice_after_an_access_request_names_who_decides_and_where_it_shows() {
    let mut app = reviewer_asking_for_a1();
    typ(&mut app, "CASE-88412 verify the exposure scope");
    key(&mut app, KeyCode::Enter);
    let (tag, ..) = access_sent(&app).expect("sent");
    let answer = RequestAccessResult {
        revision: 13,
        duplicate: false,
        requests: vec![RequestOutcome {
            annex: AnnexId(uid(ANNEX_A1)),
            annex_code: "A1".into(),
            request: AccessRequestId(uid(REQUEST)),
            code: "R-2".into(),
            outcome: "new".into(),
            status: RequestStatus::Requested,
            expires_at: None,
        }],
    };
    app.on_net(NetEvent::Reply { tag, result: Ok(serde_json::to_value(&answer).expect("json")) });
    assert_eq!(
        app.status.notices.back().map(|n| n.text.as_str()),
        Some("access requested (R-2 for A1) — the owner (morgan.hale) decides; you will see the decision on A1's pane")
    );

    // An owner's own request waits for another owner; with none, it says so.
    let mut state = room_state();
    let ines = UserId(uid(0x206));
    state.members.insert(
        ines,
        trustroom_shared::room::Member {
            user: ines,
            name: "ines.moreau".into(),
            role: trustroom_shared::role::Role::Owner,
        },
    );
    let app = app_with(OWNER, state);
    assert_eq!(
        tui::announce::deciders(&app.room, UserId(uid(OWNER))),
        "another owner (ines.moreau)",
        "never the requester"
    );
    let alone = app_as(OWNER);
    assert!(tui::announce::deciders(&alone.room, UserId(uid(OWNER))).starts_with("no other owner yet"));
}

// ----- 6. quitting the demo -----

#[test]
fn quitting_the_demo_asks_first_while_others_are_connected_naming_them() {
    let mut app = app_as(OWNER);
    app.serves_demo = true;
    let room = app.room.id.expect("room");
    for (user, name, client) in [(LEGAL, "daniel.okafor", OTHER_CLIENT), (PRIVACY, "priya.natarajan", OTHER_CLIENT + 1)]
    {
        let p = presence(user, name, client, 0, 0, 12);
        app.on_net(NetEvent::Frame(ServerFrame::Presence { room, presence: p }));
    }
    key(&mut app, KeyCode::Char('q'));
    assert!(!app.quit, "asked first");
    let screen = render(&mut app, 80, 24);
    assert!(screen.contains("2 members are connected (daniel.okafor, priya.natarajan)"), "{screen}");
    assert!(screen.contains("stops the demo server for everyone"), "{screen}");
    snapshot!(screen);
    key(&mut app, KeyCode::Char('x'));
    assert!(!app.quit && app.overlay.is_none(), "any other key stays");
    key(&mut app, KeyCode::Char('q'));
    key(&mut app, KeyCode::Char('q'));
    assert!(app.quit, "q again quits");

    // One left, then none: q quits at once.
    let mut app = app_as(OWNER);
    app.serves_demo = true;
    let p = presence(LEGAL, "daniel.okafor", OTHER_CLIENT, 0, 0, 12);
    app.on_net(NetEvent::Frame(ServerFrame::Presence { room, presence: p }));
    app.on_net(NetEvent::Frame(ServerFrame::PresenceGone {
        room,
        client: trustroom_shared::ClientId(uid(OTHER_CLIENT)),
    }));
    key(&mut app, KeyCode::Char('q'));
    assert!(app.quit, "nobody else connected");
}

#[test]
fn quitting_the_plain_tui_only_leaves() {
    let mut app = app_as(OWNER);
    let room = app.room.id.expect("room");
    let p = presence(LEGAL, "daniel.okafor", OTHER_CLIENT, 0, 0, 12);
    app.on_net(NetEvent::Frame(ServerFrame::Presence { room, presence: p }));
    key(&mut app, KeyCode::Char('q'));
    assert!(app.quit, "not the demo: q leaves, the server goes on");
}

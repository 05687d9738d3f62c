//! Render tests for annex access governance in the TUI (TestBackend +
//! insta): the owner's approvals queue and live request notification, the
//! red break-glass banner (who, why, time left), the annex pane falling
//! back to RESTRICTED when a grant ends, and failing room checks in the
//! status bar.
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
use session::connection::NetEvent;
use session::outbox::Pending;
use trustroom_shared::access::{
    AccessRequest, AccessScope, BreakGlass, Decided, EndCause, Ended, RequestStatus, SYSTEM,
};
use trustroom_shared::change::{Change, Revision};
use trustroom_shared::checks::{CheckKind, CheckResult, Violation};
use trustroom_shared::ids::{AccessRequestId, BreakGlassId};
use trustroom_shared::protocol::{AnnexContent, Request, ServerFrame};
use trustroom_shared::room::RoomState;
use trustroom_shared::{AnnexId, UserId};
use tui::app::App;
use tui::pane::annex::AnnexOpen;

const REQUEST: u128 = 0x701;
const GLASS: u128 = 0x801;

fn now_ms() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_millis() as i64)
}

fn access_request(requester: u128, annex: u128, status: RequestStatus) -> AccessRequest {
    AccessRequest {
        id: AccessRequestId(uid(REQUEST)),
        number: 1,
        requester: UserId(uid(requester)),
        annex: AnnexId(uid(annex)),
        scope: AccessScope::Read,
        reason: "CASE-88412: verify the exposure scope".into(),
        duration_ms: 2 * 3_600_000,
        at_ms: 1_700_000_000_000,
        status,
        decided: None,
        expires_at: None,
        ended: None,
        folds: Vec::new(),
    }
}

fn event(app: &App, change: Change, author: u128) -> NetEvent {
    let state = app.room.replica.state.as_ref().expect("state");
    let rev =
        Revision { revision: state.revision + 1, author: UserId(uid(author)), at_ms: now_ms(), client: None, change };
    NetEvent::Frame(ServerFrame::Event { room: app.room.id.expect("room"), rev: Box::new(rev) })
}

#[test]
fn owner_sees_a_request_live_and_decides_it_in_the_approvals_queue() {
    let mut app = app_as(OWNER);
    let request = access_request(PRIVACY, ANNEX_A1, RequestStatus::Requested);
    let ev = event(&app, Change::AccessRequested { request }, PRIVACY);
    app.on_net(ev);
    let screen = render(&mut app, 120, 30);
    assert!(screen.contains("ACCESS REQUEST R-1: priya.natarajan asks to read A1"), "{screen}");
    assert!(screen.contains("1 awaiting approval (V)"), "{screen}");
    key(&mut app, KeyCode::Char('V'));
    let screen = render(&mut app, 120, 30);
    assert!(screen.contains("Approvals"), "{screen}");
    assert!(screen.contains("R-1  priya.natarajan asks to read A1 for 2h"), "{screen}");
    insta::assert_snapshot!(screen);
    key(&mut app, KeyCode::Char('y'));
    let sent = app
        .room
        .outbox
        .queue
        .iter()
        .find(|o| matches!(o.request, Request::ApproveAccess { .. }))
        .expect("an approval was sent");
    assert!(matches!(&sent.request, Request::ApproveAccess { request, .. } if request.0 == uid(REQUEST)));
    assert!(app.room.outbox.pending.values().any(|p| matches!(p, Pending::Decide { approve: true, .. })));
}

#[test]
fn an_owners_own_request_cannot_be_approved_in_the_queue() {
    let mut state = room_state();
    let r = access_request(OWNER, ANNEX_A2, RequestStatus::Requested);
    state.access.requests.insert(r.id, r);
    let mut app = app_with(OWNER, state);
    key(&mut app, KeyCode::Char('V'));
    key(&mut app, KeyCode::Char('y'));
    assert!(
        !app.room.outbox.queue.iter().any(|o| matches!(o.request, Request::ApproveAccess { .. })),
        "{:?}",
        app.room.outbox.queue
    );
    let screen = render(&mut app, 120, 30);
    assert!(screen.contains("another owner"), "{screen}");
}

#[test]
fn break_glass_shows_a_red_banner_with_who_why_and_time_left() {
    let mut state = room_state();
    let bg = BreakGlass {
        id: BreakGlassId(uid(GLASS)),
        number: 1,
        user: UserId(uid(LEGAL)),
        annexes: vec![AnnexId(uid(ANNEX_A1))],
        reason: "SEV-1 bridge: confirm the tenant".into(),
        at_ms: now_ms() - 5 * 60_000,
        ends_at: now_ms() + 25 * 60_000 - 2_000,
        ended: None,
        review: None,
    };
    state.access.break_glass.insert(bg.id, bg);
    let mut app = app_with(OBSERVER, state);
    let screen = render(&mut app, 120, 30);
    assert!(
        screen.contains(
            "BREAK-GLASS ACTIVE: BG-1 by daniel.okafor on A1 — SEV-1 bridge: confirm the tenant (ends in 25 min)"
        ),
        "{screen}"
    );
    insta::assert_snapshot!(screen);
}

#[test]
fn when_a_grant_ends_the_open_annex_falls_back_to_restricted() {
    let mut state = room_state();
    let mut r = access_request(PRIVACY, ANNEX_A1, RequestStatus::Approved);
    r.decided = Some(Decided { by: UserId(uid(OWNER)), note: None, at_ms: now_ms() });
    r.expires_at = Some(now_ms() + 3_600_000);
    state.access.requests.insert(r.id, r);
    let mut app = app_with(PRIVACY, state);
    key(&mut app, KeyCode::Char('a'));
    key(&mut app, KeyCode::Enter);
    let tag = *app
        .room
        .outbox
        .pending
        .iter()
        .find(|(_, p)| matches!(p, Pending::ViewAnnex(_)))
        .map(|(t, _)| t)
        .expect("view sent");
    let content = AnnexContent {
        annex: AnnexId(uid(ANNEX_A1)),
        code: "A1".into(),
        title: "Full tenant identifiers".into(),
        classification: "tenant-identifiers".into(),
        content: "Northwind: tenant 7f3a-0091".into(),
        logged: true,
    };
    app.on_net(NetEvent::Reply { tag, result: Ok(serde_json::to_value(&content).expect("json")) });
    let screen = render(&mut app, 120, 30);
    assert!(screen.contains("tenant 7f3a-0091"), "{screen}");
    let ended = Ended { at_ms: now_ms(), by: SYSTEM, cause: EndCause::Expired, note: None };
    let ev = event(&app, Change::GrantEnded { grant: AccessRequestId(uid(REQUEST)), ended }, 0);
    app.on_net(ev);
    let screen = render(&mut app, 120, 30);
    assert!(!screen.contains("7f3a-0091"), "content dropped at once: {screen}");
    assert!(screen.contains("RESTRICTED"), "{screen}");
    assert!(matches!(app.annexes.open, Some(AnnexOpen::Gated(_))));
    assert!(
        screen.contains("access to the open annex ended") || screen.contains("your access to A1 ended"),
        "{screen}"
    );
    assert!(screen.contains("ENDED (expired)"), "the pane says how the grant ended: {screen}");
    // The grant's times are the test's clock: masked.
    insta::with_settings!({ filters => vec![(r"\d\d:\d\d:\d\d", "hh:mm:ss")] }, {
        insta::assert_snapshot!(screen);
    });
}

#[test]
fn a_failing_room_check_shows_in_the_status_bar() {
    let mut app = app_as(OWNER);
    let check = CheckResult {
        check: CheckKind::AnnexBoundary,
        reason: "1 annex-restricted detail(s) in the packet: \"Summary\"".into(),
        violations: vec![Violation {
            section: Some(section_id(0)),
            section_title: Some("Summary".into()),
            annex: Some("A1".into()),
            position: Some(42),
            len: Some(13),
            detail: "annex A1 sensitive detail in \"Summary\" at char 42".into(),
        }],
        covered: "c".into(),
        overridden: false,
        ready_revision: None,
    };
    let ev = event(&app, Change::ChecksEvaluated { checks: vec![check] }, 0);
    app.on_net(ev);
    let screen = render(&mut app, 140, 30);
    assert!(screen.contains("CHECK FAILING: annex boundary"), "{screen}");
    assert!(screen.contains("room check failing: annex boundary"), "{screen}");
    insta::assert_snapshot!(screen);
}

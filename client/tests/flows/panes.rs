//! Annex requests, announcements, the room list, help, the readiness and co-
//! sign dialogs.

use super::*;

#[test]
fn granted_annex_is_requested_gated_one_is_not() {
    let mut app = app_as(PRIVACY);
    key(&mut app, KeyCode::Char('a'));
    key(&mut app, KeyCode::Enter); // A1: no access
    assert!(app.room.outbox.queue.is_empty());
    key(&mut app, KeyCode::Esc);
    key(&mut app, KeyCode::Down);
    key(&mut app, KeyCode::Enter); // A2: access
    assert!(matches!(app.room.outbox.queue[0].request, Request::ViewAnnex { .. }));
}

#[test]
fn new_objection_by_someone_else_is_announced() {
    let mut app = app_as(OWNER);
    let mut o = app.room.replica.state.as_ref().expect("state").objections.values().next().expect("one").clone();
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
    let n = app.status.notices.back().expect("a notice");
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
    let rooms =
        app.room.outbox.queue.iter().find(|o| matches!(o.request, Request::Rooms)).expect("rooms request").clone();
    app.room.outbox.queue.clear();
    let result = json!({"rooms": [{"id": uid(ROOM).to_string(), "title": "SEV-1 cross-tenant support session exposure", "role": "owner"}]});
    app.on_net(NetEvent::Reply { tag: rooms.tag, result: Ok(result) });
    assert!(matches!(app.room.outbox.queue[0].request, Request::Join { since: None, .. }));
}

#[test]
fn help_lists_every_key_the_panes_handle() {
    // Every pane's help mentions its main keys; a change to a pane's keys
    // (pane/*.rs, the global keys in app.rs) should go to keys.rs too.
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
        "?", ":", "Tab", "r", "a", "o", "d / D", "R", "M", "H", "E", "G", "B", "X", "W", "n / o", "c", "s", "f",
        "Enter", "Esc", "Ctrl-z", "[ ]",
    ] {
        assert!(all.contains(k), "help lacks {k}");
    }
}

#[test]
fn the_readiness_dialog_takes_the_servers_record() {
    let mut app = app_as(OWNER);
    key(&mut app, KeyCode::Char('R'));
    let ask = app
        .room
        .outbox
        .queue
        .iter()
        .find(|o| matches!(o.request, Request::Readiness { .. }))
        .expect("asks the server")
        .clone();
    // The server knows an annex-boundary problem the client cannot see.
    let mut record = trustroom_shared::readiness::readiness(app.room.replica.state.as_ref().expect("state"));
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
    let ask = app
        .room
        .outbox
        .queue
        .iter()
        .find(|o| matches!(o.request, Request::Readiness { .. }))
        .expect("asks for the hash")
        .clone();
    app.room.outbox.queue.clear();
    let mut record = trustroom_shared::readiness::readiness(app.room.replica.state.as_ref().expect("state"));
    record.content_hash = "c0ffee".repeat(10);
    app.on_net(NetEvent::Reply { tag: ask.tag, result: Ok(serde_json::to_value(&record).expect("json")) });
    let screen = render(&mut app, 100, 24);
    assert!(screen.contains("Co-sign the packet"), "{screen}");
    assert!(screen.contains("for lane privacy · audience lane-reviewers"), "the default scope is shown: {screen}");
    key(&mut app, KeyCode::Char('y'));
    assert!(matches!(
        &app.room.outbox.queue[0].request,
        Request::Cosign { content_hash, lane: Lane::Privacy, audience: Audience::LaneReviewers, .. }
            if content_hash == &"c0ffee".repeat(10)
    ));
}

#[test]
fn cosign_asks_for_the_lane_and_audience() {
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
    app.room.outbox.queue.clear();
    let mut record = trustroom_shared::readiness::readiness(app.room.replica.state.as_ref().expect("state"));
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
        &app.room.outbox.queue[0].request,
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
    let sent = app.room.outbox.queue.iter().find_map(|o| match &o.request {
        Request::RequestAccess { annexes, reason, .. } => Some((annexes.clone(), reason.clone())),
        _ => None,
    });
    assert_eq!(
        sent,
        Some((vec![trustroom_shared::AnnexId(uid(ANNEX_A1))], "need the tenant ids to verify scope".into()))
    );
}

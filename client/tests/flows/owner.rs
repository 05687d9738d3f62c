//! The owner runs the room from the TUI alone: mark ready, release the
//! reviewed packet revision in one `release_packet` (a refusal shows the
//! server's code and message and sends nothing else; a prompt whose
//! readiness moves disarms and says what changed), revoke a grant, set and
//! end break-glass, export to a file, the manifests verified offline —
//! each from its key and the palette, refused up front for others.

use std::collections::BTreeMap;

use trustroom_shared::access::BreakGlass;
use trustroom_shared::ids::{AccessRequestId, BreakGlassId};
use trustroom_shared::objection::{Anchor, Objection, ObjectionKind};
use trustroom_shared::protocol::ExportResult;
use trustroom_shared::{AnnexId, ObjectionId};
use tui::app::Overlay;
use tui::forms::ReadinessStep;
use tui::pane::dialog::Dialog;

use super::*;

fn sent(app: &App) -> Vec<Request> {
    app.room.outbox.queue.iter().map(|o| o.request.clone()).collect()
}

fn tag_of(app: &App, pred: impl Fn(&Request) -> bool) -> u64 {
    app.room.outbox.queue.iter().find(|o| pred(&o.request)).expect("request sent").tag
}

fn readiness_form(app: &App) -> &tui::forms::ReadinessForm {
    match app.overlay.as_ref() {
        Some(Overlay::Dialog(d)) => match d.as_ref() {
            Dialog::Readiness(f) => f,
            _ => panic!("not the readiness dialog"),
        },
        _ => panic!("no dialog open"),
    }
}

fn message(app: &App) -> (String, String) {
    match app.overlay.as_ref() {
        Some(Overlay::Dialog(d)) => match d.as_ref() {
            Dialog::Message { title, text } => (title.clone(), text.clone()),
            _ => panic!("not a message"),
        },
        _ => panic!("no dialog open"),
    }
}

/// A blocking objection raised by priya, as the server's event.
fn blocking_objection_event(app: &App) -> Revision {
    let rev = app.room.replica.state.as_ref().map_or(0, |s| s.revision) + 1;
    Revision {
        revision: rev,
        author: UserId(uid(PRIVACY)),
        at_ms: 1_700_000_300_000,
        client: Some(ClientStamp { client: ClientId(uid(OTHER_CLIENT)), seq: 9 }),
        change: Change::ObjectionRaised {
            objection: Objection {
                id: ObjectionId(uid(0x5ff)),
                number: 4,
                author: UserId(uid(PRIVACY)),
                anchor: Anchor { section: section_id(0), statement: None, quote: None },
                kind: ObjectionKind::ExposureScope,
                blocking: true,
                text: "A second tenant was visible after all.".into(),
                status: ObjectionStatus::Open,
                rationale: None,
                replies: Vec::new(),
                history: Vec::new(),
                at_ms: 1_700_000_300_000,
                found_downstream: None,
            },
        },
    }
}

#[test]
fn the_stranded_sequence_disarms_the_prompt_and_y_releases_nothing() {
    let mut app = app_with(OWNER, room_state());
    // Hold, with a reason.
    key(&mut app, KeyCode::Char('H'));
    typ(&mut app, "waiting for the trace keeper");
    key(&mut app, KeyCode::Enter);
    assert!(matches!(&sent(&app)[..], [Request::Hold { .. }]), "{:?}", sent(&app));
    app.room.outbox.queue.clear();
    // The room is held and its blockers are cleared (the server's snapshot).
    let mut st = clean_room();
    st.release = ReleaseState::Held {
        reasons: vec!["waiting for the trace keeper".into()],
        by: UserId(uid(OWNER)),
        at_ms: 1_700_000_200_000,
    };
    st.revision = 13;
    take_snapshot(&mut app, snapshot_for(OWNER, &st));
    // R, Enter: the prompt is armed on packet rev 12 (room rev 13).
    key(&mut app, KeyCode::Char('R'));
    key(&mut app, KeyCode::Enter);
    assert_eq!(readiness_form(&app).step, ReadinessStep::Confirm);
    let screen = render(&mut app, 110, 32);
    assert!(screen.contains("RELEASE packet rev 12 to privacy · lane-reviewers"), "{screen}");
    // While armed, a blocking objection arrives.
    let ev_rev = blocking_objection_event(&app);
    ev(&mut app, ev_rev);
    let f = readiness_form(&app);
    assert_eq!(f.step, ReadinessStep::Review, "the prompt disarmed");
    assert!(f.armed.is_none());
    assert!(f.changed.iter().any(|c| c == "room rev 13 → 14"), "{:?}", f.changed);
    assert!(f.changed.iter().any(|c| c.starts_with("new blocker:") && c.contains("O-4")), "{:?}", f.changed);
    let screen = render(&mut app, 110, 32);
    assert!(screen.contains("Changed while you were confirming"), "{screen}");
    assert!(screen.contains("O-4"), "{screen}");
    assert!(app.status.notices.iter().any(|n| n.text.contains("readiness changed under the release prompt")));
    // `y` does not release.
    key(&mut app, KeyCode::Char('y'));
    key(&mut app, KeyCode::Enter);
    assert!(!decided(&app), "nothing released: {:?}", sent(&app));
}

#[test]
fn a_new_packet_revision_under_the_prompt_names_the_change() {
    let mut app = app_with(OWNER, clean_room());
    key(&mut app, KeyCode::Char('R'));
    key(&mut app, KeyCode::Enter);
    let edit = remote_edit(&app, 1, SECTIONS[1].1, &format!("{}\n\n[verified: SL-0103] 09:24 logged.", SECTIONS[1].1));
    ev(&mut app, edit);
    let f = readiness_form(&app);
    assert_eq!(f.step, ReadinessStep::Review);
    assert!(f.changed.iter().any(|c| c == "packet rev 12 → 13"), "{:?}", f.changed);
    assert!(f.changed.iter().any(|c| c.contains("rev 13: section \"Timeline\" edited")), "{:?}", f.changed);
    // Confirming again names the new packet revision.
    key(&mut app, KeyCode::Enter);
    let screen = render(&mut app, 110, 32);
    assert!(screen.contains("RELEASE packet rev 13 to privacy"), "{screen}");
    key(&mut app, KeyCode::Char('y'));
    assert!(
        matches!(&decisions_sent(&app)[..], [Request::ReleasePacket { packet_revision: 13, .. }]),
        "{:?}",
        sent(&app)
    );
}

#[test]
fn a_refused_release_shows_the_servers_code_and_message_and_sends_no_mark_ready() {
    let mut app = app_with(OWNER, clean_room());
    key(&mut app, KeyCode::Char('R'));
    key(&mut app, KeyCode::Enter);
    key(&mut app, KeyCode::Char('y'));
    assert!(
        matches!(&decisions_sent(&app)[..], [Request::ReleasePacket { packet_revision: 12, lane: Lane::Privacy, .. }]),
        "{:?}",
        sent(&app)
    );
    let tag = tag_of(&app, |r| matches!(r, Request::ReleasePacket { .. }));
    app.room.outbox.queue.clear();
    app.on_net(NetEvent::Reply {
        tag,
        result: Err(session::RequestError::Server {
            code: ErrorCode::Stale,
            message: "the packet changed since packet rev 12 (changed: rev 13: section \"Timeline\" edited; rev 14: objection O-4 raised (blocking))".into(),
        }),
    });
    assert!(app.room.outbox.queue.is_empty(), "no mark_ready, no retry: {:?}", sent(&app));
    let (title, text) = message(&app);
    assert_eq!(title, "release refused");
    assert!(text.starts_with("error[stale]: the packet changed since packet rev 12"), "{text}");
    assert!(
        text.contains("  • rev 13: section \"Timeline\" edited\n  • rev 14: objection O-4 raised (blocking)"),
        "{text}"
    );
    let screen = render(&mut app, 110, 32);
    assert!(screen.contains("error[stale]"), "{screen}");
    assert!(screen.contains("• rev 14: objection O-4 raised (blocking)"), "{screen}");
}

#[test]
fn the_release_result_names_the_packet_rev_and_the_room_rev() {
    let mut app = app_with(OWNER, clean_room());
    key(&mut app, KeyCode::Char('R'));
    key(&mut app, KeyCode::Enter);
    key(&mut app, KeyCode::Char('y'));
    let tag = tag_of(&app, |r| matches!(r, Request::ReleasePacket { .. }));
    app.on_net(NetEvent::Reply {
        tag,
        result: Ok(json!({
            "revision": 15, "packet_revision": 12, "content_hash": "ab".repeat(32),
            "manifest_hash": "cd".repeat(32), "lane": "privacy", "audience": "lane-reviewers", "from": "HELD"
        })),
    });
    let last = app.status.notices.back().expect("notice").text.clone();
    assert!(last.starts_with("RELEASED packet rev 12 (room rev 15) to privacy · lane-reviewers"), "{last}");
}

#[test]
fn mark_ready_sends_mark_ready_and_a_refusal_says_what_blocks() {
    let mut app = app_as(OWNER);
    key(&mut app, KeyCode::Char('M'));
    assert!(matches!(&sent(&app)[..], [Request::MarkReady { .. }]), "{:?}", sent(&app));
    let tag = tag_of(&app, |r| matches!(r, Request::MarkReady { .. }));
    app.on_net(NetEvent::Reply {
        tag,
        result: Err(session::RequestError::Server {
            code: ErrorCode::Conflict,
            message: "not ready: 1 blocker(s): O-1 is open and blocking".into(),
        }),
    });
    let (title, text) = message(&app);
    assert_eq!(title, "mark ready refused");
    assert_eq!(text, "error[conflict]: not ready: 1 blocker(s): O-1 is open and blocking");
    // From the palette too.
    let mut app = app_as(OWNER);
    key(&mut app, KeyCode::Char(':'));
    typ(&mut app, "mark ready");
    key(&mut app, KeyCode::Enter);
    assert!(matches!(&sent(&app)[..], [Request::MarkReady { .. }]), "{:?}", sent(&app));
}

#[test]
fn owner_decisions_are_refused_up_front_for_others_and_disabled_in_the_palette() {
    let mut app = app_as(PRIVACY);
    for k in ['M', 'G'] {
        key(&mut app, KeyCode::Char(k));
        assert!(app.overlay.is_none());
    }
    assert!(app.room.outbox.queue.is_empty());
    assert!(app.status.notices.iter().any(|n| n.text.contains("mark ready is for the room owner only")));
    assert!(app.status.notices.iter().any(|n| n.text.contains("revoking a grant is for the room owner only")));
    let entries = tui::pane::palette::entries(&app.room, "");
    for name in ["mark ready", "grants: revoke"] {
        let e = entries.iter().find(|e| e.name.starts_with(name)).expect("listed");
        assert!(e.disabled, "{name} disabled for others");
    }
    let owner = tui::pane::palette::entries(&app_as(OWNER).room, "");
    assert!(owner.iter().filter(|e| e.key == "M" || e.key == "G").all(|e| !e.disabled));
    // Break-glass: not on the list, nothing to end — refused up front.
    key(&mut app, KeyCode::Char('B'));
    assert!(app.overlay.is_none());
    assert!(app.status.notices.back().is_some_and(|n| n.text.contains("break-glass list")));
}

#[test]
fn revoke_a_grant_choose_note_confirm() {
    let mut app = app_with(OWNER, room_with_grant());
    key(&mut app, KeyCode::Char('G'));
    let screen = render(&mut app, 110, 32);
    assert!(screen.contains("R-1  priya.natarajan reads A1 Full tenant identifiers until"), "{screen}");
    key(&mut app, KeyCode::Enter);
    typ(&mut app, "scope settled");
    key(&mut app, KeyCode::Enter);
    assert!(app.room.outbox.queue.is_empty(), "asks to confirm first");
    let screen = render(&mut app, 110, 32);
    assert!(screen.contains("Really revoke?"), "{screen}");
    key(&mut app, KeyCode::Char('y'));
    assert!(app.overlay.is_none());
    match &sent(&app)[..] {
        [Request::RevokeGrant { grant, note, .. }] => {
            assert_eq!(*grant, AccessRequestId(uid(0x701)));
            assert_eq!(note.as_deref(), Some("scope settled"));
        }
        other => panic!("{other:?}"),
    }
    let tag = tag_of(&app, |r| matches!(r, Request::RevokeGrant { .. }));
    app.on_net(NetEvent::Reply { tag, result: Ok(json!({"revision": 13})) });
    assert!(app.status.notices.back().is_some_and(|n| n.text == "R-1 revoked — the grant ended now"));
}

#[test]
fn no_active_grants_says_so() {
    let mut app = app_with(OWNER, clean_room());
    key(&mut app, KeyCode::Char('G'));
    assert!(app.overlay.is_none());
    assert!(app.status.notices.back().is_some_and(|n| n.text == "no active grants to revoke"));
}

#[test]
fn break_glass_set_needs_annexes_and_a_reason_then_confirms() {
    let mut st = clean_room();
    st.access.policy.break_glass = vec![UserId(uid(OWNER))];
    let mut app = app_with(OWNER, st);
    key(&mut app, KeyCode::Char('B'));
    key(&mut app, KeyCode::Enter);
    assert!(app.room.outbox.queue.is_empty(), "no annex ticked");
    key(&mut app, KeyCode::Char(' ')); // A1
    key(&mut app, KeyCode::Tab);
    typ(&mut app, "customer call in 5 minutes");
    key(&mut app, KeyCode::Tab);
    key(&mut app, KeyCode::Left); // 25 minutes
    key(&mut app, KeyCode::Enter);
    assert!(app.room.outbox.queue.is_empty(), "asks to confirm first");
    key(&mut app, KeyCode::Char('y'));
    match &sent(&app)[..] {
        [Request::BreakGlass { annexes, reason, duration_ms, seq, .. }] => {
            assert_eq!(annexes, &vec![AnnexId(uid(ANNEX_A1))]);
            assert_eq!(reason, "customer call in 5 minutes");
            assert_eq!(*duration_ms, Some(25 * 60 * 1000));
            assert!(seq.is_some());
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn an_owner_ends_the_active_break_glass() {
    let st = room_with_break_glass();
    let mut app = app_with(OWNER, st);
    key(&mut app, KeyCode::Char('B'));
    let screen = render(&mut app, 110, 32);
    assert!(screen.contains("BG-1 by priya.natarajan reads A1 until"), "{screen}");
    key(&mut app, KeyCode::Enter);
    assert!(app.room.outbox.queue.is_empty());
    key(&mut app, KeyCode::Char('y'));
    assert!(
        matches!(&sent(&app)[..], [Request::EndBreakGlass { invocation, .. }] if *invocation == BreakGlassId(uid(0x801)))
    );
}

#[test]
fn export_writes_a_new_file_named_by_room_and_revision_and_shows_path_and_hash() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut app = app_with(OWNER, clean_room());
    app.export_dir = dir.path().to_path_buf();
    for round in 1..=2 {
        key(&mut app, KeyCode::Char('X'));
        let tag = tag_of(&app, |r| matches!(r, Request::Export { .. }));
        app.room.outbox.queue.clear();
        let result = ExportResult {
            format: Default::default(),
            revision: 12,
            packet_revision: 12,
            content_hash: "ab".repeat(32),
            exact: true,
            released: false,
            text: "{\"format\":\"x\"}".into(),
        };
        app.on_net(NetEvent::Reply { tag, result: Ok(serde_json::to_value(&result).expect("json")) });
        let name = if round == 1 { "trustroom-00000000-rev12.json" } else { "trustroom-00000000-rev12-2.json" };
        let path = dir.path().join(name);
        assert_eq!(std::fs::read_to_string(&path).expect("written"), "{\"format\":\"x\"}");
        let screen = render(&mut app, 140, 45);
        assert!(screen.contains(name), "{screen}");
        assert!(screen.contains(&trustroom_shared::canonical::sha256_hex(b"{\"format\":\"x\"}")), "{screen}");
        key(&mut app, KeyCode::Esc);
    }
}

#[test]
fn manifests_are_verified_offline_with_the_key_the_server_sent() {
    let mut app = app_with(OWNER, clean_room());
    key(&mut app, KeyCode::Char('W'));
    let tag = tag_of(&app, |r| matches!(r, Request::Manifests { .. }));
    let (result, _) = manifests_fixture();
    app.on_net(NetEvent::Reply { tag, result: Ok(serde_json::to_value(&result).expect("json")) });
    let screen = render(&mut app, 140, 45);
    assert!(
        screen.contains("VERIFIED — signed: packet revision 12 released to the privacy lane by morgan.hale"),
        "{screen}"
    );
    assert!(screen.contains("NOT VERIFIED — manifest signature"), "{screen}");
    assert!(screen.contains("this client holds no copy of its own"), "{screen}");
}

#[test]
fn after_escalation_the_read_only_notice_names_the_room_not_the_role() {
    let mut st = room_state();
    st.release = ReleaseState::Escalated { reason: "second tenant".into(), by: UserId(uid(OWNER)), at_ms: 0 };
    let mut app = app_with(OWNER, st);
    key(&mut app, KeyCode::Char('2'));
    key(&mut app, KeyCode::Char('i'));
    let last = app.status.notices.back().expect("notice").text.clone();
    assert!(last.contains("the room is escalated"), "{last}");
    assert!(!last.contains("your role"), "{last}");
}

#[test]
fn observers_and_owners_are_not_offered_the_cosign_dialog() {
    for (who, why) in [
        (OBSERVER, "observers co-sign only when the release policy names them"),
        (OWNER, "owners sign by releasing"),
        (AGENT, "agents never sign"),
    ] {
        let mut app = app_as(who);
        key(&mut app, KeyCode::Char('S'));
        assert!(app.overlay.is_none());
        assert!(app.room.outbox.queue.is_empty(), "no readiness fetched to co-sign");
        assert!(app.status.notices.back().is_some_and(|n| n.text.starts_with(why)), "{:?}", app.status.notices.back());
        let cosign = tui::pane::palette::entries(&app.room, "co-sign");
        assert!(cosign.iter().all(|e| e.disabled), "shown disabled in the palette: {cosign:?}");
    }
    let reviewer = tui::pane::palette::entries(&app_as(PRIVACY).room, "co-sign");
    assert!(!reviewer.is_empty() && reviewer.iter().all(|e| !e.disabled), "{reviewer:?}");
    // An observer the policy names is offered it.
    let mut st = room_state();
    st.release_policy.members.push(UserId(uid(OBSERVER)));
    let mut app = app_with(OBSERVER, st);
    assert!(tui::pane::palette::entries(&app.room, "co-sign").iter().all(|e| !e.disabled));
    key(&mut app, KeyCode::Char('S'));
    assert!(app.room.outbox.queue.iter().any(|o| matches!(o.request, Request::Readiness { .. })));
}

#[test]
fn every_new_decision_runs_from_the_palette_too() {
    let palette = |app: &mut App, query: &str| {
        key(app, KeyCode::Char(':'));
        typ(app, query);
        key(app, KeyCode::Enter);
    };
    let mut st = room_with_grant();
    st.access.policy.break_glass = vec![UserId(uid(OWNER))];
    let mut app = app_with(OWNER, st);
    palette(&mut app, "grants revoke");
    assert!(matches!(app.overlay.as_ref(), Some(Overlay::Dialog(d)) if matches!(d.as_ref(), Dialog::Grants(_))));
    key(&mut app, KeyCode::Esc);
    palette(&mut app, "break-glass");
    assert!(matches!(app.overlay.as_ref(), Some(Overlay::Dialog(d)) if matches!(d.as_ref(), Dialog::BreakGlass(_))));
    key(&mut app, KeyCode::Esc);
    palette(&mut app, "export bundle");
    assert!(sent(&app).iter().any(|r| matches!(r, Request::Export { .. })));
    palette(&mut app, "manifests verified");
    assert!(sent(&app).iter().any(|r| matches!(r, Request::Manifests { .. })));
}

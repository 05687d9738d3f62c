//! Editing and sync: one op in flight, remote edits, undo, gaps and resyncs,
//! reconnects, refused edits.

use super::*;

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
    app.room.outbox.queue.clear();
    let a = own_ack(&app, &original, &op, seq);
    ev(&mut app, a);
    let sent = edits(&app);
    assert_eq!(sent.len(), 1, "buffer sent after ack");
    assert_eq!(sent[0].0, 13, "buffer based on the ack's revision");
    assert_eq!(app.room.replica.state.as_ref().expect("state").sections[0].body, format!("A{original}"));
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
    app.room.outbox.queue.clear();
    let a = own_ack(&app, &original, &op, seq);
    ev(&mut app, a);
    let (_, seq2, op2) = edits(&app)[0].clone();
    let server = app.room.replica.state.as_ref().expect("state").sections[0].body.clone();
    app.room.outbox.queue.clear();
    let a = own_ack(&app, &server, &op2, seq2);
    ev(&mut app, a);
    let server = app.room.replica.state.as_ref().expect("state").sections[0].body.clone();
    assert!(server.starts_with("mine "));
    let theirs = format!("{server}\n\nTheirs.");
    let r = remote_edit(&app, 0, &server, &theirs);
    ev(&mut app, r);
    key(&mut app, KeyCode::Esc);
    app.run_action(tui::action::Action::Undo);
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
    assert!(app.room.replica.resyncing);
    let join =
        app.room.outbox.queue.iter().find(|o| matches!(o.request, Request::Join { .. })).expect("a join").clone();
    assert!(matches!(join.request, Request::Join { since: Some(12), .. }), "replay from the last revision seen");
    assert_eq!(app.room.replica.state.as_ref().expect("state").revision, 12, "nothing applied past the gap");
    // The replay arrives in order, then the join's answer.
    for e in [e13, e14, e15] {
        ev(&mut app, e);
    }
    app.on_net(NetEvent::Reply { tag: join.tag, result: Ok(json!({"revision": 15})) });
    assert!(!app.room.replica.resyncing);
    assert_eq!(app.room.replica.state.as_ref().expect("state").revision, 15);
    assert_eq!(body(&app), format!("{b0} abc"));
}

#[test]
fn an_event_that_does_not_apply_asks_for_a_snapshot() {
    let mut app = app_as(PRIVACY);
    let bad = remote_edit(&app, 0, "not the section text", "x");
    ev(&mut app, bad);
    assert!(app.room.outbox.queue.iter().any(|o| matches!(o.request, Request::Join { since: None, .. })));
}

#[test]
fn reconnect_rejoins_since_last_revision_and_resends_the_same_seq() {
    let mut app = app_as(OWNER);
    key(&mut app, KeyCode::Char('i'));
    typ(&mut app, "Z");
    let (_, seq, _) = edits(&app)[0].clone();
    let tag = app.room.outbox.queue[0].tag;
    app.room.outbox.queue.clear();
    app.on_net(NetEvent::Reply { tag, result: Err(session::RequestError::Disconnected) });
    app.on_net(NetEvent::Disconnected {
        reason: "connection lost".into(),
        retry_in: std::time::Duration::from_millis(300),
        attempt: 1,
    });
    assert!(matches!(app.room.conn, ConnState::Disconnected { .. }));
    assert!(body(&app).starts_with('Z'), "local edit kept while offline");
    app.on_net(NetEvent::Connected {
        user: UserId(uid(OWNER)),
        name: "morgan.hale".into(),
        client: ClientId(uid(MY_CLIENT)),
    });
    let join = app.room.outbox.queue.iter().find(|o| matches!(o.request, Request::Join { .. })).expect("join").clone();
    assert!(matches!(join.request, Request::Join { since: Some(12), .. }));
    app.room.outbox.queue.clear();
    app.on_net(NetEvent::Reply { tag: join.tag, result: Ok(json!({"revision": 12})) });
    assert_eq!(app.room.conn, ConnState::Connected);
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
    take_snapshot(&mut app, snapshot_for(OWNER, &st));
    assert_eq!(body(&app), format!("Q{original} More."));
    assert_eq!(app.editor.text(), body(&app));
}

#[test]
fn refused_edit_resets_the_section_to_the_server_text() {
    let mut app = app_as(OWNER);
    let original = body(&app);
    key(&mut app, KeyCode::Char('i'));
    typ(&mut app, "W");
    let tag = app.room.outbox.queue[0].tag;
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
    let tag = app.room.outbox.queue[0].tag;
    app.on_net(NetEvent::Reply {
        tag,
        result: Err(session::RequestError::Server {
            code: ErrorCode::Forbidden,
            message: "your role (observer) may not edit".into(),
        }),
    });
    let kept = take_kept_text(&app);
    assert!(kept.contains("Unsent words"), "{kept}");
}

#[test]
fn an_edit_refused_for_restricted_detail_reverts_keeps_the_text_and_says_why() {
    let mut app = app_as(OWNER);
    let original = body(&app);
    key(&mut app, KeyCode::Char('i'));
    typ(&mut app, "Pasted acct-4471-NWF");
    let tag = app.room.outbox.queue[0].tag;
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
        app.status
            .notices
            .iter()
            .any(|n| n.text.contains("restricted annex detail") && n.text.contains("[[annex:CODE]]")),
        "the notice says why"
    );
    let kept = take_kept_text(&app);
    assert!(kept.contains("Pasted acct-4471-NWF"), "{kept}");
}

/// The words the notice says were kept in a file: read, and the file removed.
fn take_kept_text(app: &App) -> String {
    let notice = app
        .status
        .notices
        .iter()
        .find(|n| n.text.contains("your unsent text is kept in"))
        .expect("a notice names the file");
    let path = notice.text.rsplit("kept in ").next().expect("path").trim().to_string();
    let kept = std::fs::read_to_string(&path).expect("the file exists");
    let _ = std::fs::remove_file(&path);
    kept
}

//! Objections and replies made while offline are resent with their seq after
//! the rejoin; their words are kept in a file while the connection is lost,
//! and a refusal after the rejoin gives them back in their dialog.

use super::*;

#[test]
fn an_objection_lost_with_the_connection_is_resent_with_its_seq_after_the_rejoin() {
    let mut app = app_as(PRIVACY);
    key(&mut app, KeyCode::Char('r'));
    key(&mut app, KeyCode::Char('n'));
    typ(&mut app, "Session log shows a second tenant");
    key(&mut app, KeyCode::Enter);
    let (tag, seq, text) = objection_sent(&app).expect("objection sent");
    app.room.outbox.queue.clear();
    // The socket dies before the answer: the objection is kept, not dropped.
    app.on_net(NetEvent::Reply { tag, result: Err(session::RequestError::Disconnected) });
    assert_eq!(app.room.outbox.unsent.len(), 1);
    assert!(app.status.notices.iter().any(|n| n.text.contains("objection not acknowledged yet")), "the user is told");
    assert!(!app.status.notices.iter().any(|n| n.text.contains("objection not raised")), "not reported as failed");
    reconnect(&mut app);
    let (tag2, seq2, text2) = objection_sent(&app).expect("re-sent after the join");
    assert_eq!((seq2, text2.as_str()), (seq, text.as_str()), "same seq and words: the server applies it once");
    assert!(app.room.outbox.unsent.is_empty());
    assert!(app.status.notices.iter().any(|n| n.text.contains("re-sent 1 unsent request")));
    // Acknowledged this time: nothing left to re-send on the next reconnect.
    app.on_net(NetEvent::Reply { tag: tag2, result: Ok(json!({"revision": 13})) });
    assert!(app.room.outbox.retriable.is_empty() && app.room.outbox.unsent.is_empty());
    reconnect(&mut app);
    assert!(objection_sent(&app).is_none(), "an acknowledged objection is never sent again");
}

#[test]
fn an_objection_made_while_offline_keeps_its_words_and_a_refusal_after_reconnect_reopens_its_dialog() {
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
    app.room.outbox.queue.clear();
    // The network task answers at once while it waits out its backoff: the
    // words could not be sent, so they are also saved to a file, named.
    app.on_net(NetEvent::Reply { tag, result: Err(session::RequestError::Disconnected) });
    assert!(app.overlay.is_none() && app.room.outbox.unsent.len() == 1);
    let notice = app
        .status
        .notices
        .iter()
        .find(|n| n.text.contains("your objection text is kept in"))
        .expect("a notice names the file");
    assert!(notice.text.starts_with("objection not acknowledged yet"), "{}", notice.text);
    let path = notice.text.rsplit("kept in ").next().expect("path").trim().to_string();
    let kept = std::fs::read_to_string(&path).expect("the file exists");
    let _ = std::fs::remove_file(&path);
    assert_eq!(kept, "Written while offline");
    reconnect(&mut app);
    let (tag2, seq2, _) = objection_sent(&app).expect("re-sent");
    assert_eq!(seq2, seq);
    // Demoted while offline: the server refuses. The words come back in the
    // objection dialog with the server's error — no second file.
    let files = app.status.notices.iter().filter(|n| n.text.contains("kept in")).count();
    app.on_net(NetEvent::Reply {
        tag: tag2,
        result: Err(session::RequestError::Server {
            code: ErrorCode::Forbidden,
            message: "your role (observer) may not object".into(),
        }),
    });
    assert!(app.status.notices.iter().any(|n| n.text.contains("objection not raised: error[forbidden]")));
    assert_eq!(app.status.notices.iter().filter(|n| n.text.contains("kept in")).count(), files);
    let Some(tui::app::Overlay::Dialog(d)) = &app.overlay else { panic!("the objection dialog is back") };
    let tui::pane::dialog::Dialog::Objection(f) = &**d else { panic!("the objection dialog is back") };
    assert_eq!(tui::forms::input_text(&f.text), "Written while offline");
    assert_eq!(f.error.as_deref(), Some("error[forbidden]: your role (observer) may not object"));
    assert!(app.room.outbox.unsent.is_empty() && app.room.outbox.retriable.is_empty());
}

//! The disagreement register: the selection follows the objection, status
//! changes that cannot be undone ask first, reopening, threads per
//! objection, form errors that clear, and whether the pane is shown.
//!
//! The fixture's Summary section has O-1 (blocking, priya) and O-2
//! (daniel); Timeline has O-3 (the chronology agent).

use super::*;
use trustroom_shared::ObjectionId;
use trustroom_shared::objection::Objection;
use tui::app::Overlay;
use tui::pane::dialog::Dialog;
use tui::remembered::Remembered;

fn o(n: u128) -> ObjectionId {
    ObjectionId(uid(0x500 + n))
}

fn selected(app: &App) -> Option<ObjectionId> {
    app.register.selected_objection(&app.ctx())
}

/// Another member raises O-`number` on the Summary, blocking: it sorts
/// first in the register.
fn remote_objection(app: &mut App, number: u32, text: &str) {
    let state = app.room.replica.state.as_ref().expect("state");
    let mut objection: Objection = state.objections.get(&o(1)).expect("O-1").clone();
    objection.id = o(u128::from(number));
    objection.number = number;
    objection.text = text.into();
    objection.replies.clear();
    objection.author = UserId(uid(OWNER));
    let rev = Revision {
        revision: state.revision + 1,
        author: UserId(uid(OWNER)),
        at_ms: 1_700_000_300_000,
        client: Some(ClientStamp { client: ClientId(uid(OTHER_CLIENT)), seq: 40 }),
        change: Change::ObjectionRaised { objection },
    };
    ev(app, rev);
}

/// The status change the app sent: (objection, status, rationale).
fn status_sent(app: &App) -> Option<(ObjectionId, ObjectionStatus, Option<String>)> {
    app.room.outbox.queue.iter().find_map(|q| match &q.request {
        Request::SetObjectionStatus { objection, status, rationale, .. } => {
            Some((*objection, *status, rationale.clone()))
        }
        _ => None,
    })
}

fn status_form(app: &App) -> &tui::forms::StatusForm {
    match &app.overlay {
        Some(Overlay::Dialog(d)) => match d.as_ref() {
            Dialog::Status(f) => f,
            _ => panic!("another dialog is open"),
        },
        _ => panic!("no dialog is open"),
    }
}

fn dialog_error(app: &App) -> Option<String> {
    match &app.overlay {
        Some(Overlay::Dialog(d)) => match d.as_ref() {
            Dialog::Status(f) => f.error.clone(),
            Dialog::Reply(f) => f.error.clone(),
            Dialog::Objection(f) => f.error.clone(),
            _ => None,
        },
        _ => None,
    }
}

/// The rows of the register pane (the right-hand column) of a screen.
fn register_rows(screen: &str) -> Vec<String> {
    screen.lines().filter_map(|l| l.find("┃").or_else(|| l.find("┏")).map(|i| l[i..].to_string())).collect()
}

fn with_status(n: u128, status: ObjectionStatus) -> trustroom_shared::room::RoomState {
    let mut st = room_state();
    let ob = st.objections.get_mut(&o(n)).expect("objection");
    ob.status = status;
    st
}

#[test]
fn the_selection_stays_on_the_objection_when_another_member_raises_one() {
    let mut app = app_as(LEGAL);
    let _ = render(&mut app, 140, 45);
    key(&mut app, KeyCode::Char('3'));
    key(&mut app, KeyCode::Char('j'));
    assert_eq!(selected(&app), Some(o(2)), "O-2 is the second row");

    // Someone raises a blocking objection: it sorts above O-2, which stays selected.
    remote_objection(&mut app, 9, "A third tenant context appears in SL-0102.");
    assert_eq!(selected(&app), Some(o(2)), "the selection follows O-2, not its old row");
    let screen = render(&mut app, 140, 45);
    let rows = register_rows(&screen);
    let marked: Vec<&String> = rows.iter().filter(|r| r.starts_with("┃>")).collect();
    assert_eq!(marked.len(), 1, "{rows:#?}");
    assert!(marked[0].contains("O-2"), "the ▶ is on O-2: {rows:#?}");
    insta::assert_snapshot!(screen);

    // `s` `Enter` acts on O-2: the dialog names it and sends its id.
    key(&mut app, KeyCode::Char('s'));
    assert_eq!(status_form(&app).objection, o(2));
    assert!(status_form(&app).about.starts_with("O-2 “\"Exposure\" implies intent;"), "{}", status_form(&app).about);
    key(&mut app, KeyCode::Enter);
    assert_eq!(status_sent(&app), Some((o(2), ObjectionStatus::Addressed, None)));
}

#[test]
fn an_open_dialog_acts_on_its_objection_whatever_the_list_does() {
    let mut app = app_as(LEGAL);
    key(&mut app, KeyCode::Char('3'));
    key(&mut app, KeyCode::Char('j'));
    key(&mut app, KeyCode::Char('c'));
    // While the reply form is open, two objections arrive above O-2.
    remote_objection(&mut app, 9, "First newcomer.");
    remote_objection(&mut app, 10, "Second newcomer.");
    typ(&mut app, "Agreed, will reword.");
    key(&mut app, KeyCode::Enter);
    let reply = app.room.outbox.queue.iter().find_map(|q| match &q.request {
        Request::Reply { objection, text, .. } => Some((*objection, text.clone())),
        _ => None,
    });
    assert_eq!(reply, Some((o(2), "Agreed, will reword.".to_string())));
    assert_eq!(selected(&app), Some(o(2)));

    app.room.outbox.queue.clear();
    key(&mut app, KeyCode::Char('s'));
    remote_objection(&mut app, 11, "Third newcomer.");
    key(&mut app, KeyCode::Enter);
    assert_eq!(status_sent(&app).map(|s| s.0), Some(o(2)), "the status form keeps its objection");
}

#[test]
fn the_selection_falls_back_to_a_neighbour_when_its_objection_leaves_the_list() {
    let mut app = app_as(LEGAL);
    key(&mut app, KeyCode::Char('3'));
    key(&mut app, KeyCode::Char('f')); // all objections: O-1, O-2, O-3
    key(&mut app, KeyCode::Char('G'));
    assert_eq!(selected(&app), Some(o(3)));
    key(&mut app, KeyCode::Char('f')); // this section (Summary): O-3 is not on it
    assert_eq!(selected(&app), Some(o(1)), "the first of the section");
    key(&mut app, KeyCode::Char('j'));
    key(&mut app, KeyCode::Char('f')); // all again: O-2 is still listed and stays selected
    assert_eq!(selected(&app), Some(o(2)));
}

#[test]
fn a_one_way_change_asks_first_naming_the_objection() {
    let mut app = app_as(LEGAL);
    key(&mut app, KeyCode::Char('3'));
    key(&mut app, KeyCode::Char('j')); // O-2, daniel's own
    key(&mut app, KeyCode::Char('s'));
    key(&mut app, KeyCode::Down); // withdrawn
    key(&mut app, KeyCode::Enter);
    assert!(status_sent(&app).is_none(), "asks before withdrawing");
    assert!(status_form(&app).confirming);
    let screen = render(&mut app, 100, 30);
    assert!(screen.contains("Mark O-2 withdrawn?") && screen.contains("final"), "{screen}");
    assert!(screen.contains("by daniel.okafor"), "the dialog names the author: {screen}");
    insta::assert_snapshot!(screen);
    // `n` goes back to the choice, nothing sent; `y` sends.
    key(&mut app, KeyCode::Char('n'));
    assert!(!status_form(&app).confirming);
    assert!(status_sent(&app).is_none());
    key(&mut app, KeyCode::Enter);
    key(&mut app, KeyCode::Esc); // Esc in the question goes back too
    assert!(app.overlay.is_some() && !status_form(&app).confirming);
    key(&mut app, KeyCode::Enter);
    key(&mut app, KeyCode::Char('y'));
    assert_eq!(status_sent(&app), Some((o(2), ObjectionStatus::Withdrawn, None)));
    assert!(app.overlay.is_none());
}

#[test]
fn addressing_someone_elses_objection_asks_first_and_a_blocking_one_needs_a_rationale() {
    // daniel marks priya's blocking O-1 addressed: he could not reopen it.
    let mut app = app_as(LEGAL);
    key(&mut app, KeyCode::Char('3'));
    key(&mut app, KeyCode::Char('s'));
    assert_eq!(status_form(&app).objection, o(1));
    key(&mut app, KeyCode::Enter);
    let error = dialog_error(&app).expect("a rationale is asked for");
    assert!(error.contains("O-1") && error.contains("blocking"), "{error}");
    assert!(status_sent(&app).is_none());
    typ(&mut app, "SL-0093 shows one tenant context");
    assert_eq!(dialog_error(&app), None, "the error goes as soon as the rationale is typed");
    key(&mut app, KeyCode::Enter);
    assert!(status_form(&app).confirming, "he could not undo it: asks first");
    let screen = render(&mut app, 100, 30);
    assert!(screen.contains("Mark O-1 addressed?") && screen.contains("by priya.natarajan"), "{screen}");
    insta::assert_snapshot!(screen);
    key(&mut app, KeyCode::Char('y'));
    assert_eq!(
        status_sent(&app),
        Some((o(1), ObjectionStatus::Addressed, Some("SL-0093 shows one tenant context".into())))
    );

    // The author addresses their own without a question: they can reopen it.
    let mut app = app_as(PRIVACY);
    key(&mut app, KeyCode::Char('3'));
    key(&mut app, KeyCode::Char('s'));
    key(&mut app, KeyCode::Enter);
    assert_eq!(status_sent(&app), Some((o(1), ObjectionStatus::Addressed, None)));
}

#[test]
fn the_author_and_owners_are_offered_reopen_on_an_addressed_objection() {
    let state = with_status(2, ObjectionStatus::Addressed);
    // daniel is O-2's author.
    let mut app = app_with(LEGAL, state.clone());
    key(&mut app, KeyCode::Char('3'));
    key(&mut app, KeyCode::Char('j'));
    assert_eq!(selected(&app), Some(o(2)));
    key(&mut app, KeyCode::Char('s'));
    let choices: Vec<ObjectionStatus> = status_form(&app).choices.iter().map(|c| c.status).collect();
    assert_eq!(choices, vec![ObjectionStatus::Open]);
    let screen = render(&mut app, 100, 30);
    assert!(screen.contains("reopen"), "{screen}");
    insta::assert_snapshot!(screen);
    key(&mut app, KeyCode::Enter);
    assert_eq!(status_sent(&app), Some((o(2), ObjectionStatus::Open, None)), "a reopen asks nothing");

    // An owner may reopen it too.
    let mut owner = app_with(OWNER, state.clone());
    key(&mut owner, KeyCode::Char('3'));
    key(&mut owner, KeyCode::Char('j'));
    key(&mut owner, KeyCode::Char('s'));
    key(&mut owner, KeyCode::Enter);
    assert_eq!(status_sent(&owner), Some((o(2), ObjectionStatus::Open, None)));

    // Another reviewer is told who can, and nothing opens.
    let mut priya = app_with(PRIVACY, state);
    key(&mut priya, KeyCode::Char('3'));
    key(&mut priya, KeyCode::Char('j'));
    key(&mut priya, KeyCode::Char('s'));
    assert!(priya.overlay.is_none());
    let n = priya.status.notices.back().expect("a notice");
    assert!(n.text.contains("O-2 is addressed") && n.text.contains("only its author or an owner"), "{}", n.text);

    // withdrawn and accepted-residual are final for everyone.
    for status in [ObjectionStatus::Withdrawn, ObjectionStatus::AcceptedResidual] {
        let mut owner = app_with(OWNER, with_status(2, status));
        key(&mut owner, KeyCode::Char('3'));
        key(&mut owner, KeyCode::Char('j'));
        key(&mut owner, KeyCode::Char('s'));
        assert!(owner.overlay.is_none());
        let n = owner.status.notices.back().expect("a notice");
        assert!(n.text.contains(&format!("O-2 is {status}, which is final")), "{}", n.text);
    }
}

#[test]
fn the_thread_toggle_is_per_objection() {
    let mut st = room_state();
    st.objections.get_mut(&o(2)).expect("O-2").replies.push(trustroom_shared::objection::Reply {
        id: trustroom_shared::ReplyId(uid(0x602)),
        author: UserId(uid(PRIVACY)),
        text: "Visibility is the word the privacy lane uses too.".into(),
        at_ms: 1_700_000_100_000,
    });
    let mut app = app_with(PRIVACY, st);
    key(&mut app, KeyCode::Char('3'));
    key(&mut app, KeyCode::Enter); // O-1's thread
    key(&mut app, KeyCode::Char('j'));
    assert!(app.register.is_expanded(o(1)));
    assert!(!app.register.is_expanded(o(2)), "moving on does not open O-2's thread");
    key(&mut app, KeyCode::Char(' ')); // O-2's too
    key(&mut app, KeyCode::Char('k'));
    key(&mut app, KeyCode::Enter); // close O-1's; O-2's stays open
    assert!(!app.register.is_expanded(o(1)));
    assert!(app.register.is_expanded(o(2)));
    let screen = render(&mut app, 140, 45);
    assert!(!screen.contains("morgan.hale: Trace keeper"), "O-1's thread is closed: {screen}");
    assert!(screen.contains("1 reply (Enter)"), "O-1's is folded: {screen}");
    assert!(screen.contains("priya.natarajan: Visibility is the word"), "O-2's is open: {screen}");
    insta::assert_snapshot!(screen);
}

#[test]
fn form_errors_clear_as_soon_as_text_is_typed() {
    let mut app = app_as(PRIVACY);
    key(&mut app, KeyCode::Char('3'));
    // The objection form.
    key(&mut app, KeyCode::Char('n'));
    key(&mut app, KeyCode::Enter);
    assert_eq!(dialog_error(&app).as_deref(), Some("write what the objection is"));
    key(&mut app, KeyCode::Tab); // moving between fields keeps it
    assert!(dialog_error(&app).is_some());
    key(&mut app, KeyCode::BackTab); // back on the text
    typ(&mut app, "S");
    assert_eq!(dialog_error(&app), None);
    key(&mut app, KeyCode::Esc);
    // The reply form.
    key(&mut app, KeyCode::Char('c'));
    key(&mut app, KeyCode::Enter);
    assert_eq!(dialog_error(&app).as_deref(), Some("write a reply"));
    typ(&mut app, "o");
    assert_eq!(dialog_error(&app), None);
    key(&mut app, KeyCode::Esc);
    // The status form (an owner's accepted-residual without a rationale).
    let mut owner = app_as(OWNER);
    key(&mut owner, KeyCode::Char('3'));
    key(&mut owner, KeyCode::Char('s'));
    key(&mut owner, KeyCode::Down);
    key(&mut owner, KeyCode::Down);
    key(&mut owner, KeyCode::Enter);
    assert_eq!(dialog_error(&owner).as_deref(), Some("accepted-residual needs a rationale"));
    typ(&mut owner, "h");
    assert_eq!(dialog_error(&owner), None);
}

#[test]
fn the_register_is_shown_beside_the_packet_on_a_wide_terminal() {
    let mut app = app_as(PRIVACY);
    let wide = render(&mut app, 140, 45);
    assert!(wide.contains("3 Register"), "{wide}");
    insta::assert_snapshot!("register_shown_at_140x45", wide);
    let narrow = render(&mut app, 80, 24);
    assert!(!narrow.contains("3 Register"), "{narrow}");
    insta::assert_snapshot!("register_hidden_at_80x24", narrow);
    // `r` at 80 columns shows it, and the choice holds at any width.
    key(&mut app, KeyCode::Char('r'));
    assert!(render(&mut app, 80, 24).contains("3 Register"));
    key(&mut app, KeyCode::Char('r'));
    assert!(!render(&mut app, 140, 45).contains("3 Register"), "hidden by choice even when wide");
}

#[test]
fn the_choice_is_remembered_per_user_and_wins_over_the_width() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("remembered.json");
    let memory = || Some(Remembered::new(path.clone(), "ws://127.0.0.1:7000".into()));

    let mut app = app_as(PRIVACY);
    app.remembered = memory();
    let _ = render(&mut app, 140, 45);
    key(&mut app, KeyCode::Char('r')); // shown: `r` focuses it…
    assert!(render(&mut app, 140, 45).contains("3 Register"));
    key(&mut app, KeyCode::Char('r')); // …and hides it once focused
    assert!(!render(&mut app, 140, 45).contains("3 Register"));

    // The next session of the same user on the same server starts hidden at 140 columns…
    let mut again = app_as(PRIVACY);
    again.remembered = memory();
    assert!(!render(&mut again, 140, 45).contains("3 Register"), "the remembered choice wins over the width");
    // …another user's does not.
    let mut daniel = app_as(LEGAL);
    daniel.remembered = memory();
    assert!(render(&mut daniel, 140, 45).contains("3 Register"));
    // Shown again by `r`, remembered as shown, also at 80 columns.
    key(&mut again, KeyCode::Char('r'));
    let mut third = app_as(PRIVACY);
    third.remembered = memory();
    assert!(render(&mut third, 80, 24).contains("3 Register"));

    // A corrupt file is ignored: the width rule applies, nothing crashes.
    std::fs::write(&path, "{ not json").expect("write");
    let mut fresh = app_as(PRIVACY);
    fresh.remembered = memory();
    assert!(render(&mut fresh, 140, 45).contains("3 Register"));
    assert!(!render(&mut fresh, 80, 24).contains("3 Register"));
}

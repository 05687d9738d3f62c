//! Render and flow tests of the suggestions and stats screens: TestBackend
//! + insta snapshots, synthetic keys, and the requests the app queues.
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
use trustroom_shared::boundary::{BoundaryCategory, BoundaryFlag};
use trustroom_shared::change::{Change, Revision};
use trustroom_shared::objection::ObjectionKind;
use trustroom_shared::ot::TextOp;
use trustroom_shared::protocol::{Request, ServerFrame};
use trustroom_shared::role::{AgentRole, Role};
use trustroom_shared::room::RoomState;
use trustroom_shared::stats::{ObjectionCounts, Outcomes, RoleOutcomes, RoomStats, Series};
use trustroom_shared::suggestion::{Proposal, RegisterProposal, Suggestion, SuggestionStatus};
use trustroom_shared::{ObjectionId, RoomId, SuggestionId, UserId};
use tui::app::{App, Overlay};

fn sid(n: u128) -> SuggestionId {
    SuggestionId(uid(0x700 + n))
}

fn suggestion(n: u32, proposal: Proposal, rationale: &str, evidence: &[&str], flags: Vec<BoundaryFlag>) -> Suggestion {
    Suggestion {
        id: sid(u128::from(n)),
        number: n,
        proposer: UserId(uid(AGENT)),
        proposer_role: Role::Agent { agent_role: AgentRole::Chronology },
        proposal,
        rationale: rationale.into(),
        evidence: evidence.iter().map(|s| s.to_string()).collect(),
        status: SuggestionStatus::Open,
        flags,
        proposed_revision: 10,
        revision: 12,
        conflict: None,
        decision: None,
        at_ms: 1_700_000_000_000,
    }
}

/// The fixture room with the Timeline renamed Chronology and three open
/// suggestions: two chronology entries (one flagged out-of-bounds) and a
/// register merge.
fn room_with_suggestions() -> RoomState {
    let mut st = room_state();
    st.sections[1].title = "Chronology".into();
    let body = st.sections[1].body.clone();
    let insert_after = |marker: &str, entry: &str| {
        let at = body.find(marker).map(|i| i + marker.len()).expect("marker");
        let new = format!("{}{}{}", &body[..at], entry, &body[at..]);
        TextOp::from_texts(&body, &new)
    };
    let s1 = suggestion(
        1,
        Proposal::Edit {
            section: section_id(1),
            op: insert_after(
                "context.",
                "\n\n[verified: SL-0093] 09:19 customer list refreshed; second tenant shown again.",
            ),
        },
        "Chronology refresh: 1 source record not yet in the chronology, in time order: SL-0093 09:19 (remote-session-log.jsonl).",
        &["SL-0093"],
        vec![],
    );
    let s2 = suggestion(
        2,
        Proposal::Edit {
            section: section_id(1),
            op: insert_after(
                "engineer.",
                "\n\n[verified: EN-0004] 11:20 Account team asks to email the affected customers today.",
            ),
        },
        "Chronology refresh: 1 source record not yet in the chronology: EN-0004 11:20 (escalation-notes.jsonl).",
        &["EN-0004"],
        vec![BoundaryFlag {
            rule: "customer-communication".into(),
            category: BoundaryCategory::CustomerCommunication,
            field: "text".into(),
            matched: "email the affected customers".into(),
        }],
    );
    let mut s3 = suggestion(
        3,
        Proposal::Register {
            change: RegisterProposal::MergeObjections {
                keep: ObjectionId(uid(0x501)),
                duplicates: vec![ObjectionId(uid(0x502))],
            },
        },
        "O-2 says the same as O-1: same anchor, word overlap 61% (Jaccard ≥ 50%).",
        &["O-1", "O-2"],
        vec![],
    );
    s3.proposer_role = Role::Agent { agent_role: AgentRole::ObjectionNormaliser };
    for s in [s1, s2, s3] {
        st.suggestions.suggestions.insert(s.id, s);
    }
    st
}

/// Cells of the screen whose text is `ch` and whose style has `modifier`.
fn marked(app: &mut App, modifier: ratatui::style::Modifier) -> Vec<(u16, u16, String)> {
    app.size = ratatui::layout::Rect::new(0, 0, 120, 30);
    app.refresh();
    let mut term = ratatui::Terminal::new(ratatui::backend::TestBackend::new(120, 30)).expect("terminal");
    term.draw(|f| tui::ui::draw(app, f)).expect("draw");
    let buf = term.backend().buffer().clone();
    let mut out = Vec::new();
    for y in 0..30 {
        for x in 0..120 {
            let cell = &buf[(x, y)];
            if cell.modifier.contains(modifier) {
                out.push((x, y, cell.symbol().to_string()));
            }
        }
    }
    out
}

fn sent(app: &App) -> Vec<Request> {
    app.room.outbox.queue.iter().map(|o| o.request.clone()).collect()
}

#[test]
fn suggestions_show_inline_in_the_section_text() {
    let mut app = app_with(OWNER, room_with_suggestions());
    let screen = render(&mut app, 120, 30);
    assert!(screen.contains("✎2"), "the sections list counts open suggestions:\n{screen}");
    key(&mut app, KeyCode::Char('j'));
    let screen = render(&mut app, 120, 30);
    assert!(screen.contains("✎ 2 open suggestions (u)"), "the section view says so:\n{screen}");
    key(&mut app, KeyCode::Char('u'));
    insta::assert_snapshot!(render(&mut app, 120, 30));
}

#[test]
fn the_section_view_marks_where_open_suggestions_insert_and_delete() {
    use ratatui::style::Modifier;
    let mut st = room_with_suggestions();
    let body = st.sections[1].body.clone();
    let mut del = suggestion(
        4,
        Proposal::Edit { section: section_id(1), op: TextOp::from_texts(&body, &body.replace("switched ", "")) },
        "wording",
        &[],
        vec![],
    );
    del.proposer = UserId(uid(LEGAL));
    st.suggestions.suggestions.insert(del.id, del);
    let mut app = app_with(OWNER, st);
    key(&mut app, KeyCode::Char('j'));
    let inserts = marked(&mut app, Modifier::REVERSED | Modifier::UNDERLINED);
    assert_eq!(inserts.len(), 2, "one insertion point per open chronology suggestion: {inserts:?}");
    let struck: String = marked(&mut app, Modifier::CROSSED_OUT).into_iter().map(|(_, _, s)| s).collect();
    assert_eq!(struck, "switched ", "the text the suggestion deletes is struck through");
    // Someone else's edit before them moves the marks with the text.
    let ev = remote_edit(&app, 1, &body, &format!("Intro line.\n\n{body}"));
    app.on_net(NetEvent::Frame(ServerFrame::Event { room: app.room.id.expect("room"), rev: Box::new(ev) }));
    let struck: String = marked(&mut app, Modifier::CROSSED_OUT).into_iter().map(|(_, _, s)| s).collect();
    assert_eq!(struck, "switched ");
}

#[test]
fn a_suggestion_as_a_diff() {
    let mut app = app_with(OWNER, room_with_suggestions());
    key(&mut app, KeyCode::Char('u'));
    key(&mut app, KeyCode::Char('i'));
    let screen = render(&mut app, 120, 30);
    assert!(screen.contains("+ [verified: SL-0093] 09:19 customer list refreshed"), "{screen}");
    insta::assert_snapshot!(screen);
}

#[test]
fn an_out_of_bounds_suggestion_is_shown_prominently_and_asks_again_before_accepting() {
    let mut app = app_with(OWNER, room_with_suggestions());
    key(&mut app, KeyCode::Char('u'));
    key(&mut app, KeyCode::Char('j'));
    let screen = render(&mut app, 120, 30);
    assert!(screen.contains("OUT OF BOUNDS"), "{screen}");
    assert!(screen.contains("drafts customer communication"), "{screen}");
    insta::assert_snapshot!("out_of_bounds_suggestion", screen);
    key(&mut app, KeyCode::Char('y'));
    assert!(sent(&app).is_empty(), "a flagged suggestion is not accepted on one key");
    let screen = render(&mut app, 120, 30);
    assert!(screen.contains("Accept S-2? It is OUT OF BOUNDS"), "{screen}");
    key(&mut app, KeyCode::Char('n'));
    assert!(sent(&app).is_empty());
    key(&mut app, KeyCode::Char('y'));
    key(&mut app, KeyCode::Char('y'));
    assert!(
        matches!(&sent(&app)[..], [Request::AcceptSuggestion { suggestion, .. }] if *suggestion == sid(2)),
        "{:?}",
        sent(&app)
    );
}

#[test]
fn owner_accepts_and_rejects_with_a_reason() {
    let mut app = app_with(OWNER, room_with_suggestions());
    key(&mut app, KeyCode::Char('u'));
    key(&mut app, KeyCode::Char('y'));
    assert!(matches!(&sent(&app)[..], [Request::AcceptSuggestion { suggestion, .. }] if *suggestion == sid(1)));
    app.room.outbox.queue.clear();
    key(&mut app, KeyCode::Char('G'));
    let screen = render(&mut app, 120, 30);
    assert!(screen.contains("merge O-2 into O-1"), "{screen}");
    key(&mut app, KeyCode::Char('x'));
    assert!(matches!(app.overlay, Some(Overlay::Dialog(_))));
    key(&mut app, KeyCode::Enter);
    assert!(sent(&app).is_empty(), "a rejection needs a reason");
    typ(&mut app, "O-2 is about the refresh count, not the third tenant");
    key(&mut app, KeyCode::Enter);
    match &sent(&app)[..] {
        [Request::RejectSuggestion { suggestion, reason, .. }] => {
            assert_eq!(*suggestion, sid(3));
            assert_eq!(reason, "O-2 is about the refresh count, not the third tenant");
        }
        other => panic!("expected one rejection, got {other:?}"),
    }
}

#[test]
fn reviewers_not_allowed_and_agents_cannot_decide() {
    for who in [PRIVACY, AGENT, OBSERVER] {
        let mut app = app_with(who, room_with_suggestions());
        key(&mut app, KeyCode::Char('u'));
        key(&mut app, KeyCode::Char('y'));
        key(&mut app, KeyCode::Char('x'));
        assert!(sent(&app).is_empty(), "{who:x} sent a decision");
        assert!(app.overlay.is_none(), "{who:x} got a dialog");
        let screen = render(&mut app, 120, 30);
        assert!(!screen.contains("y accept"), "{who:x} is offered accept:\n{screen}");
    }
    // A reviewer the owner allowed may.
    let mut st = room_with_suggestions();
    st.suggestions.acceptors.push(UserId(uid(PRIVACY)));
    let mut app = app_with(PRIVACY, st);
    key(&mut app, KeyCode::Char('u'));
    key(&mut app, KeyCode::Char('y'));
    assert_eq!(sent(&app).len(), 1);
}

#[test]
fn a_suggestion_follows_edits_and_leaves_the_list_when_decided() {
    let mut app = app_with(OWNER, room_with_suggestions());
    key(&mut app, KeyCode::Char('u'));
    // Someone edits the section before the suggestion: it is rebased and
    // still shows in place.
    let body = app.room.replica.state.as_ref().expect("state").sections[1].body.clone();
    let ev = remote_edit(&app, 1, &body, &format!("# Chronology (UTC)\n\n{body}"));
    app.on_net(NetEvent::Frame(ServerFrame::Event { room: app.room.id.expect("room"), rev: Box::new(ev) }));
    let screen = render(&mut app, 120, 30);
    assert!(screen.contains("# Chronology (UTC)"), "{screen}");
    assert!(screen.contains("09:19 customer list refreshed"), "{screen}");
    // Decided elsewhere: the screen moves on to the next one.
    let state = app.room.replica.state.as_ref().expect("state");
    let rev = Revision {
        revision: state.revision + 1,
        author: UserId(uid(OWNER)),
        at_ms: 1_700_000_300_000,
        client: None,
        change: Change::SuggestionDecided {
            suggestion: sid(1),
            decision: trustroom_shared::suggestion::Decision {
                status: SuggestionStatus::Rejected,
                by: UserId(uid(OWNER)),
                reason: Some("duplicate".into()),
                at_ms: 1_700_000_300_000,
            },
        },
    };
    app.on_net(NetEvent::Frame(ServerFrame::Event { room: app.room.id.expect("room"), rev: Box::new(rev) }));
    let screen = render(&mut app, 120, 30);
    assert!(screen.contains("2 open"), "{screen}");
    assert!(screen.contains("S-2"), "{screen}");
}

fn stats(state: &RoomState) -> RoomStats {
    let o = |proposed, accepted, rejected, open| Outcomes {
        proposed,
        open,
        accepted,
        rejected,
        conflicting: 0,
        withdrawn: 0,
        flagged: 0,
    };
    RoomStats {
        room: state.id,
        revision: state.revision,
        opened_ms: 1_700_000_000_000,
        suggestions: Outcomes { flagged: 1, ..o(9, 4, 2, 3) },
        by_role: vec![
            RoleOutcomes { role: "agent/chronology".into(), outcomes: o(5, 3, 1, 1) },
            RoleOutcomes { role: "agent/objection-normaliser".into(), outcomes: o(3, 1, 0, 2) },
            RoleOutcomes { role: "owner".into(), outcomes: o(1, 0, 1, 0) },
        ],
        by_human: vec![],
        objections: ObjectionCounts {
            opened: 7,
            open: 3,
            addressed: 2,
            withdrawn: 1,
            accepted_residual: 1,
            blocking_open: 1,
        },
        first_ready_after_ms: Some(95 * 60_000),
        first_release_after_ms: None,
        access: Default::default(),
        edits: 31,
        series: Series {
            start_ms: 1_700_000_000_000,
            bucket_ms: 600_000,
            edits: vec![0, 2, 5, 3, 1, 0, 4, 6, 2, 1, 0, 0, 3, 2, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0],
            objections: vec![1, 0, 2, 0, 1, 0, 0, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0],
            suggestions: vec![0, 0, 0, 5, 2, 0, 0, 1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0],
        },
        handoff: trustroom_shared::handoff_stats::HandoffStats {
            held: vec![trustroom_shared::handoff_stats::HeldFor {
                kind: "owner".into(),
                holds: 2,
                open: 1,
                total_ms: 40 * 60_000,
                longest_ms: 30 * 60_000,
            }],
            releases: vec![],
            superseded: 0,
            withdrawn: 0,
            maintain: trustroom_shared::evidence::MaintainTime {
                maintained: 3,
                open: 1,
                median_ms: Some(12 * 60_000),
                worst_ms: Some(95 * 60_000),
            },
            downstream: Default::default(),
        },
    }
}

#[test]
fn stats_screen_draws_sparklines_outcomes_and_the_chronology_timeline() {
    let mut app = app_with(PRIVACY, room_with_suggestions());
    key(&mut app, KeyCode::Char('m'));
    let (tag, request) = app.room.outbox.queue.first().map(|o| (o.tag, o.request.clone())).expect("a stats request");
    assert!(matches!(request, Request::Stats { .. }), "{request:?}");
    let screen = render(&mut app, 120, 40);
    assert!(screen.contains("asking the server for the figures"), "{screen}");
    let state = app.room.replica.state.clone().expect("state");
    app.on_net(NetEvent::Reply { tag, result: Ok(serde_json::to_value(stats(&state)).expect("json")) });
    let screen = render(&mut app, 120, 40);
    for needle in [
        "edits (31)",
        "objections (7)",
        "suggestions (9)",
        "chronology",
        "rejected 33%",
        "09:14",
        "SL-0091",
        "to first ready 1h35m",
    ] {
        assert!(screen.contains(needle), "{needle} missing:\n{screen}");
    }
    insta::assert_snapshot!(screen);
    key(&mut app, KeyCode::Esc);
    assert!(app.screen.is_none());
}

//! Objections, owner decisions (hold, escalate, release) and the lanes and
//! audiences of a release.

use super::*;

#[test]
fn observers_cannot_type_and_get_told_why() {
    let mut app = app_as(OBSERVER);
    key(&mut app, KeyCode::Char('2'));
    key(&mut app, KeyCode::Char('i'));
    typ(&mut app, "abc");
    assert!(edits(&app).is_empty());
    assert!(app.status.notices.iter().any(|n| n.text.contains("read-only: observer")));
}

#[test]
fn reviewer_raises_an_objection_from_the_register() {
    let mut app = app_as(PRIVACY);
    key(&mut app, KeyCode::Char('r'));
    key(&mut app, KeyCode::Char('n'));
    typ(&mut app, "Scope is wrong");
    ctrl(&mut app, 'b');
    key(&mut app, KeyCode::Enter);
    let obj = app.room.outbox.queue.iter().find_map(|o| match &o.request {
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
    assert!(app.room.outbox.queue.is_empty(), "reviewers cannot accept residual");
    let mut owner = app_as(OWNER);
    key(&mut owner, KeyCode::Char('r'));
    key(&mut owner, KeyCode::Char('s'));
    key(&mut owner, KeyCode::Down);
    key(&mut owner, KeyCode::Down);
    key(&mut owner, KeyCode::Enter);
    assert!(owner.room.outbox.queue.is_empty(), "rationale required");
    typ(&mut owner, "handed to legal review");
    key(&mut owner, KeyCode::Enter);
    assert!(owner.room.outbox.queue.is_empty(), "accepted-residual is final: asks first");
    key(&mut owner, KeyCode::Char('y'));
    let sent = owner.room.outbox.queue.iter().find_map(|o| match &o.request {
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
    assert!(app.room.outbox.queue.is_empty());
    assert!(app.status.notices.iter().any(|n| n.text.contains("owner only")));
}

#[test]
fn hold_asks_for_a_reason() {
    let mut app = app_as(OWNER);
    key(&mut app, KeyCode::Char('H'));
    key(&mut app, KeyCode::Enter);
    assert!(app.room.outbox.queue.is_empty(), "empty reason refused");
    typ(&mut app, "waiting for trace keeper");
    key(&mut app, KeyCode::Enter);
    assert!(
        matches!(&app.room.outbox.queue[0].request, Request::Hold { reason, .. } if reason == "waiting for trace keeper")
    );
}

#[test]
fn escalate_asks_for_a_reason_and_confirmation() {
    let mut app = app_as(OWNER);
    key(&mut app, KeyCode::Char('E'));
    typ(&mut app, "second tenant suspected");
    key(&mut app, KeyCode::Enter);
    assert!(app.room.outbox.queue.is_empty(), "asks to confirm first");
    key(&mut app, KeyCode::Enter);
    assert!(matches!(&app.room.outbox.queue[0].request, Request::Escalate { .. }));
}

#[test]
fn release_sends_one_release_packet_of_the_reviewed_packet_revision_to_the_chosen_lane() {
    let mut st = room_state();
    st.objections.clear();
    st.sections[0].body = "[verified: TL-0412] Session S-19 opened at 09:14.".into();
    st.content_revision = 11;
    let mut app = app_with(OWNER, st);
    key(&mut app, KeyCode::Char('R'));
    key(&mut app, KeyCode::Char('3'));
    key(&mut app, KeyCode::Enter);
    assert!(!decided(&app), "asks for confirmation");
    let screen = render(&mut app, 110, 32);
    assert!(screen.contains("RELEASE packet rev 11 to account-governance · lane-reviewers"), "{screen}");
    key(&mut app, KeyCode::Char('y'));
    let sent = decisions_sent(&app);
    assert!(
        matches!(
            sent[..],
            [Request::ReleasePacket {
                lane: Lane::AccountGovernance,
                audience: Audience::LaneReviewers,
                packet_revision: 11,
                ..
            }]
        ),
        "one release_packet, no mark_ready: {sent:?}"
    );
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
    assert!(screen.contains("to privacy · lane-and-leads (content"), "{screen}");
    key(&mut app, KeyCode::Char('y'));
    assert!(
        matches!(
            decisions_sent(&app)[..],
            [Request::ReleasePacket { lane: Lane::Privacy, audience: Audience::LaneAndLeads, .. }]
        ),
        "one release_packet, no mark_ready: {:?}",
        decisions_sent(&app)
    );
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

use super::*;
use crate::change::{Change, Revision, apply};
use crate::ids::{ObjectionId, RoomId};
use crate::objection::{Anchor, ObjectionKind, StatusChange};
use crate::room::Member;

pub(crate) struct Fixture {
    pub state: RoomState,
    pub owner: UserId,
    pub privacy: UserId,
    pub legal: UserId,
    pub agent: UserId,
    pub section: SectionId,
}

pub(crate) fn change(state: &mut RoomState, author: UserId, change: Change) {
    let rev =
        Revision { revision: state.revision + 1, author, at_ms: 1_000 + state.revision as i64, client: None, change };
    apply(state, &rev).expect("applies");
}

pub(crate) fn fixture() -> Fixture {
    let mut state = RoomState::new(RoomId(uuid::Uuid::from_u128(1)), "Room".into(), 0);
    let owner = UserId(uuid::Uuid::from_u128(10));
    let privacy = UserId(uuid::Uuid::from_u128(11));
    let legal = UserId(uuid::Uuid::from_u128(12));
    let agent = UserId(uuid::Uuid::from_u128(13));
    for (user, name, role) in [
        (owner, "olive", Role::Owner),
        (privacy, "priya", Role::Reviewer { discipline: Discipline::Privacy }),
        (legal, "dan", Role::Reviewer { discipline: Discipline::Legal }),
        (agent, "bot", Role::Agent { agent_role: crate::role::AgentRole::Chronology }),
    ] {
        change(&mut state, owner, Change::MemberAdded { member: Member { user, name: name.into(), role } });
    }
    let section = SectionId(uuid::Uuid::from_u128(20));
    change(
        &mut state,
        owner,
        Change::SectionAdded {
            section,
            title: "Summary".into(),
            body: "# Summary\n\n[verified: TL-1] A fact.\n\n[restricted] See [[annex:A1]].".into(),
            after: None,
        },
    );
    let annex = Annex {
        id: AnnexId(uuid::Uuid::from_u128(30)),
        code: "A1".into(),
        title: "Tenants".into(),
        classification: "tenant-identifiers".into(),
        need_to_know: vec![privacy],
        sensitive: vec!["acct-4471-NWF".into()],
        sensitive_count: 1,
        content: Some("acct-4471-NWF".into()),
        salt: Some("00".into()),
        content_hash: "h".into(),
        at_ms: 0,
    };
    change(&mut state, owner, Change::AnnexAdded { annex });
    Fixture { state, owner, privacy, legal, agent, section }
}

pub(crate) fn set_body(f: &mut Fixture, body: &str) {
    let old = f.state.section(f.section).map(|s| s.body.clone()).unwrap_or_default();
    let op = crate::ot::TextOp::from_texts(&old, body);
    change(&mut f.state, f.owner, Change::SectionEdited { section: f.section, op });
}

fn object(f: &mut Fixture, blocking: bool, text: &str) -> ObjectionId {
    let id = ObjectionId(uuid::Uuid::from_u128(100 + f.state.objections.len() as u128));
    let objection = Objection {
        id,
        number: f.state.next_objection_number(),
        author: f.privacy,
        anchor: Anchor { section: f.section, statement: None, quote: None },
        kind: ObjectionKind::Wording,
        blocking,
        text: text.into(),
        status: ObjectionStatus::Open,
        rationale: None,
        replies: Vec::new(),
        history: Vec::new(),
        at_ms: 0,
        found_downstream: None,
    };
    change(&mut f.state, f.privacy, Change::ObjectionRaised { objection });
    id
}

fn cosign(f: &mut Fixture, user: UserId, name: &str, discipline: Option<Discipline>) {
    cosign_for(f, user, name, discipline, Some(Lane::Privacy), Audience::LaneReviewers);
}

pub(crate) fn cosign_for(
    f: &mut Fixture,
    user: UserId,
    name: &str,
    discipline: Option<Discipline>,
    lane: Option<Lane>,
    audience: Audience,
) {
    let cosignature = Cosignature {
        user,
        name: name.into(),
        role: "reviewer".into(),
        discipline,
        revision: f.state.content_revision,
        content_hash: content_hash(&f.state),
        lane,
        audience,
        at_ms: 5,
        voided_at: None,
    };
    change(&mut f.state, user, Change::Cosigned { cosignature });
}

fn require_privacy_and_legal(f: &mut Fixture) {
    let policy = ReleasePolicy { members: vec![], disciplines: vec![Discipline::Privacy, Discipline::Legal] };
    change(&mut f.state, f.owner, Change::ReleasePolicySet { policy });
}

fn cosign_kinds(blockers: &[Blocker]) -> Vec<String> {
    blockers.iter().filter(|b| b.is_cosign()).map(Blocker::describe).collect()
}

fn kinds(r: &Readiness) -> Vec<String> {
    r.blockers
        .iter()
        .map(|b| serde_json::to_value(b).ok().and_then(|v| v["blocker"].as_str().map(String::from)).unwrap_or_default())
        .collect()
}

#[test]
fn a_clean_room_is_clear_and_names_owner_annexes_and_lanes() {
    let f = fixture();
    let r = readiness(&f.state);
    assert!(r.is_clear(), "{:?}", r.blockers);
    assert_eq!(r.owners, vec![f.owner]);
    assert_eq!(r.held_annexes.len(), 1);
    assert_eq!(r.held_annexes[0].code, "A1");
    assert_eq!(r.lanes.len(), 3);
    assert!(r.boundary_checked);
    assert_eq!(r.content_revision, f.state.revision);
    assert_eq!(r.content_hash, content_hash(&f.state));
    assert_eq!(r.release.line, "DRAFTING");
    assert!(r.cosign.met);
}

#[test]
fn each_kind_of_content_blocker() {
    let mut f = fixture();
    set_body(
        &mut f,
        "[contested: O-7] Disputed.\n\nPlain claim.\n\n[verified:] Empty evidence.\n\n[restricted] [[annex:A9]]\n\nacct-4471-nwf leaked.",
    );
    let r = readiness(&f.state);
    assert_eq!(
        kinds(&r),
        [
            "unlinked_contested",
            "unsupported_statement",
            "unsupported_statement",
            "unknown_annex_reference",
            "unsupported_statement",
            "annex_boundary"
        ]
    );
    for b in &r.blockers {
        assert!(!b.describe().to_lowercase().contains("acct-4471-nwf"), "{}", b.describe());
    }
    let o = object(&mut f, true, "blocking and mentions ACCT-4471-NWF");
    let r = readiness(&f.state);
    let k = kinds(&r);
    assert_eq!(k[0], "open_blocking_objection");
    assert!(k.contains(&"annex_boundary_in_register".to_string()));
    assert!(r.blockers.iter().all(|b| !b.describe().contains("ACCT-4471-NWF")), "{:?}", r.blockers);
    // The contested statement links to O-1 once it exists and is open.
    set_body(&mut f, "[contested: O-1] Disputed.");
    let r = readiness(&f.state);
    assert_eq!(kinds(&r), ["open_blocking_objection", "annex_boundary_in_register"]);
    // Accepted-residual with a rationale: no blocker, listed as residual.
    let change_ = StatusChange {
        status: ObjectionStatus::AcceptedResidual,
        by: f.owner,
        rationale: Some("privacy lane decides".into()),
        at_ms: 0,
    };
    change(&mut f.state, f.owner, Change::ObjectionStatusChanged { objection: o, change: change_ });
    let r = readiness(&f.state);
    assert_eq!(kinds(&r), ["annex_boundary_in_register"]);
    assert_eq!(r.residual.len(), 1);
    assert_eq!(r.residual[0].rationale, "privacy lane decides");
    assert!(!r.residual[0].text.contains("ACCT"), "residual text is redacted: {}", r.residual[0].text);
}

#[test]
fn a_client_without_patterns_knows_it_did_not_check_the_boundary() {
    let mut f = fixture();
    set_body(&mut f, "[verified: X] acct-4471-NWF");
    let redacted = crate::view::redacted_state(&f.state);
    let r = readiness(&redacted);
    assert!(!r.boundary_checked);
    assert!(r.is_clear());
    assert!(!readiness(&f.state).is_clear());
}

#[test]
fn cosign_policy_met_unmet_and_voided_by_a_change() {
    let mut f = fixture();
    change(
        &mut f.state,
        f.owner,
        Change::ReleasePolicySet {
            policy: ReleasePolicy {
                members: vec![f.legal],
                disciplines: vec![Discipline::Privacy, Discipline::Privacy],
            },
        },
    );
    let r = readiness(&f.state);
    assert_eq!(r.cosign.policy.disciplines, vec![Discipline::Privacy], "normalized");
    assert_eq!(kinds(&r), ["cosignature_missing", "cosignature_missing"]);
    assert!(r.blockers[0].describe().contains("co-signature from dan"));
    assert!(r.blockers[1].describe().contains("co-signature from a privacy reviewer"));
    let u = f.privacy;
    cosign(&mut f, u, "priya", Some(Discipline::Privacy));
    let u = f.legal;
    cosign(&mut f, u, "dan", Some(Discipline::Legal));
    let r = readiness(&f.state);
    assert!(r.cosign.met, "{:?}", r.cosign);
    assert!(r.is_clear());
    // A non-content change keeps them.
    change(&mut f.state, f.owner, Change::ReleaseChanged { release: ReleaseState::Drafting });
    assert!(readiness(&f.state).cosign.met);
    // A content change voids both; the record says who signs again and what changed.
    let signed_at = f.state.content_revision;
    set_body(&mut f, "[verified: TL-2] Another fact.");
    let r = readiness(&f.state);
    assert!(!r.cosign.met);
    assert_eq!(r.cosign.must_sign_again.len(), 2);
    let again = &r.cosign.must_sign_again[0];
    assert_eq!(again.signed_revision, signed_at);
    assert_eq!(again.voided_at, f.state.revision);
    assert_eq!(again.changed, vec!["section \"Summary\"".to_string()]);
    assert!(r.blockers.iter().any(|b| b.describe().contains("priya (signed rev")), "{:?}", r.blockers);
    // The same member can't co-sign the same content twice.
    let u = f.privacy;
    cosign(&mut f, u, "priya", Some(Discipline::Privacy));
    let dup = Cosignature {
        user: f.privacy,
        name: "priya".into(),
        role: "reviewer".into(),
        discipline: Some(Discipline::Privacy),
        revision: f.state.content_revision,
        content_hash: content_hash(&f.state),
        lane: Some(Lane::Privacy),
        audience: Audience::LaneReviewers,
        at_ms: 6,
        voided_at: None,
    };
    let rev = Revision {
        revision: f.state.revision + 1,
        author: f.privacy,
        at_ms: 0,
        client: None,
        change: Change::Cosigned { cosignature: dup },
    };
    assert!(matches!(apply(&mut f.state, &rev), Err(crate::change::ApplyError::Conflict(_))));
    assert_eq!(f.state.cosignatures.iter().filter(|c| c.user == f.privacy).count(), 1, "one entry per member");
}

#[test]
fn cosignatures_cover_only_their_lane() {
    let mut f = fixture();
    require_privacy_and_legal(&mut f);
    let (p, l) = (f.privacy, f.legal);
    cosign_for(&mut f, p, "priya", Some(Discipline::Privacy), Some(Lane::Privacy), Audience::LaneReviewers);
    cosign_for(&mut f, l, "dan", Some(Discipline::Legal), Some(Lane::Privacy), Audience::LaneReviewers);
    let r = readiness(&f.state);
    assert!(r.cosign.met && r.is_clear(), "{:?}", r.blockers);
    assert!(release_blockers(&f.state, Lane::Privacy, Audience::LaneReviewers).is_empty());
    // Another lane: refused, naming the lane and what is missing.
    let other = release_blockers(&f.state, Lane::ProductSecurity, Audience::LaneReviewers);
    assert_eq!(
        cosign_kinds(&other),
        [
            "co-signature from a privacy reviewer is missing for the product-security lane (audience lane-reviewers or wider)",
            "co-signature from a legal reviewer is missing for the product-security lane (audience lane-reviewers or wider)",
        ]
    );
    let cover = r.cosign.cover(Lane::ProductSecurity, Audience::LaneReviewers).expect("cover");
    assert!(!cover.met);
    assert_eq!(cover.missing.len(), 2);
    let cover = r.cosign.cover(Lane::Privacy, Audience::LaneReviewers).expect("cover");
    assert!(cover.met && cover.missing.is_empty());
    assert_eq!(cover.signers, ["dan", "priya"]);
    assert_eq!(r.cosign.covers.len(), 9, "every lane × audience");
    assert_eq!(r.cosign.widest(Lane::Privacy), Some(Audience::LaneReviewers));
    assert_eq!(r.cosign.widest(Lane::AccountGovernance), None);
    // Signing for product-security too keeps the privacy co-signature.
    cosign_for(&mut f, p, "priya", Some(Discipline::Privacy), Some(Lane::ProductSecurity), Audience::LaneReviewers);
    cosign_for(&mut f, l, "dan", Some(Discipline::Legal), Some(Lane::ProductSecurity), Audience::LaneReviewers);
    assert_eq!(f.state.cosignatures.iter().filter(|c| c.user == p && c.is_valid()).count(), 2, "one per lane");
    assert!(release_blockers(&f.state, Lane::Privacy, Audience::LaneReviewers).is_empty());
    assert!(release_blockers(&f.state, Lane::ProductSecurity, Audience::LaneReviewers).is_empty());
}

#[test]
fn a_narrower_audience_does_not_cover_a_wider_release_and_a_wider_one_covers_narrower() {
    let mut f = fixture();
    require_privacy_and_legal(&mut f);
    let (p, l) = (f.privacy, f.legal);
    cosign_for(&mut f, p, "priya", Some(Discipline::Privacy), Some(Lane::Privacy), Audience::Organisation);
    cosign_for(&mut f, l, "dan", Some(Discipline::Legal), Some(Lane::Privacy), Audience::LaneAndLeads);
    for audience in [Audience::LaneReviewers, Audience::LaneAndLeads] {
        assert!(release_blockers(&f.state, Lane::Privacy, audience).is_empty(), "{audience}");
    }
    let wide = release_blockers(&f.state, Lane::Privacy, Audience::Organisation);
    assert_eq!(
        cosign_kinds(&wide),
        ["co-signature from a legal reviewer is missing for the privacy lane (audience organisation or wider)"]
    );
    let r = readiness(&f.state);
    assert_eq!(r.cosign.widest(Lane::Privacy), Some(Audience::LaneAndLeads));
    let cover = r.cosign.cover(Lane::Privacy, Audience::Organisation).expect("cover");
    assert_eq!((cover.met, cover.signers.clone()), (false, vec!["priya".to_string()]));
    // Re-signing the same lane replaces the earlier co-signature (wider now).
    cosign_for(&mut f, l, "dan", Some(Discipline::Legal), Some(Lane::Privacy), Audience::Organisation);
    assert_eq!(f.state.cosignatures.iter().filter(|c| c.user == l).count(), 1);
    assert!(release_blockers(&f.state, Lane::Privacy, Audience::Organisation).is_empty());
}

#[test]
fn a_change_voids_scoped_cosignatures_for_every_lane() {
    let mut f = fixture();
    require_privacy_and_legal(&mut f);
    let (p, l) = (f.privacy, f.legal);
    for lane in [Lane::Privacy, Lane::ProductSecurity] {
        cosign_for(&mut f, p, "priya", Some(Discipline::Privacy), Some(lane), Audience::LaneReviewers);
        cosign_for(&mut f, l, "dan", Some(Discipline::Legal), Some(lane), Audience::LaneReviewers);
    }
    set_body(&mut f, "[verified: TL-2] Changed.");
    let r = readiness(&f.state);
    assert!(!r.cosign.met);
    assert!(r.cosign.covers.iter().all(|c| !c.met));
    assert_eq!(r.cosign.must_sign_again.len(), 4, "{:?}", r.cosign.must_sign_again);
    let privacy = release_blockers(&f.state, Lane::Privacy, Audience::LaneReviewers);
    let described = cosign_kinds(&privacy);
    assert!(
        described[0].contains("voided by a later change: priya (signed rev")
            && described[0].contains("for privacy · lane-reviewers)"),
        "{described:?}"
    );
    // Signing privacy again leaves product-security still to sign.
    cosign_for(&mut f, p, "priya", Some(Discipline::Privacy), Some(Lane::Privacy), Audience::LaneReviewers);
    cosign_for(&mut f, l, "dan", Some(Discipline::Legal), Some(Lane::Privacy), Audience::LaneReviewers);
    let r = readiness(&f.state);
    assert!(r.cosign.met && r.is_clear());
    assert_eq!(r.cosign.must_sign_again.len(), 2);
    assert!(r.cosign.must_sign_again.iter().all(|s| s.lane == Some(Lane::ProductSecurity)));
    assert!(!release_blockers(&f.state, Lane::ProductSecurity, Audience::LaneReviewers).is_empty());
}

#[test]
fn a_legacy_cosignature_without_a_lane_covers_nothing() {
    let mut f = fixture();
    require_privacy_and_legal(&mut f);
    let (p, l) = (f.privacy, f.legal);
    cosign_for(&mut f, p, "priya", Some(Discipline::Privacy), None, Audience::Organisation);
    cosign_for(&mut f, l, "dan", Some(Discipline::Legal), None, Audience::Organisation);
    let r = readiness(&f.state);
    assert!(!r.cosign.met);
    assert!(r.cosign.requirements.iter().all(|q| q.met_by.is_none()));
    assert_eq!(cosign_kinds(&r.blockers).len(), 2);
    for lane in Lane::ALL {
        for audience in Audience::ALL {
            assert_eq!(cosign_kinds(&release_blockers(&f.state, lane, audience)).len(), 2, "{lane} {audience}");
        }
    }
    // Signing for a lane replaces the legacy co-signature.
    cosign_for(&mut f, p, "priya", Some(Discipline::Privacy), Some(Lane::Privacy), Audience::LaneReviewers);
    assert_eq!(f.state.cosignatures.iter().filter(|c| c.user == p).count(), 1);
}

#[test]
fn requirements_met_in_different_lanes_cover_no_lane() {
    let mut f = fixture();
    require_privacy_and_legal(&mut f);
    let (p, l) = (f.privacy, f.legal);
    cosign_for(&mut f, p, "priya", Some(Discipline::Privacy), Some(Lane::Privacy), Audience::LaneReviewers);
    cosign_for(&mut f, l, "dan", Some(Discipline::Legal), Some(Lane::ProductSecurity), Audience::LaneReviewers);
    let r = readiness(&f.state);
    assert!(!r.cosign.met);
    let cos = cosign_kinds(&r.blockers);
    assert_eq!(cos.len(), 1, "{cos:?}");
    assert!(
        cos[0].contains("split across lanes") && cos[0].contains("privacy lacks co-signature from a legal reviewer"),
        "{cos:?}"
    );
}

#[test]
fn an_agent_or_a_wrong_discipline_never_meets_a_discipline() {
    let mut f = fixture();
    change(
        &mut f.state,
        f.owner,
        Change::ReleasePolicySet { policy: ReleasePolicy { members: vec![], disciplines: vec![Discipline::Privacy] } },
    );
    let u = f.agent;
    cosign(&mut f, u, "bot", None);
    let u = f.legal;
    cosign(&mut f, u, "dan", Some(Discipline::Legal));
    assert!(!readiness(&f.state).cosign.met);
}

#[test]
fn release_status_lines_show_staleness() {
    let mut f = fixture();
    let c = f.state.content_revision;
    change(
        &mut f.state,
        f.owner,
        Change::ReleaseChanged { release: ReleaseState::Ready { revision: c, by: f.owner, at_ms: 0 } },
    );
    assert_eq!(release_status(&f.state).line, format!("READY at rev {c}"));
    let released = ReleaseState::Released {
        revision: c,
        content_hash: content_hash(&f.state),
        lane: Lane::Privacy,
        by: f.owner,
        at_ms: 0,
    };
    change(&mut f.state, f.owner, Change::ReleaseChanged { release: released });
    assert_eq!(release_status(&f.state).line, format!("RELEASED rev {c} (privacy lane)"));
    set_body(&mut f, "[verified: TL-2] Changed.");
    let m = f.state.revision;
    assert_eq!(release_status(&f.state).line, format!("RELEASED rev {c} — superseded at rev {m} (privacy lane)"));
    set_body(&mut f, "[verified: TL-3] Changed again.");
    assert_eq!(f.state.last_release.as_ref().and_then(|l| l.superseded_at), Some(m), "the first change supersedes");
    change(
        &mut f.state,
        f.owner,
        Change::ReleaseChanged { release: ReleaseState::Held { reasons: vec!["fix".into()], by: f.owner, at_ms: 0 } },
    );
    let s = release_status(&f.state);
    assert_eq!(s.line, format!("HELD: fix · last release: RELEASED rev {c} — superseded at rev {m}"));
    change(
        &mut f.state,
        f.owner,
        Change::ReleaseChanged { release: ReleaseState::Ready { revision: c, by: f.owner, at_ms: 0 } },
    );
    assert!(release_status(&f.state).ready_stale);
}

#[test]
fn a_reopened_blocking_objection_blocks_again_and_its_closed_suggestions_stay_closed() {
    use crate::ids::SuggestionId;
    use crate::role::AgentRole;
    use crate::suggestion::{Proposal, RegisterProposal, Suggestion, SuggestionStatus};
    let mut f = fixture();
    let o = object(&mut f, true, "Scope is wider");
    set_body(&mut f, "[contested: O-1] Disputed.");
    let suggestion = Suggestion {
        id: SuggestionId(uuid::Uuid::from_u128(500)),
        number: 1,
        proposer: f.agent,
        proposer_role: Role::Agent { agent_role: AgentRole::ObjectionNormaliser },
        proposal: Proposal::Register {
            change: RegisterProposal::SetKind { objection: o, kind: ObjectionKind::ExposureScope },
        },
        rationale: "scope, not wording".into(),
        evidence: vec![],
        status: SuggestionStatus::Open,
        flags: vec![],
        proposed_revision: f.state.revision,
        revision: f.state.revision,
        conflict: None,
        decision: None,
        at_ms: 0,
    };
    let sid = suggestion.id;
    change(&mut f.state, f.agent, Change::SuggestionProposed { suggestion });
    assert_eq!(kinds(&readiness(&f.state)), ["open_blocking_objection"]);

    let status = |status, by| StatusChange { status, by, rationale: Some("SL-0093".into()), at_ms: 0 };
    change(
        &mut f.state,
        f.legal,
        Change::ObjectionStatusChanged { objection: o, change: status(ObjectionStatus::Addressed, f.legal) },
    );
    // Addressed: no blocker, but the contested statement now links to no open objection.
    assert_eq!(kinds(&readiness(&f.state)), ["unlinked_contested"]);
    assert_eq!(f.state.suggestions.suggestions[&sid].status, SuggestionStatus::Conflicting);

    let reopen = StatusChange { status: ObjectionStatus::Open, by: f.privacy, rationale: None, at_ms: 0 };
    change(&mut f.state, f.privacy, Change::ObjectionStatusChanged { objection: o, change: reopen });
    let ob = &f.state.objections[&o];
    assert!(ob.is_open() && ob.rationale.is_none());
    assert_eq!(
        ob.history.iter().map(|h| h.status).collect::<Vec<_>>(),
        [ObjectionStatus::Addressed, ObjectionStatus::Open]
    );
    // Reopened: it blocks again and the contested statement links to it again.
    assert_eq!(kinds(&readiness(&f.state)), ["open_blocking_objection"]);
    // The suggestion closed with it is not resurrected.
    assert_eq!(f.state.suggestions.suggestions[&sid].status, SuggestionStatus::Conflicting);

    // withdrawn is final: replaying a reopen after it is refused.
    change(
        &mut f.state,
        f.privacy,
        Change::ObjectionStatusChanged { objection: o, change: status(ObjectionStatus::Withdrawn, f.privacy) },
    );
    let rev = Revision {
        revision: f.state.revision + 1,
        author: f.privacy,
        at_ms: 0,
        client: None,
        change: Change::ObjectionStatusChanged {
            objection: o,
            change: StatusChange { status: ObjectionStatus::Open, by: f.privacy, rationale: None, at_ms: 0 },
        },
    };
    assert!(apply(&mut f.state, &rev).is_err());
    assert_eq!(f.state.objections[&o].status, ObjectionStatus::Withdrawn);
}

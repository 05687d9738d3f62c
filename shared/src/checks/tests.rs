//! Unit and property tests for the room checks.

use proptest::prelude::*;

use super::*;
use crate::access::tests::fixture;
use crate::access::{
    AccessRequest, AccessScope, Decided, Promotion, PromotionStatus, Provenance, RequestStatus, Sealed, passage_hash,
};
use crate::change::Change;
use crate::ids::{AccessRequestId, PromotionId};

fn set_body(state: &mut RoomState, body: &str) {
    let s = &mut state.sections[0];
    s.body = body.to_string();
    s.len = body.chars().count();
    s.revision += 1;
}

#[test]
fn boundary_names_section_and_position_case_insensitively() {
    let mut f = fixture();
    assert!(evaluate(&f.state, 0).is_empty());
    set_body(&mut f.state, "Héllo ACCT-4471-nwf here, and relay ssr-55810.");
    let r = evaluate(&f.state, 0);
    assert_eq!(r.len(), 1);
    assert_eq!(r[0].check, CheckKind::AnnexBoundary);
    let v = &r[0].violations;
    assert_eq!(v.len(), 2);
    assert_eq!(v[0].position, Some(6));
    assert_eq!(v[0].annex.as_deref(), Some("A1"));
    assert_eq!(v[1].annex.as_deref(), Some("A2"));
    let shown = serde_json::to_string(&r).unwrap_or_default().to_lowercase();
    assert!(!shown.contains("4471") && !shown.contains("55810"), "results never carry a pattern: {shown}");
    // A title leak too.
    f.state.sections[0].title = "About acct-4471-NWF".into();
    let r = evaluate(&f.state, 0);
    assert!(r[0].violations.iter().any(|v| v.position.is_none()));
    assert!(!serde_json::to_string(&r).unwrap_or_default().contains("4471"));
}

#[test]
fn a_redacted_state_cannot_see_leaks_but_shows_the_published_result() {
    let mut f = fixture();
    set_body(&mut f.state, "acct-4471-NWF");
    let results = evaluate(&f.state, 0);
    let mut client = crate::view::redacted_state(&f.state);
    assert!(boundary_violations(&client).is_empty());
    client.access.checks = results;
    assert_eq!(boundary_blocking(&client).len(), 1);
    let blockers = crate::readiness::readiness(&client).blockers;
    assert!(blockers.iter().any(|b| matches!(b, crate::readiness::Blocker::AnnexBoundary { .. })));
}

#[test]
fn an_approved_promotion_exempts_exactly_its_passage() {
    let mut f = fixture();
    let passage = "Tenant acct-4471-NWF is Northwind.";
    set_body(&mut f.state, &format!("Intro.\n\n[verified: annex:A1] {passage}\n\nAlso acct-4471-NWF."));
    let before = boundary_violations(&f.state);
    assert_eq!(before.len(), 2);
    let p = Promotion {
        id: PromotionId::new(),
        number: 1,
        requester: f.reader,
        annex: f.annex,
        section: f.section,
        reason: "needed in summary".into(),
        passage_chars: passage.chars().count(),
        passage_hash: Some(passage_hash(passage)),
        passage: Some(Sealed(passage.into())),
        at_ms: 0,
        status: PromotionStatus::Requested,
        decided: None,
        provenance: None,
    };
    let id = p.id;
    f.apply(f.reader, Change::PromotionRequested { promotion: p }).expect("request");
    assert_eq!(boundary_violations(&f.state).len(), 2, "a pending promotion exempts nothing");
    let prov = Provenance {
        annex: f.annex,
        annex_code: "A1".into(),
        passage_hash: passage_hash(passage),
        approver: f.owner,
        approved_at_ms: 1,
        inserted_revision: 99,
    };
    f.apply(
        f.owner,
        Change::PromotionDecided {
            promotion: id,
            decided: Decided { by: f.owner, note: None, at_ms: 1 },
            provenance: Some(prov),
        },
    )
    .expect("approve");
    let after = boundary_violations(&f.state);
    assert_eq!(after.len(), 1, "only the copy outside the promoted passage remains");
    assert!(after[0].position > before[0].position);
    assert!(
        f.apply(
            f.owner,
            Change::PromotionDecided {
                promotion: id,
                decided: Decided { by: f.owner, note: None, at_ms: 2 },
                provenance: None
            }
        )
        .is_err()
    );
}

#[test]
fn overrides_cover_exactly_what_they_saw_and_lapse() {
    let mut f = fixture();
    set_body(&mut f.state, "acct-4471-NWF is a false positive here");
    let r = evaluate(&f.state, 0);
    let o = CheckOverride {
        check: CheckKind::AnnexBoundary,
        rationale: "false positive".into(),
        by: f.owner,
        at_ms: 0,
        covered: r[0].covered.clone(),
        revision: 12,
        lapsed_at: None,
    };
    f.apply(f.owner, Change::ChecksEvaluated { checks: r }).expect("publish");
    f.apply(f.owner, Change::CheckOverridden { check_override: o }).expect("override");
    let r = evaluate(&f.state, 0);
    assert!(r[0].overridden);
    assert!(lapsing(&f.state, &r).is_empty());
    assert!(boundary_blocking(&f.state).is_empty());
    assert!(crate::readiness::readiness(&f.state).overrides.len() == 1);
    // The covered text changes: the override lapses.
    set_body(&mut f.state, "acct-4471-NWF is a false positive here, edited");
    let r = evaluate(&f.state, 0);
    assert!(!r[0].overridden);
    assert_eq!(lapsing(&f.state, &r), vec![CheckKind::AnnexBoundary]);
    assert_eq!(boundary_blocking(&f.state).len(), 1);
    f.apply(SYSTEM_USER, Change::CheckOverrideLapsed { check: CheckKind::AnnexBoundary }).expect("lapse");
    assert!(f.state.access.overrides[0].lapsed_at.is_some());
    assert!(active_override(&f.state, CheckKind::AnnexBoundary).is_none());
}

const SYSTEM_USER: UserId = crate::access::SYSTEM;

#[test]
fn release_rules_fail_after_ready_and_stay_failing_while_held() {
    let mut f = fixture();
    f.state.release = ReleaseState::Ready { revision: 10, by: f.owner, at_ms: 0 };
    f.state.content_revision = 10;
    assert!(evaluate(&f.state, 0).is_empty());
    f.state.content_revision = 11;
    let r = evaluate(&f.state, 0);
    assert_eq!(r.len(), 1);
    assert_eq!(r[0].check, CheckKind::ReleaseRules);
    assert_eq!(r[0].ready_revision, Some(10));
    f.state.access.checks = r;
    f.state.release =
        ReleaseState::Held { reasons: vec![CheckKind::ReleaseRules.hold_reason()], by: SYSTEM_USER, at_ms: 0 };
    assert_eq!(evaluate(&f.state, 0).len(), 1, "still failing while held for it");
    f.state.release = ReleaseState::Ready { revision: 12, by: f.owner, at_ms: 0 };
    assert!(evaluate(&f.state, 0).is_empty(), "passes once marked ready again");
}

#[test]
fn access_validity_fails_for_grants_and_break_glass_past_their_end() {
    let mut f = fixture();
    let r = AccessRequest {
        id: AccessRequestId::new(),
        number: 1,
        requester: f.reviewer,
        annex: f.annex,
        scope: AccessScope::Read,
        reason: "x".into(),
        duration_ms: 1_000,
        at_ms: 0,
        status: RequestStatus::Approved,
        decided: Some(Decided { by: f.owner, note: None, at_ms: 0 }),
        expires_at: Some(1_000),
        ended: None,
        folds: vec![],
    };
    f.state.access.requests.insert(r.id, r);
    assert!(evaluate(&f.state, 999).is_empty());
    let res = evaluate(&f.state, 1_000);
    assert_eq!(res.len(), 1);
    assert_eq!(res[0].check, CheckKind::AccessValidity);
    f.state.members.remove(&f.reviewer);
    assert_eq!(evaluate(&f.state, 500).len(), 1, "held by a former member");
}

#[test]
fn check_names_parse() {
    assert_eq!("annex-boundary".parse::<CheckKind>().ok(), Some(CheckKind::AnnexBoundary));
    assert_eq!("RELEASE_RULES".parse::<CheckKind>().ok(), Some(CheckKind::ReleaseRules));
    assert!("nope".parse::<CheckKind>().is_err());
}

proptest! {
    /// Every reported position points at a case-insensitive copy of one of
    /// the annex's patterns, and every copy is reported.
    #[test]
    fn boundary_positions_are_exact(prefix in "[a-zé ]{0,20}", mid in "[a-z ]{0,10}", upper in any::<bool>()) {
        let mut f = fixture();
        let p = if upper { "ACCT-4471-NWF" } else { "acct-4471-nwf" };
        let body = format!("{prefix}{p}{mid}{p}");
        set_body(&mut f.state, &body);
        let v = boundary_violations(&f.state);
        prop_assert_eq!(v.len(), 2);
        let chars: Vec<char> = body.chars().collect();
        for x in &v {
            let pos = x.position.unwrap_or(usize::MAX);
            let found: String = chars[pos..pos + 13].iter().collect();
            prop_assert_eq!(found.to_lowercase(), "acct-4471-nwf");
        }
    }
}

proptest! {
    // The pre-check in `section_boundary` must never hide a match the full
    // char-by-char search finds, nor claim one it does not (mixed case,
    // non-ASCII letters whose lowercase differs in length, combining marks).
    #[test]
    fn folded_substring_search_agrees_with_the_char_search(
        hay in "[aAbBİıÉé\u{301}ß ]{0,40}",
        needle in "[aAbBİıÉé\u{301}ß]{1,4}",
    ) {
        let h: Vec<char> = hay.chars().map(fold_char).collect();
        let n: Vec<char> = needle.chars().map(fold_char).collect();
        prop_assert_eq!(fold_str(&hay).contains(fold_str(&needle).as_str()), !find_ci(&h, &n).is_empty());
    }
}

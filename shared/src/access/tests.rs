//! Unit and property tests for the access records and rules.

use proptest::prelude::*;

use super::*;
use crate::annex::Annex;
use crate::change::{ApplyError, Change, Revision};
use crate::ids::{AccessRequestId, AnnexId, BreakGlassId, ObjectionId, PromotionId, RoomId, SectionId, UserId};
use crate::policy::Capability;
use crate::release::ReleaseState;
use crate::role::Role;
use crate::room::{Member, RoomState, Section};

pub(crate) struct Fixture {
    pub state: RoomState,
    pub owner: UserId,
    pub owner2: UserId,
    pub reviewer: UserId,
    pub reader: UserId,
    pub annex: AnnexId,
    pub other_annex: AnnexId,
    pub section: SectionId,
    rev: u64,
}

pub(crate) fn fixture() -> Fixture {
    let mut state = RoomState::new(RoomId::new(), "Room".into(), 0);
    let owner = UserId::new();
    let owner2 = UserId::new();
    let reviewer = UserId::new();
    let reader = UserId::new();
    for (u, name, role) in [
        (owner, "olga", Role::Owner),
        (owner2, "otto", Role::Owner),
        (reviewer, "rita", Role::Reviewer { discipline: crate::role::Discipline::Privacy }),
        (reader, "nina", Role::Observer),
    ] {
        state.members.insert(u, Member { user: u, name: name.into(), role });
    }
    let section = SectionId::new();
    state.sections.push(Section::new(section, "Summary".into(), "[verified: X-1] Fine.".into(), 1));
    let mk = |code: &str, allow: Vec<UserId>, pattern: &str, content: &str| Annex {
        id: AnnexId::new(),
        code: code.into(),
        title: format!("Annex {code}"),
        classification: "tenant-identifiers".into(),
        need_to_know: allow,
        sensitive: vec![pattern.into()],
        sensitive_count: 1,
        content: Some(content.into()),
        salt: Some("s".into()),
        content_hash: "h".into(),
        at_ms: 0,
    };
    let a1 = mk("A1", vec![reader], "acct-4471-NWF", "Tenant acct-4471-NWF is Northwind.");
    let a2 = mk("A2", vec![], "SSR-55810", "Relay SSR-55810.");
    let (annex, other_annex) = (a1.id, a2.id);
    state.annexes.insert(a1.id, a1);
    state.annexes.insert(a2.id, a2);
    state.revision = 10;
    Fixture { state, owner, owner2, reviewer, reader, annex, other_annex, section, rev: 10 }
}

impl Fixture {
    pub(crate) fn apply(&mut self, author: UserId, change: Change) -> Result<(), ApplyError> {
        self.rev += 1;
        let rev = Revision { revision: self.rev, author, at_ms: 0, client: None, change };
        let r = crate::change::apply(&mut self.state, &rev);
        if r.is_err() {
            self.rev -= 1;
        }
        r
    }

    pub(crate) fn request(
        &mut self,
        requester: UserId,
        annex: AnnexId,
        duration_ms: u64,
        at_ms: i64,
    ) -> AccessRequestId {
        let r = AccessRequest {
            id: AccessRequestId::new(),
            number: self.state.access.next_request_number(),
            requester,
            annex,
            scope: AccessScope::Read,
            reason: "CASE-88412 scope check".into(),
            duration_ms,
            at_ms,
            status: RequestStatus::Requested,
            decided: None,
            expires_at: None,
            ended: None,
            folds: Vec::new(),
        };
        let id = r.id;
        self.apply(requester, Change::AccessRequested { request: r }).expect("request applies");
        id
    }

    pub(crate) fn approve(&mut self, request: AccessRequestId, by: UserId, at_ms: i64) {
        let d = self.state.access.requests[&request].duration_ms;
        self.apply(
            by,
            Change::AccessDecided {
                request,
                approved: true,
                decided: Decided { by, note: None, at_ms },
                expires_at: Some(at_ms + d as i64),
            },
        )
        .expect("approval applies");
    }
}

#[test]
fn reasons_need_words_of_a_minimum_length_and_the_pattern() {
    let mut p = AccessPolicy::default();
    assert!(check_reason(&p, ".").is_err());
    assert!(check_reason(&p, "..........").is_err());
    assert!(check_reason(&p, "aaaaaaaaaaaa").is_err());
    assert!(check_reason(&p, "short").is_err());
    assert_eq!(check_reason(&p, "  need to verify scope  ").as_deref(), Ok("need to verify scope"));
    p.reason_pattern = Some(r"CASE-\d{3,}".into());
    assert!(p.validate().is_ok());
    assert!(check_reason(&p, "need to verify scope").is_err());
    assert!(check_reason(&p, "need it for CASE-88412").is_ok());
    p.reason_pattern = Some("(".into());
    assert!(p.validate().is_err());
}

#[test]
fn durations_default_and_limits() {
    let p = AccessPolicy::default();
    assert_eq!(grant_duration(&p, None), Ok(2 * HOUR_MS));
    assert_eq!(grant_duration(&p, Some(24 * HOUR_MS)), Ok(24 * HOUR_MS));
    assert!(grant_duration(&p, Some(24 * HOUR_MS + 1)).is_err());
    assert!(grant_duration(&p, Some(0)).is_err());
    assert_eq!(break_glass_duration(None), Ok(30 * MINUTE_MS));
    assert_eq!(break_glass_duration(Some(30 * MINUTE_MS)), Ok(30 * MINUTE_MS));
    assert!(break_glass_duration(Some(31 * MINUTE_MS)).is_err());
    assert!(break_glass_duration(Some(30 * MINUTE_MS + 1)).is_err());
    assert_eq!(parse_duration("2h"), Ok(2 * HOUR_MS));
    assert_eq!(parse_duration("1h30m"), Ok(90 * MINUTE_MS));
    assert_eq!(parse_duration("45"), Ok(45 * SECOND_MS));
    assert!(parse_duration("2x").is_err());
    assert!(parse_duration("h").is_err());
    assert!(parse_duration("5").is_ok());
    assert!(parse_duration("1h5").is_err());
    assert_eq!(format_duration(90 * MINUTE_MS), "1h30m");
}

#[test]
fn duration_choices_stay_within_the_rooms_longest_grant_and_hold_its_default() {
    let default = AccessPolicy::default();
    assert_eq!(duration_choices(&default), vec![15 * MINUTE_MS, HOUR_MS, 2 * HOUR_MS, 4 * HOUR_MS, DAY_MS]);
    let short = AccessPolicy { default_duration_ms: HOUR_MS, max_duration_ms: 3 * HOUR_MS, ..AccessPolicy::default() };
    assert_eq!(duration_choices(&short), vec![15 * MINUTE_MS, HOUR_MS, 3 * HOUR_MS], "the maximum itself is offered");
    let tiny = AccessPolicy { default_duration_ms: 5 * MINUTE_MS, max_duration_ms: 10 * MINUTE_MS, ..default.clone() };
    assert_eq!(duration_choices(&tiny), vec![5 * MINUTE_MS, 10 * MINUTE_MS]);
    let long = AccessPolicy { max_duration_ms: 7 * DAY_MS, ..default };
    assert_eq!(*duration_choices(&long).last().expect("choices"), DAY_MS, "a day at most is offered");
    for p in [&short, &tiny, &long] {
        assert!(duration_choices(p).iter().all(|d| grant_duration(p, Some(*d)).is_ok()), "every choice is accepted");
    }
}

#[test]
fn lifecycle_is_one_way() {
    use RequestStatus::*;
    let all = [Requested, Approved, Denied, Withdrawn, Expired, Revoked];
    for from in all {
        for to in all {
            let ok = request_move_allowed(from, to);
            let expected =
                matches!((from, to), (Requested, Approved | Denied | Withdrawn) | (Approved, Expired | Revoked));
            assert_eq!(ok, expected, "{from} -> {to}");
        }
    }
}

#[test]
fn self_approval_is_impossible() {
    let f = fixture();
    assert_eq!(may_decide(&f.state, f.owner, f.owner), Err(DecideRefusal::OwnRequest));
    assert_eq!(may_decide(&f.state, f.reviewer, f.owner), Err(DecideRefusal::NotOwner));
    assert_eq!(may_decide(&f.state, f.owner2, f.owner), Ok(()));
    assert_eq!(may_decide(&f.state, f.owner, f.reviewer), Ok(()));
    assert_eq!(possible_approvers(&f.state, f.owner), vec![f.owner2]);
}

#[test]
fn access_is_need_to_know_or_active_grant_or_break_glass() {
    let mut f = fixture();
    assert_eq!(access_via(&f.state, f.reader, f.annex, Some(0)), Some(Via::NeedToKnow));
    assert_eq!(access_via(&f.state, f.reviewer, f.annex, Some(0)), None);
    let r = f.request(f.reviewer, f.annex, HOUR_MS, 0);
    assert_eq!(access_via(&f.state, f.reviewer, f.annex, Some(0)), None, "pending gives nothing");
    f.approve(r, f.owner, 1_000);
    let exp = 1_000 + HOUR_MS as i64;
    assert_eq!(access_via(&f.state, f.reviewer, f.annex, Some(exp - 1)), Some(Via::Grant { grant: r }));
    assert_eq!(access_via(&f.state, f.reviewer, f.annex, Some(exp)), None, "past expiry even before the timer");
    assert_eq!(access_via(&f.state, f.reviewer, f.other_annex, Some(0)), None, "grants are per annex");
    assert_eq!(annex_access(&f.state, f.reviewer), vec![f.annex]);
    assert_eq!(next_deadline(&f.state), Some(exp));
    assert_eq!(due_grants(&f.state, exp - 1), vec![]);
    assert_eq!(due_grants(&f.state, exp), vec![r]);
    let ended = Ended { at_ms: exp, by: SYSTEM, cause: EndCause::Expired, note: None };
    f.apply(SYSTEM, Change::GrantEnded { grant: r, ended: ended.clone() }).expect("expiry");
    assert_eq!(f.state.access.requests[&r].status, RequestStatus::Expired);
    assert_eq!(access_via(&f.state, f.reviewer, f.annex, None), None);
    // No resurrection: approving or ending again is refused.
    let again = Change::AccessDecided {
        request: r,
        approved: true,
        decided: Decided { by: f.owner, note: None, at_ms: exp },
        expires_at: Some(exp + 10),
    };
    assert!(matches!(f.apply(f.owner, again), Err(ApplyError::Conflict(_))));
    assert!(f.apply(SYSTEM, Change::GrantEnded { grant: r, ended }).is_err());

    // Break-glass: only the named annexes, only while active; never a grant.
    let bg = BreakGlass {
        id: BreakGlassId::new(),
        number: 1,
        user: f.reviewer,
        annexes: vec![f.other_annex],
        reason: "prod incident".into(),
        at_ms: exp,
        ends_at: exp + BREAK_GLASS_MAX_MS as i64,
        ended: None,
        review: None,
    };
    let bg_id = bg.id;
    f.apply(f.reviewer, Change::BreakGlassInvoked { invocation: bg }).expect("invoke");
    assert_eq!(access_via(&f.state, f.reviewer, f.other_annex, Some(exp)), Some(Via::BreakGlass { invocation: bg_id }));
    assert_eq!(access_via(&f.state, f.reviewer, f.annex, Some(exp)), None);
    assert!(f.state.access.requests.values().all(|r| r.requester != f.reviewer || !r.is_active_grant(None)));
    let end = Ended { at_ms: exp + 5, by: SYSTEM, cause: EndCause::Expired, note: None };
    let review = review_objection(&f.state, &f.state.access.break_glass[&bg_id], &end, ObjectionId::new());
    assert!(review.blocking && review.is_open());
    let review_id = review.id;
    f.apply(SYSTEM, Change::BreakGlassEnded { invocation: bg_id, ended: end, review }).expect("end");
    assert_eq!(access_via(&f.state, f.reviewer, f.other_annex, None), None);
    assert!(review_of(&f.state, review_id).is_some());
    assert!(crate::readiness::readiness(&f.state).blockers.iter().any(
        |b| matches!(b, crate::readiness::Blocker::OpenBlockingObjection { objection, .. } if *objection == review_id)
    ));
}

#[test]
fn break_glass_over_thirty_minutes_does_not_apply() {
    let mut f = fixture();
    let bg = BreakGlass {
        id: BreakGlassId::new(),
        number: 1,
        user: f.reviewer,
        annexes: vec![f.annex],
        reason: "prod incident".into(),
        at_ms: 0,
        ends_at: BREAK_GLASS_MAX_MS as i64 + 1,
        ended: None,
        review: None,
    };
    assert!(f.apply(f.reviewer, Change::BreakGlassInvoked { invocation: bg }).is_err());
}

#[test]
fn overlapping_requests_fold_and_never_stack() {
    let mut f = fixture();
    let r = f.request(f.reviewer, f.annex, HOUR_MS, 0);
    assert_eq!(fold_target(&f.state, f.reviewer, f.annex, AccessScope::Read, 0), Some((r, FoldInto::Pending)));
    assert_eq!(fold_target(&f.state, f.reviewer, f.other_annex, AccessScope::Read, 0), None);
    assert_eq!(fold_target(&f.state, f.owner, f.annex, AccessScope::Read, 0), None);
    let fold = Fold { reason: "more".into(), duration_ms: 3 * HOUR_MS, at_ms: 5, into: FoldInto::Pending };
    f.apply(f.reviewer, Change::AccessFolded { request: r, fold }).expect("fold");
    assert_eq!(f.state.access.requests[&r].duration_ms, 3 * HOUR_MS, "the longer duration, not the sum");
    f.approve(r, f.owner, 100);
    let exp = f.state.access.requests[&r].expires_at;
    assert_eq!(exp, Some(100 + 3 * HOUR_MS as i64));
    assert_eq!(fold_target(&f.state, f.reviewer, f.annex, AccessScope::Read, 200), Some((r, FoldInto::Grant)));
    let fold = Fold { reason: "again".into(), duration_ms: 10 * HOUR_MS, at_ms: 200, into: FoldInto::Grant };
    f.apply(f.reviewer, Change::AccessFolded { request: r, fold }).expect("fold into grant");
    assert_eq!(f.state.access.requests[&r].expires_at, exp, "a fold never extends a grant");
    assert_eq!(f.state.access.requests.len(), 1);
    assert_eq!(f.state.access.requests[&r].folds.len(), 2);
    // Once expired, a new request is a new record.
    assert_eq!(fold_target(&f.state, f.reviewer, f.annex, AccessScope::Read, exp.unwrap_or(0)), None);
}

#[test]
fn policy_updates_validate_and_normalize() {
    let mut f = fixture();
    let update = AccessPolicyUpdate {
        break_glass: Some(vec![f.reviewer, f.reviewer, f.owner]),
        retention_days: Some(7),
        ..Default::default()
    };
    let p = update.applied_to(&f.state.access.policy);
    assert_eq!(p.break_glass.len(), 2);
    f.apply(f.owner, Change::AccessPolicySet { policy: p }).expect("policy");
    assert_eq!(f.state.access.policy.retention_days, 7);
    let bad = AccessPolicy { default_duration_ms: 5 * DAY_MS, ..AccessPolicy::default() };
    assert!(f.apply(f.owner, Change::AccessPolicySet { policy: bad }).is_err());
    let cleared = AccessPolicyUpdate { reason_pattern: Some(String::new()), ..Default::default() };
    assert_eq!(
        cleared.applied_to(&AccessPolicy { reason_pattern: Some("x".into()), ..Default::default() }).reason_pattern,
        None
    );
}

#[test]
fn auditors_get_the_audit_capability() {
    let mut f = fixture();
    assert!(is_auditor(&f.state, f.owner));
    assert!(!is_auditor(&f.state, f.reviewer));
    f.state.access.policy.auditors.push(f.reviewer);
    assert!(is_auditor(&f.state, f.reviewer));
    let role = f.state.members[&f.reviewer].role;
    assert!(capabilities_of(&f.state, f.reviewer, &role).contains(&Capability::Audit));
}

#[test]
fn sealed_text_never_shows_in_debug_and_promotions_redact() {
    let s = Sealed("acct-4471-NWF".into());
    assert!(!format!("{s:?}").contains("4471"));
    let req = crate::protocol::Request::RequestPromotion {
        room: crate::ids::RoomId::new(),
        annex: AnnexId::new(),
        section: SectionId::new(),
        passage: s.clone(),
        reason: "r".into(),
        seq: None,
    };
    assert!(!format!("{req:?}").contains("4471"));
    let p = Promotion {
        id: PromotionId::new(),
        number: 1,
        requester: UserId::new(),
        annex: AnnexId::new(),
        section: SectionId::new(),
        reason: "r".into(),
        passage_chars: 13,
        passage_hash: Some(passage_hash(s.expose())),
        passage: Some(s),
        at_ms: 0,
        status: PromotionStatus::Requested,
        decided: None,
        provenance: None,
    };
    let red = p.redacted();
    assert!(red.passage.is_none() && red.passage_hash.is_none());
    let change = Change::PromotionRequested { promotion: p };
    assert!(!serde_json::to_string(&change.redacted()).unwrap_or_default().contains("4471"));
}

#[test]
fn scrubbing_removes_content_patterns_and_passages() {
    let mut f = fixture();
    let before = crate::canonical::content_hash(&f.state);
    let mut v = serde_json::to_value(&f.state).unwrap_or_default();
    assert!(scrub_json(&mut v));
    let text = v.to_string();
    assert!(!text.contains("Northwind") && !text.contains("acct-4471-NWF") && !text.contains("SSR-55810"), "{text}");
    assert!(text.contains("\"content_hash\":\"h\""));
    assert!(!scrub_json(&mut v), "idempotent");
    let (annexes, _) = scrub_state(&mut f.state);
    assert_eq!(annexes.len(), 2);
    assert_eq!(crate::canonical::content_hash(&f.state), before, "the content hash survives a purge");
    let mut change = Change::AnnexAdded { annex: f.state.annexes[&f.annex].clone() };
    scrub_change(&mut change);
    assert!(!serde_json::to_string(&change).unwrap_or_default().contains("Northwind"));
}

#[test]
fn retention_is_due_after_release_or_escalation() {
    let mut f = fixture();
    assert_eq!(retention_due_at(&f.state), None);
    f.state.release = ReleaseState::Escalated { reason: "r".into(), by: f.owner, at_ms: 1_000 };
    assert_eq!(retention_due_at(&f.state), Some(1_000 + 30 * DAY_MS as i64));
    assert_eq!(next_deadline(&f.state), Some(1_000 + 30 * DAY_MS as i64));
    f.state.access.purged = Some(Purge { at_ms: 0, due_ms: 0, annexes: vec![], passages: 0 });
    assert_eq!(retention_due_at(&f.state), None);
}

#[test]
fn names_resolve() {
    let mut f = fixture();
    let r = f.request(f.reviewer, f.annex, HOUR_MS, 0);
    assert_eq!(f.state.access.request_by_name("R-1").map(|x| x.id), Some(r));
    assert_eq!(f.state.access.request_by_name("r1").map(|x| x.id), Some(r));
    assert_eq!(f.state.access.request_by_name(&r.to_string()).map(|x| x.id), Some(r));
    assert!(f.state.access.request_by_name("R-2").is_none());
    assert!(f.state.access.request_by_name("R-0").is_none());
}

/// A random access event against the fixture.
#[derive(Clone, Debug)]
enum Op {
    Request(bool),
    Fold(usize, u64),
    Approve(usize, bool),
    Deny(usize),
    Withdraw(usize),
    Expire(usize),
    Revoke(usize),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        any::<bool>().prop_map(Op::Request),
        (0usize..6, 1u64..48).prop_map(|(i, h)| Op::Fold(i, h)),
        (0usize..6, any::<bool>()).prop_map(|(i, o)| Op::Approve(i, o)),
        (0usize..6).prop_map(Op::Deny),
        (0usize..6).prop_map(Op::Withdraw),
        (0usize..6).prop_map(Op::Expire),
        (0usize..6).prop_map(Op::Revoke),
    ]
}

proptest! {
    /// Whatever arrives in whatever order: statuses only move forward,
    /// records are never removed, a grant's expiry never moves once set,
    /// and at most one pending request and one active grant exist per
    /// (member, annex) when requests go through folding.
    #[test]
    fn lifecycle_invariants(ops in proptest::collection::vec(op(), 1..40)) {
        let mut f = fixture();
        let mut ids: Vec<AccessRequestId> = Vec::new();
        let mut now = 0i64;
        for op in ops {
            now += 1_000;
            let before = f.state.access.clone();
            let pick = |i: usize, ids: &Vec<AccessRequestId>| ids.get(i % ids.len().max(1)).copied();
            let result = match op {
                Op::Request(other) => {
                    let annex = if other { f.other_annex } else { f.annex };
                    match fold_target(&f.state, f.reviewer, annex, AccessScope::Read, now) {
                        Some((into_id, into)) => f.apply(f.reviewer, Change::AccessFolded {
                            request: into_id,
                            fold: Fold { reason: "again".into(), duration_ms: HOUR_MS, at_ms: now, into },
                        }),
                        None => { ids.push(f.request(f.reviewer, annex, HOUR_MS, now)); Ok(()) }
                    }
                }
                Op::Fold(i, h) => match pick(i, &ids) {
                    Some(id) => f.apply(f.reviewer, Change::AccessFolded {
                        request: id,
                        fold: Fold { reason: "x".into(), duration_ms: h * HOUR_MS, at_ms: now, into: FoldInto::Pending },
                    }),
                    None => Ok(()),
                },
                Op::Approve(i, own) => match pick(i, &ids) {
                    Some(id) => {
                        let by = if own { f.reviewer } else { f.owner };
                        if may_decide(&f.state, by, f.state.access.requests[&id].requester).is_err() {
                            Ok(())
                        } else {
                            f.apply(by, Change::AccessDecided { request: id, approved: true,
                                decided: Decided { by, note: None, at_ms: now }, expires_at: Some(now + HOUR_MS as i64) })
                        }
                    }
                    None => Ok(()),
                },
                Op::Deny(i) => match pick(i, &ids) {
                    Some(id) => f.apply(f.owner, Change::AccessDecided { request: id, approved: false,
                        decided: Decided { by: f.owner, note: None, at_ms: now }, expires_at: None }),
                    None => Ok(()),
                },
                Op::Withdraw(i) => match pick(i, &ids) {
                    Some(id) => f.apply(f.reviewer, Change::AccessWithdrawn { request: id, at_ms: now }),
                    None => Ok(()),
                },
                Op::Expire(i) | Op::Revoke(i) => match pick(i, &ids) {
                    Some(id) => {
                        let cause = if matches!(op, Op::Expire(_)) { EndCause::Expired } else { EndCause::Revoked };
                        f.apply(SYSTEM, Change::GrantEnded { grant: id, ended: Ended { at_ms: now, by: SYSTEM, cause, note: None } })
                    }
                    None => Ok(()),
                },
            };
            if result.is_err() {
                prop_assert_eq!(&f.state.access, &before, "a refused change leaves the state alone");
            }
            for (id, old) in &before.requests {
                let new = &f.state.access.requests[id];
                prop_assert!(old.status == new.status || request_move_allowed(old.status, new.status));
                if old.expires_at.is_some() {
                    prop_assert_eq!(old.expires_at, new.expires_at);
                }
                prop_assert!(new.folds.len() >= old.folds.len());
            }
            prop_assert!(f.state.access.requests.len() >= before.requests.len());
            for annex in [f.annex, f.other_annex] {
                let same = f.state.access.requests.values().filter(|r| r.annex == annex);
                prop_assert!(same.clone().filter(|r| r.is_pending()).count() <= 1);
                prop_assert!(same.filter(|r| r.is_active_grant(None)).count() <= 1);
            }
        }
    }

    #[test]
    fn durations_round_trip(secs in 1u64..10_000_000) {
        let ms = secs * SECOND_MS;
        prop_assert_eq!(parse_duration(&format_duration(ms)), Ok(ms));
    }

    #[test]
    fn reasons_below_the_minimum_are_refused(reason in "\\PC{0,9}") {
        prop_assert!(check_reason(&AccessPolicy::default(), &reason).is_err());
    }
}

//! Annex access governance inside the room actor: the access request
//! dispatcher, check overrides, the access policy, the access history
//! export, `view_annex`, and the room checks evaluated after every batch of
//! changes (ending the access of members who left, automatic holds), plus
//! the access helpers the sibling files share. Each concept has its own file,
//! named as in `trustroom_shared::access`:
//! - `clock.rs`: the actor's clock and timer (what is due, and when);
//! - `grants.rs`: access requests, decisions and the grants they become;
//! - `break_glass.rs`: break-glass invocations, their end and review;
//! - `promotion.rs`: promotions of annex passages into the packet;
//! - `retention.rs`: the retention purge and the storage scrub.
//!
//! The records and rules are pure functions in `trustroom_shared::access`
//! and `trustroom_shared::checks`; these files apply them.

use std::collections::HashMap;

use serde_json::{Value, json};
use trustroom_shared::UserId;
use trustroom_shared::access::{
    self as acc, AccessPolicyUpdate, EndCause, Ended, HistoryResult, RequestStatus, SYSTEM, Via,
};
use trustroom_shared::change::{Change, ClientStamp};
use trustroom_shared::checks::{self, CheckKind, CheckOverride, CheckResult, Violation};
use trustroom_shared::ids::{AccessRequestId, AnnexId, BreakGlassId, SectionId};
use trustroom_shared::protocol::{AnnexContent, ErrorCode, Request};
use trustroom_shared::release::ReleaseState;
use trustroom_shared::role::Role;

use super::requests::{Caller, ack, conflict, forbidden, invalid, text_field, to_value};
use super::{ADMIN_ACTOR, Answer, Batch, Refusal, Room};

pub(super) use super::clock::Wake;

/// Most annexes one request or break-glass may name.
const MAX_ANNEXES_PER_REQUEST: usize = 32;

/// An ask to read annexes, as an access request and a break-glass both
/// send it: who asks and when, the annexes, why, for how long, and the
/// request's idempotency stamp. Each checks it by its own rules (with
/// [`Room::checked_annexes`] and [`Room::reason`]).
pub(super) struct AnnexAsk {
    pub by: UserId,
    pub at_ms: i64,
    pub annexes: Vec<AnnexId>,
    pub reason: String,
    pub duration_ms: Option<u64>,
    pub stamp: Option<ClientStamp>,
}

/// The actor's access bookkeeping (memory only).
pub(super) struct AccessRuntime {
    /// Evaluate the checks even without a new revision (just opened).
    pub(super) checks_dirty: bool,
    /// A deadline that could not be handled, and when to try again.
    pub(super) retry: Option<(i64, tokio::time::Instant)>,
    /// Annex-boundary violations per section, with the section revision.
    pub(super) boundary: HashMap<SectionId, (u64, Vec<Violation>)>,
    /// What the cached violations depend on besides the sections.
    pub(super) boundary_key: (usize, usize, bool),
    /// A purge is committed in memory; storage still has to be scrubbed.
    pub(super) purge_pending: bool,
    /// The declared patterns as they were before the purge removed them:
    /// the storage scrub masks every stored occurrence (retention.rs).
    pub(super) redaction: trustroom_shared::restricted::Redaction,
}

impl AccessRuntime {
    pub(super) fn opened() -> AccessRuntime {
        AccessRuntime {
            checks_dirty: true,
            retry: None,
            boundary: HashMap::new(),
            boundary_key: (0, 0, false),
            purge_pending: false,
            redaction: Default::default(),
        }
    }
}

pub(super) fn when(ms: i64) -> String {
    trustroom_shared::export::utc(ms)
}

impl Room {
    pub(super) fn name_of(&self, user: UserId) -> String {
        self.state.member(user).map_or_else(|| user.to_string(), |m| m.name.clone())
    }

    pub(super) fn annex_code(&self, annex: AnnexId) -> String {
        self.state.annexes.get(&annex).map_or_else(|| annex.to_string(), |a| a.code.clone())
    }

    // -----------------------------------------------------------------
    // After every batch: departures, checks, automatic hold
    // -----------------------------------------------------------------

    /// Runs before a batch is committed: ends the access of members who
    /// left, re-evaluates the room checks (publishing changes, lapsing
    /// overrides) and holds the room when access validity fails.
    pub(super) fn derive(&mut self, batch: &mut Batch) {
        if self.broken || (batch.commit.revisions.is_empty() && !self.access.checks_dirty) {
            return;
        }
        self.access.checks_dirty = false;
        let now = self.now();
        let departed: Vec<UserId> = batch
            .commit
            .revisions
            .iter()
            .filter_map(|r| match &r.change {
                Change::MemberRemoved { user } => Some(*user),
                _ => None,
            })
            .collect();
        for user in departed {
            self.end_access_of(batch, user, now);
        }
        // Citations bound to (or released from) source record versions.
        self.rebind_evidence(batch);
        let mut results = self.evaluate_checks(now);
        let lapsing = checks::lapsing(&self.state, &results);
        if !lapsing.is_empty() {
            for check in lapsing {
                let detail = json!({"check": check, "reason": "what the override covered changed"});
                let _ = self.commit_change(batch, ADMIN_ACTOR, None, Change::CheckOverrideLapsed { check }, detail);
            }
            results = self.evaluate_checks(now);
        }
        if results != self.state.access.checks {
            let detail = json!({
                "failing": results.iter().map(|c| json!({"check": c.check, "reason": c.reason, "violations": c.violations.len(), "overridden": c.overridden})).collect::<Vec<_>>(),
            });
            if let Err((code, message)) = self.commit_change(
                batch,
                ADMIN_ACTOR,
                None,
                Change::ChecksEvaluated { checks: results.clone() },
                detail,
            ) {
                tracing::error!(room = %self.id, "cannot publish the room checks ({code}): {message}");
            }
        }
        // Release rules: a change slipped in after READY holds the room (and
        // a release attempt is answered `stale` until the owner marks it
        // ready again).
        if let ReleaseState::Ready { revision: ready, .. } = self.state.release
            && results.iter().any(|c| c.check == CheckKind::ReleaseRules && !c.overridden)
        {
            let reason = trustroom_shared::release::release_rules_hold_reason(self.state.content_revision, ready);
            self.hold_for_check(batch, CheckKind::ReleaseRules, reason);
        }
        // A failing access-validity check holds the room (the annex
        // boundary holds it when the offending change is accepted, see
        // `release.rs`).
        if let Some(check) = results.iter().find(|c| c.check == CheckKind::AccessValidity && !c.overridden) {
            let reason = format!("{}: {}", check.check.hold_reason(), check.reason);
            self.hold_for_check(batch, CheckKind::AccessValidity, reason);
        }
        // Stale evidence holds the room until each citation is re-confirmed,
        // updated or relabelled.
        if let Some(check) = results.iter().find(|c| c.check == CheckKind::StaleEvidence && !c.overridden) {
            let reason = format!("{}: {}", check.check.hold_reason(), check.reason);
            self.hold_for_check(batch, CheckKind::StaleEvidence, reason);
        }
        // The holds of checks that pass again (or are overridden) clear
        // themselves, one by one, in the register.
        self.clear_passing_check_holds(batch, &results);
    }

    /// Ends the grants, break-glass and pending requests of a member who left.
    fn end_access_of(&mut self, batch: &mut Batch, user: UserId, now: i64) {
        let grants: Vec<AccessRequestId> = self
            .state
            .access
            .requests
            .values()
            .filter(|r| r.requester == user && r.status == RequestStatus::Approved)
            .map(|r| r.id)
            .collect();
        for grant in grants {
            let ended = Ended { at_ms: now, by: SYSTEM, cause: EndCause::MemberLeft, note: None };
            let _ = self.end_grant(batch, grant, ended, None);
        }
        let pending: Vec<AccessRequestId> = self
            .state
            .access
            .requests
            .values()
            .filter(|r| r.requester == user && r.is_pending())
            .map(|r| r.id)
            .collect();
        for request in pending {
            let detail = json!({"request": request, "reason": "the requester left the room"});
            let _ =
                self.commit_change(batch, ADMIN_ACTOR, None, Change::AccessWithdrawn { request, at_ms: now }, detail);
        }
        let glass: Vec<BreakGlassId> =
            acc::active_break_glass(&self.state).filter(|b| b.user == user).map(|b| b.id).collect();
        for invocation in glass {
            let ended = Ended { at_ms: now, by: SYSTEM, cause: EndCause::MemberLeft, note: None };
            let _ = self.end_break_glass(batch, invocation, ended, ADMIN_ACTOR);
        }
    }

    /// The failing checks now (annex-boundary results cached per section).
    fn evaluate_checks(&mut self, now: i64) -> Vec<CheckResult> {
        let boundary = self.boundary_cached();
        checks::evaluate_with(&self.state, now, boundary)
    }

    fn boundary_cached(&mut self) -> Vec<Violation> {
        let state = &self.state;
        if !checks::has_patterns(state) {
            return Vec::new();
        }
        let promoted = acc::promoted_passages(state);
        let cache = &mut self.access;
        let key = (state.annexes.len(), promoted.len(), state.access.purged.is_some());
        if key != cache.boundary_key {
            cache.boundary.clear();
            cache.boundary_key = key;
        }
        cache.boundary.retain(|id, _| state.section(*id).is_some());
        let mut out = Vec::new();
        for s in &state.sections {
            match cache.boundary.get(&s.id) {
                Some((rev, v)) if *rev == s.revision => out.extend(v.iter().cloned()),
                _ => {
                    let v = checks::section_boundary(state, s, &promoted);
                    out.extend(v.iter().cloned());
                    cache.boundary.insert(s.id, (s.revision, v));
                }
            }
        }
        out
    }

    // -----------------------------------------------------------------
    // Reading annexes
    // -----------------------------------------------------------------

    /// `view_annex`: content for the need-to-know list, an active grant or
    /// an active break-glass naming the annex; audited with how.
    pub(super) fn view_annex(&mut self, batch: &mut Batch, user: UserId, annex: AnnexId) -> Answer {
        let now = self.now();
        let Some(a) = self.state.annexes.get(&annex) else {
            return Err((ErrorCode::NotFound, format!("annex {annex} not found")));
        };
        let Some(via) = acc::access_via(&self.state, user, annex, Some(now)) else {
            return Err(forbidden(format!(
                "annex {} ({}) is restricted: you are not on its need-to-know list and hold no active grant or break-glass for it; \
                 `request_access` with a reason",
                a.code, a.classification
            )));
        };
        let Some(text) = a.content.clone() else {
            let purged =
                self.state.access.purged.as_ref().map_or_else(String::new, |p| format!(" on {}", when(p.at_ms)));
            return Err(conflict(format!(
                "the content of annex {} was purged{purged} under the room's retention policy; its metadata and hash remain",
                a.code
            )));
        };
        let content = AnnexContent {
            annex,
            code: a.code.clone(),
            title: a.title.clone(),
            classification: a.classification.clone(),
            content: text,
            logged: true,
        };
        let mut detail = json!({"annex": annex, "code": a.code, "annex_code": a.code, "content_hash": a.content_hash, "via": via.describe()});
        match via {
            Via::Grant { grant } => detail["grant"] = json!(grant),
            Via::BreakGlass { invocation } => detail["invocation"] = json!(invocation),
            Via::NeedToKnow => {}
        }
        self.audit_at_now(batch, &user.to_string(), "annex.view", detail);
        Ok(to_value(&content))
    }

    pub(super) fn audit_at_now(&mut self, batch: &mut Batch, actor: &str, kind: &str, detail: Value) {
        let (now, revision) = (self.now(), self.state.revision);
        self.audit_at(batch, now, actor, kind, revision, detail);
    }

    // -----------------------------------------------------------------
    // Requests
    // -----------------------------------------------------------------

    /// Handles one access-governance request (membership and the role's
    /// basic capability were checked by the caller).
    pub(super) async fn access_request(&mut self, caller: Caller<'_>, request: Request, batch: &mut Batch) -> Answer {
        let Caller { role, stamp, .. } = caller;
        let user = caller.user();
        let max_text = self.config.max_text_chars;
        let now = self.now();
        match request {
            Request::RequestAccess { annexes, reason, duration_ms, .. } => {
                let ask = AnnexAsk { by: user, at_ms: now, annexes, reason, duration_ms, stamp };
                self.request_access(batch, ask)
            }
            Request::WithdrawAccess { request, .. } => {
                let r = self.request_record(request)?;
                if r.requester != user {
                    return Err(forbidden("only the requester may withdraw a request"));
                }
                if !r.is_pending() {
                    return Err(conflict(format!(
                        "request {} is {}; only a pending request can be withdrawn",
                        r.code(),
                        r.status
                    )));
                }
                let detail = json!({"request": request, "code": r.code(), "annex_code": self.annex_code(r.annex), "status": "withdrawn"});
                let rev =
                    self.commit_change(batch, user, None, Change::AccessWithdrawn { request, at_ms: now }, detail)?;
                Ok(ack(rev, Some(request.to_string())))
            }
            Request::ApproveAccess { request, note, .. } => self.decide_access(batch, user, request, true, note, now),
            Request::DenyAccess { request, note, .. } => self.decide_access(batch, user, request, false, note, now),
            Request::RevokeGrant { grant, note, .. } => {
                if *role != Role::Owner {
                    return Err(forbidden("only an owner may revoke a grant"));
                }
                let note = note_field(note, max_text)?;
                let r = self.request_record(grant)?;
                if r.status != RequestStatus::Approved {
                    return Err(conflict(format!(
                        "{} is {}; only an active grant can be revoked (ended grants are never resurrected)",
                        r.code(),
                        r.status
                    )));
                }
                let ended = Ended { at_ms: now, by: user, cause: EndCause::Revoked, note };
                let rev = self.end_grant(batch, grant, ended, Some(user))?;
                Ok(ack(rev, Some(grant.to_string())))
            }
            Request::BreakGlass { annexes, reason, duration_ms, .. } => {
                let ask = AnnexAsk { by: user, at_ms: now, annexes, reason, duration_ms, stamp };
                self.invoke_break_glass(batch, ask)
            }
            Request::EndBreakGlass { invocation, .. } => {
                let Some(bg) = self.state.access.break_glass.get(&invocation) else {
                    return Err((ErrorCode::NotFound, format!("break-glass {invocation} not found")));
                };
                if bg.user != user && *role != Role::Owner {
                    return Err(forbidden("only the invoker or an owner may end a break-glass"));
                }
                if !bg.is_active(None) {
                    return Err(conflict(format!("{} already ended", bg.code())));
                }
                let ended = Ended { at_ms: now, by: user, cause: EndCause::EndedEarly, note: None };
                let rev = self.end_break_glass(batch, invocation, ended, user)?;
                Ok(ack(rev, Some(invocation.to_string())))
            }
            Request::RequestPromotion { annex, section, passage, reason, .. } => {
                self.request_promotion(batch, user, annex, section, passage, &reason, stamp, now)
            }
            Request::ViewPromotion { promotion, .. } => self.view_promotion(batch, user, promotion),
            Request::ApprovePromotion { promotion, note, .. } => {
                self.decide_promotion(batch, user, promotion, true, note, now)
            }
            Request::DenyPromotion { promotion, note, .. } => {
                self.decide_promotion(batch, user, promotion, false, note, now)
            }
            Request::OverrideCheck { check, rationale, .. } => {
                if *role != Role::Owner {
                    return Err(forbidden("only an owner may override a room check"));
                }
                let rationale = text_field("rationale", &rationale, max_text, true)?;
                if rationale.trim().chars().count() < 10 {
                    return Err(invalid("an override needs a rationale of at least 10 characters"));
                }
                let results = self.evaluate_checks(now);
                let Some(result) = results.iter().find(|r| r.check == check) else {
                    return Err(conflict(format!("room check {check} passes; there is nothing to override")));
                };
                if checks::active_override(&self.state, check).is_some_and(|o| o.covered == result.covered) {
                    return Err(conflict(format!("room check {check} is already overridden")));
                }
                let check_override = CheckOverride {
                    check,
                    rationale: rationale.clone(),
                    by: user,
                    at_ms: now,
                    covered: result.covered.clone(),
                    revision: self.state.revision + 1,
                    lapsed_at: None,
                };
                let detail = json!({
                    "check": check, "rationale": rationale, "covered": result.covered,
                    "reason": result.reason, "violations": result.violations.len(),
                });
                // A stale override (what it covered changed) lapses first.
                if checks::active_override(&self.state, check).is_some() {
                    let lapse = json!({"check": check, "reason": "replaced by a new override"});
                    self.commit_change(batch, user, None, Change::CheckOverrideLapsed { check }, lapse)?;
                }
                let rev = self.commit_change(batch, user, None, Change::CheckOverridden { check_override }, detail)?;
                Ok(ack(rev, None))
            }
            Request::SetAccessPolicy {
                reason_min_chars,
                reason_pattern,
                default_duration_ms,
                max_duration_ms,
                break_glass,
                auditors,
                retention_days,
                ..
            } => {
                if *role != Role::Owner {
                    return Err(forbidden("only an owner may change the access policy"));
                }
                let update = AccessPolicyUpdate {
                    reason_min_chars,
                    reason_pattern,
                    default_duration_ms,
                    max_duration_ms,
                    break_glass,
                    auditors,
                    retention_days,
                };
                if update.is_empty() {
                    return Err(invalid("nothing to change: name at least one policy field"));
                }
                for u in update.break_glass.iter().chain(update.auditors.iter()).flatten() {
                    if self.state.member(*u).is_none() {
                        return Err(invalid(format!("{u} is not a member of this room")));
                    }
                }
                let policy = update.applied_to(&self.state.access.policy);
                policy.validate().map_err(invalid)?;
                let detail = json!({"policy": policy, "changed": update});
                let rev = self.commit_change(batch, user, None, Change::AccessPolicySet { policy }, detail)?;
                Ok(ack(rev, None))
            }
            Request::AccessHistory { format, .. } => {
                if !acc::is_auditor(&self.state, user) {
                    return Err(forbidden(
                        "the access history needs the audit capability (owners, and members an owner names)",
                    ));
                }
                let format = format.map(|f| text_field("format", &f, 20, false)).transpose()?;
                let chain = self.audit_chain_through(batch).await?;
                let names: HashMap<String, String> =
                    self.state.members.values().map(|m| (m.user.to_string(), m.name.clone())).collect();
                let entries = trustroom_shared::access_history::history(&chain, |id| match id {
                    "admin" | "system" => Some(id.to_string()),
                    other => names.get(other).cloned(),
                });
                let detail = json!({"entries": entries.len(), "format": format.unwrap_or_else(|| "json".into())});
                self.audit_at_now(batch, &user.to_string(), "access.history_exported", detail);
                Ok(to_value(&HistoryResult { room: self.id, entries }))
            }
            _ => Err(invalid("not an access request")),
        }
    }

    /// The annexes an access request or a break-glass names: each once,
    /// at least one, at most [`MAX_ANNEXES_PER_REQUEST`], all in the room.
    pub(super) fn checked_annexes(&self, annexes: Vec<AnnexId>) -> Result<Vec<AnnexId>, Refusal> {
        let mut out: Vec<AnnexId> = Vec::new();
        for a in annexes {
            if !out.contains(&a) {
                out.push(a);
            }
        }
        if out.is_empty() {
            return Err(invalid("name at least one annex"));
        }
        if out.len() > MAX_ANNEXES_PER_REQUEST {
            return Err((ErrorCode::TooLarge, format!("at most {MAX_ANNEXES_PER_REQUEST} annexes per request")));
        }
        if let Some(a) = out.iter().find(|a| !self.state.annexes.contains_key(a)) {
            return Err((ErrorCode::NotFound, format!("annex {a} not found")));
        }
        Ok(out)
    }

    pub(super) fn reason(&self, reason: &str) -> Result<String, Refusal> {
        let reason = text_field("reason", reason, self.config.max_text_chars, true)?;
        acc::check_reason(&self.state.access.policy, &reason).map_err(invalid)
    }
}

/// A decision's optional note, checked: empty is no note.
pub(super) fn note_field(note: Option<String>, max: usize) -> Result<Option<String>, Refusal> {
    Ok(note.map(|n| text_field("note", &n, max, false)).transpose()?.filter(|n| !n.trim().is_empty()))
}

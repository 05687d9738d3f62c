//! Annex access governance inside the room actor: access requests and
//! decisions, grant revocation, break-glass, promotions, check overrides,
//! the access policy, the access history export, `view_annex`, and what the
//! room does by itself on its own clock — expire grants, end break-glass
//! (opening the review objection), purge annex content under retention —
//! plus the room checks evaluated after every batch of changes.
//!
//! The records and rules are pure functions in `trustroom_shared::access`
//! and `trustroom_shared::checks`; this file applies them and keeps the
//! actor's timer.

use std::collections::HashMap;
use std::time::Duration;

use serde_json::{Value, json};
use tokio::sync::mpsc;
use trustroom_shared::access::{
    self as acc, AccessPolicyUpdate, AccessRequest, AccessScope, BreakGlass, BreakGlassResult, Decided, DecideRefusal,
    EndCause, Ended, Fold, FoldInto, HistoryResult, Promotion, PromotionPassage, PromotionResult, PromotionStatus,
    Provenance, Purge, RequestAccessResult, RequestOutcome, RequestStatus, SYSTEM, Sealed, Via,
};
use trustroom_shared::audit::next_entry;
use trustroom_shared::change::{Change, ClientStamp};
use trustroom_shared::checks::{self, CheckKind, CheckOverride, CheckResult, Violation};
use trustroom_shared::ids::{AccessRequestId, AnnexId, BreakGlassId, ObjectionId, PromotionId, SectionId};
use trustroom_shared::objection::ObjectionStatus;
use trustroom_shared::ot::{WireComponent, normalize_newlines};
use trustroom_shared::protocol::{Ack, AnnexContent, ErrorCode, Request};
use trustroom_shared::release::ReleaseState;
use trustroom_shared::role::Role;
use trustroom_shared::UserId;

use super::requests::text_field;
use super::{ADMIN_ACTOR, Answer, Batch, Refusal, Room, RoomCmd};
use crate::outbox::ConnInfo;

/// Most annexes one request or break-glass may name.
const MAX_ANNEXES_PER_REQUEST: usize = 32;

/// What wakes the room actor.
#[allow(clippy::large_enum_variant)] // one value at a time, moved at once
pub(super) enum Wake {
    Command(RoomCmd),
    /// The room must act by itself now (expiry, break-glass end, retention,
    /// checks to evaluate after opening).
    Deadline,
    /// Every handle is gone.
    Closed,
}

/// The actor's access bookkeeping (memory only).
pub(super) struct AccessRuntime {
    /// Evaluate the checks even without a new revision (just opened).
    checks_dirty: bool,
    /// A deadline that could not be handled, and when to try again.
    retry: Option<(i64, tokio::time::Instant)>,
    /// Annex-boundary violations per section, with the section revision.
    boundary: HashMap<SectionId, (u64, Vec<Violation>)>,
    /// What the cached violations depend on besides the sections.
    boundary_key: (usize, usize, bool),
    /// A purge is committed in memory; storage still has to be scrubbed.
    purge_pending: bool,
}

impl AccessRuntime {
    pub(super) fn opened() -> AccessRuntime {
        AccessRuntime {
            checks_dirty: true,
            retry: None,
            boundary: HashMap::new(),
            boundary_key: (0, 0, false),
            purge_pending: false,
        }
    }
}

fn invalid(msg: impl Into<String>) -> Refusal {
    (ErrorCode::Invalid, msg.into())
}

fn forbidden(msg: impl Into<String>) -> Refusal {
    (ErrorCode::Forbidden, msg.into())
}

fn conflict(msg: impl Into<String>) -> Refusal {
    (ErrorCode::Conflict, msg.into())
}

fn to_value<T: serde::Serialize>(v: &T) -> Value {
    serde_json::to_value(v).unwrap_or(Value::Null)
}

fn when(ms: i64) -> String {
    trustroom_shared::export::utc(ms)
}

/// The name of an access request type (for refusals and the audit log).
impl Room {
    /// The room's clock (the server's, or a test's manual clock).
    pub(super) fn now(&self) -> i64 {
        self.config.clock.now_ms()
    }

    fn name_of(&self, user: UserId) -> String {
        self.state.member(user).map_or_else(|| user.to_string(), |m| m.name.clone())
    }

    fn annex_code(&self, annex: AnnexId) -> String {
        self.state.annexes.get(&annex).map_or_else(|| annex.to_string(), |a| a.code.clone())
    }

    // -----------------------------------------------------------------
    // The timer
    // -----------------------------------------------------------------

    /// When the room must act by itself next (`i64::MIN`: at once).
    fn access_deadline(&self) -> Option<i64> {
        if self.access.checks_dirty || self.access.purge_pending {
            return Some(i64::MIN);
        }
        acc::next_deadline(&self.state)
    }

    /// Waits for the next command or the room's next deadline on its
    /// clock, whichever comes first (deadlines win ties).
    pub(super) async fn wait_next(&mut self, rx: &mut mpsc::Receiver<RoomCmd>) -> Wake {
        let Some(at) = self.access_deadline() else {
            return rx.recv().await.map_or(Wake::Closed, Wake::Command);
        };
        let backoff = match self.access.retry {
            Some((d, until)) if d == at => Some(until),
            _ => None,
        };
        let sleep = self.config.clock.sleep_until(at);
        let timer = async move {
            if let Some(until) = backoff {
                tokio::time::sleep_until(until).await;
            }
            sleep.await;
        };
        tokio::select! {
            biased;
            _ = timer => Wake::Deadline,
            cmd = rx.recv() => cmd.map_or(Wake::Closed, Wake::Command),
        }
    }

    /// Acts on whatever is due: expired grants, ended break-glass, the
    /// retention purge; then the checks (in `flush`).
    pub(super) async fn on_deadline(&mut self) {
        let deadline = self.access_deadline();
        let now = self.now();
        let mut batch = Batch::default();
        self.end_due(&mut batch, now);
        if acc::retention_due_at(&self.state).is_some_and(|due| due <= now) {
            self.purge(&mut batch, now);
        }
        self.flush(batch).await;
        // Still due (storage refused the change?): try again in a second,
        // not in a busy loop.
        match deadline {
            Some(d) if d != i64::MIN && self.access_deadline() == Some(d) => {
                self.access.retry = Some((d, tokio::time::Instant::now() + Duration::from_secs(1)));
            }
            _ => self.access.retry = None,
        }
    }

    /// Ends every grant and break-glass whose time is up at `now`.
    fn end_due(&mut self, batch: &mut Batch, now: i64) {
        for grant in acc::due_grants(&self.state, now) {
            let ended = Ended { at_ms: now, by: SYSTEM, cause: EndCause::Expired, note: None };
            let _ = self.end_grant(batch, grant, ended, None);
        }
        for invocation in acc::due_break_glass(&self.state, now) {
            let ended = Ended { at_ms: now, by: SYSTEM, cause: EndCause::Expired, note: None };
            let _ = self.end_break_glass(batch, invocation, ended, ADMIN_ACTOR);
        }
    }

    fn end_grant(&mut self, batch: &mut Batch, grant: AccessRequestId, ended: Ended, author: Option<UserId>) -> Result<u64, Refusal> {
        let Some(r) = self.state.access.requests.get(&grant) else {
            return Err((ErrorCode::NotFound, format!("grant {grant} not found")));
        };
        let detail = json!({
            "grant": grant, "code": r.code(), "requester": r.requester, "requester_name": self.name_of(r.requester),
            "annex": r.annex, "annex_code": self.annex_code(r.annex), "cause": ended.cause, "note": ended.note,
            "expires_at": r.expires_at, "status": if ended.cause == EndCause::Expired { "expired" } else { "revoked" },
        });
        let result = self.commit_change(batch, author.unwrap_or(ADMIN_ACTOR), None, Change::GrantEnded { grant, ended }, detail);
        if let Err((code, message)) = &result {
            tracing::error!(room = %self.id, %grant, "cannot end the grant ({code}): {message}");
        }
        result
    }

    fn end_break_glass(&mut self, batch: &mut Batch, invocation: BreakGlassId, ended: Ended, author: UserId) -> Result<u64, Refusal> {
        let Some(bg) = self.state.access.break_glass.get(&invocation).cloned() else {
            return Err((ErrorCode::NotFound, format!("break-glass {invocation} not found")));
        };
        let review = acc::review_objection(&self.state, &bg, &ended, ObjectionId::new());
        let detail = json!({
            "invocation": invocation, "code": bg.code(), "user": bg.user, "user_name": self.name_of(bg.user),
            "annex_codes": bg.annexes.iter().map(|a| self.annex_code(*a)).collect::<Vec<_>>(),
            "cause": ended.cause, "review": review.id, "review_code": review.code(), "started": bg.at_ms, "ends_at": bg.ends_at,
        });
        let result = self.commit_change(batch, author, None, Change::BreakGlassEnded { invocation, ended, review }, detail);
        if let Err((code, message)) = &result {
            tracing::error!(room = %self.id, %invocation, "cannot end the break-glass ({code}): {message}");
        }
        result
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
            if let Err((code, message)) =
                self.commit_change(batch, ADMIN_ACTOR, None, Change::ChecksEvaluated { checks: results.clone() }, detail)
            {
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
            let release = ReleaseState::Held { reasons: vec![reason.clone()], by: ADMIN_ACTOR, at_ms: now };
            let detail = json!({"decision": "hold", "automatic": true, "check": CheckKind::ReleaseRules, "reason": reason});
            let _ = self.commit_change(batch, ADMIN_ACTOR, None, Change::ReleaseChanged { release }, detail);
        }
        // A failing access-validity check holds the room (the annex
        // boundary holds it when the offending change is accepted, see
        // `release.rs`).
        let failing = results.iter().find(|c| c.check == CheckKind::AccessValidity && !c.overridden);
        if let Some(check) = failing
            && !matches!(self.state.release, ReleaseState::Held { .. } | ReleaseState::Escalated { .. })
        {
            let reason = format!("{}: {}", check.check.hold_reason(), check.reason);
            let release = ReleaseState::Held { reasons: vec![reason.clone()], by: ADMIN_ACTOR, at_ms: now };
            let detail = json!({"decision": "hold", "automatic": true, "check": check.check, "reason": reason});
            let _ = self.commit_change(batch, ADMIN_ACTOR, None, Change::ReleaseChanged { release }, detail);
        }
    }

    /// Ends the grants, break-glass and pending requests of a member who left.
    fn end_access_of(&mut self, batch: &mut Batch, user: UserId, now: i64) {
        let grants: Vec<AccessRequestId> =
            self.state.access.requests.values().filter(|r| r.requester == user && r.status == RequestStatus::Approved).map(|r| r.id).collect();
        for grant in grants {
            let ended = Ended { at_ms: now, by: SYSTEM, cause: EndCause::MemberLeft, note: None };
            let _ = self.end_grant(batch, grant, ended, None);
        }
        let pending: Vec<AccessRequestId> =
            self.state.access.requests.values().filter(|r| r.requester == user && r.is_pending()).map(|r| r.id).collect();
        for request in pending {
            let detail = json!({"request": request, "reason": "the requester left the room"});
            let _ = self.commit_change(batch, ADMIN_ACTOR, None, Change::AccessWithdrawn { request, at_ms: now }, detail);
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

    /// After a batch is stored: scrub storage when a purge was committed.
    pub(super) async fn after_commit(&mut self) {
        if !self.access.purge_pending {
            return;
        }
        self.access.purge_pending = false;
        if self.state.access.purged.is_none() {
            return;
        }
        match self.store.purge_content(self.id).await {
            Ok(report) => {
                tracing::info!(room = %self.id, ?report, "annex content purged from storage");
                let prev = self.audit_head.clone();
                let entry = next_entry(
                    prev.as_ref().map(|(s, h)| (*s, h.as_str())),
                    &self.id.to_string(),
                    self.now(),
                    "system",
                    "retention.storage_scrubbed",
                    self.state.revision,
                    to_value(&report),
                );
                match self.store.append_audit(std::slice::from_ref(&entry)).await {
                    Ok(()) => self.audit_head = Some((entry.seq, entry.hash)),
                    Err(e) => tracing::error!(room = %self.id, "cannot audit the storage scrub: {e}"),
                }
            }
            Err(e) => {
                tracing::error!(room = %self.id, "retention: scrubbing storage failed: {e}; `trustroom-server retention run --force` retries");
            }
        }
    }

    // -----------------------------------------------------------------
    // Retention
    // -----------------------------------------------------------------

    /// Purges annex content (and promotion passages) from the room: a
    /// `content_purged` change; storage is scrubbed after it is committed.
    fn purge(&mut self, batch: &mut Batch, now: i64) -> Option<u64> {
        let due = acc::retention_due_at(&self.state)?;
        let annexes: Vec<AnnexId> = self
            .state
            .annexes
            .values()
            .filter(|a| a.content.is_some() || !a.sensitive.is_empty() || !acc::is_purged(a))
            .map(|a| a.id)
            .collect();
        let passages = self.state.access.promotions.values().filter(|p| p.passage.is_some()).count();
        let purge = Purge { at_ms: now, due_ms: due, annexes: annexes.clone(), passages };
        let detail = json!({
            "annexes": annexes, "annex_codes": annexes.iter().map(|a| self.annex_code(*a)).collect::<Vec<_>>(),
            "passages": passages, "due_ms": due, "retention_days": self.state.access.policy.retention_days,
            "release": self.state.release.name(),
        });
        let rev = match self.commit_change(batch, ADMIN_ACTOR, None, Change::ContentPurged { purge }, detail) {
            Ok(rev) => rev,
            Err((code, message)) => {
                tracing::error!(room = %self.id, "retention purge refused ({code}): {message}");
                return None;
            }
        };
        for r in self.history.iter_mut().chain(batch.commit.revisions.iter_mut()) {
            acc::scrub_change(&mut r.change);
        }
        self.access.purge_pending = true;
        Some(rev)
    }

    /// The administrative retention run for this room.
    pub(super) fn retention_admin(&mut self, batch: &mut Batch, force: bool) -> Result<String, String> {
        let now = self.now();
        if let Some(p) = &self.state.access.purged {
            if force {
                self.access.purge_pending = true;
                return Ok(format!("room {}: purged at {}; scrubbing storage again", self.id, when(p.at_ms)));
            }
            return Ok(format!("room {}: annex content already purged at {}", self.id, when(p.at_ms)));
        }
        let Some(due) = acc::retention_due_at(&self.state) else {
            return Ok(format!("room {}: not released or escalated; nothing to purge", self.id));
        };
        if now < due {
            return Ok(format!("room {}: retention ends {}; nothing to purge yet", self.id, when(due)));
        }
        match self.purge(batch, now) {
            Some(rev) => Ok(format!("room {}: annex content purged (rev {rev})", self.id)),
            None => Err(format!("room {}: the purge could not be recorded", self.id)),
        }
    }

    /// The administrative break-glass list.
    pub(super) fn break_glass_admin(&mut self, batch: &mut Batch, users: Vec<UserId>) -> Result<String, String> {
        if let Some(u) = users.iter().find(|u| self.state.member(**u).is_none()) {
            return Err(format!("{u} is not a member of room {}", self.id));
        }
        let update = AccessPolicyUpdate { break_glass: Some(users), ..Default::default() };
        let policy = update.applied_to(&self.state.access.policy);
        let names: Vec<String> = policy.break_glass.iter().map(|u| self.name_of(*u)).collect();
        let detail = json!({"break_glass": policy.break_glass, "names": names});
        self.commit_change(batch, ADMIN_ACTOR, None, Change::AccessPolicySet { policy }, detail).map_err(|e| e.1)?;
        Ok(format!("break-glass list of room {}: {}", self.id, if names.is_empty() { "(empty)".into() } else { names.join(", ") }))
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
            let purged = self.state.access.purged.as_ref().map_or_else(String::new, |p| format!(" on {}", when(p.at_ms)));
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

    fn audit_at_now(&mut self, batch: &mut Batch, actor: &str, kind: &str, detail: Value) {
        let (now, revision) = (self.now(), self.state.revision);
        self.audit_at(batch, now, actor, kind, revision, detail);
    }

    /// A break-glass review objection may only be resolved by an owner,
    /// as addressed or accepted-residual, with a rationale.
    pub(super) fn review_resolution_refused(
        &self,
        objection: ObjectionId,
        status: ObjectionStatus,
        rationale: Option<&str>,
        role: &Role,
    ) -> Option<Refusal> {
        let bg = acc::review_of(&self.state, objection)?;
        if *role != Role::Owner {
            return Some(forbidden(format!("only an owner resolves the break-glass review of {}", bg.code())));
        }
        if !matches!(status, ObjectionStatus::Addressed | ObjectionStatus::AcceptedResidual) {
            return Some(invalid("a break-glass review is resolved as addressed or accepted-residual"));
        }
        if rationale.is_none_or(|r| r.trim().chars().count() < 10) {
            return Some(invalid("resolving a break-glass review needs a rationale (at least 10 characters)"));
        }
        None
    }

    // -----------------------------------------------------------------
    // Requests
    // -----------------------------------------------------------------

    /// Handles one access-governance request (membership and the role's
    /// basic capability were checked by the caller).
    pub(super) async fn access_request(
        &mut self,
        conn: &ConnInfo,
        role: &Role,
        request: Request,
        stamp: Option<ClientStamp>,
        batch: &mut Batch,
    ) -> Answer {
        let user = conn.user;
        let max_text = self.config.max_text_chars;
        let now = self.now();
        match request {
            Request::RequestAccess { annexes, reason, duration_ms, .. } => {
                self.request_access(batch, user, annexes, &reason, duration_ms, stamp, now)
            }
            Request::WithdrawAccess { request, .. } => {
                let r = self.request_record(request)?;
                if r.requester != user {
                    return Err(forbidden("only the requester may withdraw a request"));
                }
                if !r.is_pending() {
                    return Err(conflict(format!("request {} is {}; only a pending request can be withdrawn", r.code(), r.status)));
                }
                let detail = json!({"request": request, "code": r.code(), "annex_code": self.annex_code(r.annex), "status": "withdrawn"});
                let rev = self.commit_change(batch, user, None, Change::AccessWithdrawn { request, at_ms: now }, detail)?;
                Ok(ack(rev, Some(request.to_string())))
            }
            Request::ApproveAccess { request, note, .. } => {
                let note = note_field(note, max_text)?;
                self.decide_access(batch, user, request, true, note, now)
            }
            Request::DenyAccess { request, note, .. } => {
                let note = note_field(note, max_text)?;
                self.decide_access(batch, user, request, false, note, now)
            }
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
                self.invoke_break_glass(batch, user, annexes, &reason, duration_ms, stamp, now)
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
                let note = note_field(note, max_text)?;
                self.decide_promotion(batch, user, promotion, true, note, now)
            }
            Request::DenyPromotion { promotion, note, .. } => {
                let note = note_field(note, max_text)?;
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
                    return Err(forbidden("the access history needs the audit capability (owners, and members an owner names)"));
                }
                let format = format.map(|f| text_field("format", &f, 20, false)).transpose()?;
                let mut chain = self
                    .store
                    .audit_chain(&self.id.to_string())
                    .await
                    .map_err(|e| (ErrorCode::Unavailable, format!("cannot read the audit log right now: {e}")))?;
                chain.extend(batch.commit.audit.iter().cloned());
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

    fn request_record(&self, id: AccessRequestId) -> Result<AccessRequest, Refusal> {
        self.state
            .access
            .requests
            .get(&id)
            .cloned()
            .ok_or_else(|| (ErrorCode::NotFound, format!("access request {id} not found")))
    }

    fn checked_annexes(&self, annexes: Vec<AnnexId>) -> Result<Vec<AnnexId>, Refusal> {
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

    fn reason(&self, reason: &str) -> Result<String, Refusal> {
        let reason = text_field("reason", reason, self.config.max_text_chars, true)?;
        acc::check_reason(&self.state.access.policy, &reason).map_err(invalid)
    }

    #[allow(clippy::too_many_arguments)]
    fn request_access(
        &mut self,
        batch: &mut Batch,
        user: UserId,
        annexes: Vec<AnnexId>,
        reason: &str,
        duration_ms: Option<u64>,
        stamp: Option<ClientStamp>,
        now: i64,
    ) -> Answer {
        let annexes = self.checked_annexes(annexes)?;
        let reason = self.reason(reason)?;
        let duration = acc::grant_duration(&self.state.access.policy, duration_ms).map_err(invalid)?;
        for a in &annexes {
            if acc::access_via(&self.state, user, *a, Some(now)) == Some(Via::NeedToKnow) {
                return Err(conflict(format!("you are on the need-to-know list of annex {} already", self.annex_code(*a))));
            }
        }
        let mut stamp = stamp;
        let mut outcomes = Vec::new();
        let mut revision = self.state.revision;
        for annex in annexes {
            let code = self.annex_code(annex);
            match acc::fold_target(&self.state, user, annex, AccessScope::Read, now) {
                Some((into_id, into)) => {
                    let target = self.request_record(into_id)?;
                    let fold = Fold { reason: reason.clone(), duration_ms: duration, at_ms: now, into };
                    let detail = json!({
                        "request": into_id, "code": target.code(), "annex": annex, "annex_code": code,
                        "reason": reason, "duration_ms": duration,
                        "status": match into { FoldInto::Pending => "folded into pending request", FoldInto::Grant => "folded into active grant" },
                    });
                    revision = self.commit_change(batch, user, stamp.take(), Change::AccessFolded { request: into_id, fold }, detail)?;
                    let r = self.request_record(into_id)?;
                    outcomes.push(RequestOutcome {
                        annex,
                        annex_code: code,
                        request: into_id,
                        code: r.code(),
                        outcome: match into { FoldInto::Pending => "pending".into(), FoldInto::Grant => "grant".into() },
                        status: r.status,
                        expires_at: r.expires_at,
                    });
                }
                None => {
                    let request = AccessRequest {
                        id: AccessRequestId::new(),
                        number: self.state.access.next_request_number(),
                        requester: user,
                        annex,
                        scope: AccessScope::Read,
                        reason: reason.clone(),
                        duration_ms: duration,
                        at_ms: now,
                        status: RequestStatus::Requested,
                        decided: None,
                        expires_at: None,
                        ended: None,
                        folds: Vec::new(),
                    };
                    let (id, rcode) = (request.id, request.code());
                    let approvers: Vec<String> =
                        acc::possible_approvers(&self.state, user).into_iter().map(|u| self.name_of(u)).collect();
                    let detail = json!({
                        "request": id, "code": rcode, "annex": annex, "annex_code": code, "reason": reason,
                        "duration_ms": duration, "status": "requested", "approvers": approvers,
                    });
                    revision = self.commit_change(batch, user, stamp.take(), Change::AccessRequested { request }, detail)?;
                    outcomes.push(RequestOutcome {
                        annex,
                        annex_code: code,
                        request: id,
                        code: rcode,
                        outcome: "new".into(),
                        status: RequestStatus::Requested,
                        expires_at: None,
                    });
                }
            }
        }
        Ok(to_value(&RequestAccessResult { revision, duplicate: false, requests: outcomes }))
    }

    fn decide_access(
        &mut self,
        batch: &mut Batch,
        user: UserId,
        request: AccessRequestId,
        approve: bool,
        note: Option<String>,
        now: i64,
    ) -> Answer {
        let r = self.request_record(request)?;
        match acc::may_decide(&self.state, user, r.requester) {
            Ok(()) => {}
            Err(DecideRefusal::NotOwner) => return Err(forbidden("only an owner may approve or deny access")),
            Err(DecideRefusal::OwnRequest) => {
                return Err(forbidden(format!(
                    "self-approval is impossible: {} is your own request; another owner must decide it (it stays pending)",
                    r.code()
                )));
            }
        }
        if !r.is_pending() {
            return Err(conflict(format!("request {} is {}; it cannot be decided again", r.code(), r.status)));
        }
        let decided = Decided { by: user, note: note.clone(), at_ms: now };
        let expires_at = approve.then(|| now.saturating_add(r.duration_ms as i64));
        let detail = json!({
            "request": request, "code": r.code(), "requester": r.requester, "requester_name": self.name_of(r.requester),
            "annex": r.annex, "annex_code": self.annex_code(r.annex), "reason": r.reason, "note": note,
            "status": if approve { "approved" } else { "denied" }, "decision": if approve { "approved" } else { "denied" },
            "expires_at": expires_at, "duration_ms": r.duration_ms,
        });
        let rev = self.commit_change(batch, user, None, Change::AccessDecided { request, approved: approve, decided, expires_at }, detail)?;
        Ok(ack(rev, Some(request.to_string())))
    }

    #[allow(clippy::too_many_arguments)]
    fn invoke_break_glass(
        &mut self,
        batch: &mut Batch,
        user: UserId,
        annexes: Vec<AnnexId>,
        reason: &str,
        duration_ms: Option<u64>,
        stamp: Option<ClientStamp>,
        now: i64,
    ) -> Answer {
        if !self.state.access.policy.break_glass.contains(&user) {
            return Err(forbidden("you are not on this room's break-glass list; ask an owner for access instead"));
        }
        let duration = acc::break_glass_duration(duration_ms).map_err(invalid)?;
        let annexes = self.checked_annexes(annexes)?;
        let reason = self.reason(reason)?;
        if let Some(active) = acc::active_break_glass(&self.state).find(|b| b.user == user) {
            return Err(conflict(format!(
                "{} is active until {}; break-glass is not renewable (a new invocation after it ends is a new event)",
                active.code(),
                when(active.ends_at)
            )));
        }
        let invocation = BreakGlass {
            id: BreakGlassId::new(),
            number: self.state.access.next_break_glass_number(),
            user,
            annexes: annexes.clone(),
            reason: reason.clone(),
            at_ms: now,
            ends_at: now.saturating_add(duration as i64),
            ended: None,
            review: None,
        };
        let (id, code, ends_at) = (invocation.id, invocation.code(), invocation.ends_at);
        let detail = json!({
            "invocation": id, "code": code, "user_name": self.name_of(user), "annexes": annexes,
            "annex_codes": annexes.iter().map(|a| self.annex_code(*a)).collect::<Vec<_>>(),
            "reason": reason, "duration_ms": duration, "ends_at": ends_at, "status": "active",
        });
        let revision = self.commit_change(batch, user, stamp, Change::BreakGlassInvoked { invocation }, detail)?;
        Ok(to_value(&BreakGlassResult { revision, invocation: id, code, ends_at }))
    }

    #[allow(clippy::too_many_arguments)]
    fn request_promotion(
        &mut self,
        batch: &mut Batch,
        user: UserId,
        annex: AnnexId,
        section: SectionId,
        passage: Sealed,
        reason: &str,
        stamp: Option<ClientStamp>,
        now: i64,
    ) -> Answer {
        let Some(a) = self.state.annexes.get(&annex) else {
            return Err((ErrorCode::NotFound, format!("annex {annex} not found")));
        };
        let code = a.code.clone();
        if acc::access_via(&self.state, user, annex, Some(now)).is_none() {
            return Err(forbidden(format!("you have no access to annex {code}; only a reader of the annex can promote from it")));
        }
        let Some(content) = a.content.clone() else {
            return Err(conflict(format!("the content of annex {code} was purged; nothing can be promoted from it")));
        };
        if self.state.section(section).is_none() {
            return Err((ErrorCode::NotFound, format!("section {section} not found")));
        }
        let text = normalize_newlines(passage.expose());
        let chars = text.chars().count();
        if text.trim().is_empty() {
            return Err(invalid("the passage must not be empty"));
        }
        if chars > self.config.max_text_chars {
            return Err((ErrorCode::TooLarge, format!("the passage has {chars} characters (limit {})", self.config.max_text_chars)));
        }
        if !content.contains(&text) {
            return Err(invalid(format!("the passage does not occur verbatim in annex {code}")));
        }
        let reason = self.reason(reason)?;
        let hash = acc::passage_hash(&text);
        let promotion = Promotion {
            id: PromotionId::new(),
            number: self.state.access.next_promotion_number(),
            requester: user,
            annex,
            section,
            reason: reason.clone(),
            passage_chars: chars,
            passage_hash: Some(hash.clone()),
            passage: Some(Sealed(text)),
            at_ms: now,
            status: PromotionStatus::Requested,
            decided: None,
            provenance: None,
        };
        let (id, pcode) = (promotion.id, promotion.code());
        let detail = json!({
            "promotion": id, "code": pcode, "annex": annex, "annex_code": code, "section": section,
            "passage_chars": chars, "passage_seal": self.passage_seal(annex, &hash), "reason": reason, "status": "requested",
        });
        let revision = self.commit_change(batch, user, stamp, Change::PromotionRequested { promotion }, detail)?;
        Ok(to_value(&PromotionResult { revision, promotion: id, code: pcode, status: PromotionStatus::Requested }))
    }

    /// What the audit log records of a passage: its hash salted with the
    /// annex's server-held salt, so the log binds the exact passage but
    /// nobody who reads the access history can confirm a guessed passage
    /// (an unsalted hash of a short passage could be brute-forced).
    fn passage_seal(&self, annex: AnnexId, hash: &str) -> String {
        let salt = self.state.annexes.get(&annex).and_then(|a| a.salt.clone()).unwrap_or_default();
        trustroom_shared::annex::Annex::salted_hash(&salt, hash)
    }

    fn view_promotion(&mut self, batch: &mut Batch, user: UserId, promotion: PromotionId) -> Answer {
        let Some(p) = self.state.access.promotions.get(&promotion).cloned() else {
            return Err((ErrorCode::NotFound, format!("promotion {promotion} not found")));
        };
        let decider = acc::may_decide(&self.state, user, p.requester).is_ok();
        if !(decider || p.requester == user) {
            return Err(forbidden("only the owners who decide a promotion, and its requester, may read its passage"));
        }
        if p.status != PromotionStatus::Requested && p.requester != user && !decider {
            return Err(forbidden("the promotion is decided"));
        }
        let Some(passage) = p.passage.clone() else {
            return Err(conflict(format!("the passage of {} was purged under retention", p.code())));
        };
        let detail = json!({
            "annex": p.annex, "code": self.annex_code(p.annex), "annex_code": self.annex_code(p.annex),
            "promotion": promotion, "passage_seal": p.passage_hash.as_deref().map(|h| self.passage_seal(p.annex, h)), "via": "promotion_review",
        });
        self.audit_at_now(batch, &user.to_string(), "annex.view", detail);
        let result = PromotionPassage {
            promotion,
            code: p.code(),
            annex: p.annex,
            annex_code: self.annex_code(p.annex),
            section: p.section,
            section_title: self.state.section(p.section).map(|s| s.title.clone()).unwrap_or_default(),
            reason: p.reason.clone(),
            passage,
            logged: true,
        };
        Ok(to_value(&result))
    }

    fn decide_promotion(
        &mut self,
        batch: &mut Batch,
        user: UserId,
        promotion: PromotionId,
        approve: bool,
        note: Option<String>,
        now: i64,
    ) -> Answer {
        let Some(p) = self.state.access.promotions.get(&promotion).cloned() else {
            return Err((ErrorCode::NotFound, format!("promotion {promotion} not found")));
        };
        match acc::may_decide(&self.state, user, p.requester) {
            Ok(()) => {}
            Err(DecideRefusal::NotOwner) => return Err(forbidden("only an owner may approve or deny a promotion")),
            Err(DecideRefusal::OwnRequest) => {
                return Err(forbidden(format!("self-approval is impossible: {} is your own request", p.code())));
            }
        }
        if p.status != PromotionStatus::Requested {
            return Err(conflict(format!("promotion {} is already {}", p.code(), p.status)));
        }
        let code = self.annex_code(p.annex);
        let decided = Decided { by: user, note: note.clone(), at_ms: now };
        let base = json!({
            "promotion": promotion, "code": p.code(), "requester": p.requester, "annex": p.annex, "annex_code": code,
            "section": p.section, "reason": p.reason, "note": note,
            "passage_seal": p.passage_hash.as_deref().map(|h| self.passage_seal(p.annex, h)),
            "passage_chars": p.passage_chars,
        });
        if !approve {
            let mut detail = base;
            detail["status"] = json!("denied");
            detail["decision"] = json!("denied");
            let revision =
                self.commit_change(batch, user, None, Change::PromotionDecided { promotion, decided, provenance: None }, detail)?;
            return Ok(to_value(&PromotionResult { revision, promotion, code: p.code(), status: PromotionStatus::Denied }));
        }
        let Some(passage) = p.passage.clone() else {
            return Err(conflict(format!("the passage of {} was purged under retention", p.code())));
        };
        let Some(section) = self.state.section(p.section) else {
            return Err((ErrorCode::NotFound, format!("section {} no longer exists", p.section)));
        };
        let insert = acc::promotion_insert(&code, passage.expose(), &section.body);
        let len = section.len;
        if len + insert.chars().count() > self.config.max_section_chars {
            return Err((ErrorCode::TooLarge, format!("the section would exceed {} characters", self.config.max_section_chars)));
        }
        let hash = p.passage_hash.clone().unwrap_or_else(|| acc::passage_hash(passage.expose()));
        let provenance = Provenance {
            annex: p.annex,
            annex_code: code.clone(),
            passage_hash: hash,
            approver: user,
            approved_at_ms: now,
            inserted_revision: self.state.revision + 2,
        };
        let mut detail = base;
        detail["status"] = json!("approved");
        detail["decision"] = json!("approved");
        detail["provenance"] = to_value(&provenance);
        self.commit_change(batch, user, None, Change::PromotionDecided { promotion, decided, provenance: Some(provenance.clone()) }, detail)?;
        let mut op = Vec::new();
        if len > 0 {
            op.push(WireComponent::Count(len as i64));
        }
        op.push(WireComponent::Text(insert.clone()));
        let detail = json!({
            "section": p.section, "inserted": insert.chars().count(), "deleted": 0, "promotion": promotion,
            "promotion_code": p.code(), "provenance": provenance,
        });
        let revision = self.commit_change(batch, user, None, Change::SectionEdited { section: p.section, op }, detail)?;
        Ok(to_value(&PromotionResult { revision, promotion, code: p.code(), status: PromotionStatus::Approved }))
    }
}

fn note_field(note: Option<String>, max: usize) -> Result<Option<String>, Refusal> {
    Ok(note.map(|n| text_field("note", &n, max, false)).transpose()?.filter(|n| !n.trim().is_empty()))
}

fn ack(revision: u64, created: Option<String>) -> Value {
    to_value(&Ack { revision, duplicate: false, created })
}

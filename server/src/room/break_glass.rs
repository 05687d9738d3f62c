//! Break-glass in the room actor: invoking it, ending it (opening the
//! review objection), resolving the review, and the administrative list.

use serde_json::json;
use trustroom_shared::UserId;
use trustroom_shared::access::{self as acc, AccessPolicyUpdate, BreakGlass, BreakGlassResult, Ended};
use trustroom_shared::change::Change;
use trustroom_shared::ids::{BreakGlassId, ObjectionId};
use trustroom_shared::objection::ObjectionStatus;
use trustroom_shared::protocol::ErrorCode;
use trustroom_shared::role::Role;

use super::access::{AnnexAsk, when};
use super::requests::{conflict, forbidden, invalid, to_value};
use super::{ADMIN_ACTOR, Answer, Batch, Refusal, Room};

impl Room {
    pub(super) fn end_break_glass(
        &mut self,
        batch: &mut Batch,
        invocation: BreakGlassId,
        ended: Ended,
        author: UserId,
    ) -> Result<u64, Refusal> {
        let Some(bg) = self.state.access.break_glass.get(&invocation).cloned() else {
            return Err((ErrorCode::NotFound, format!("break-glass {invocation} not found")));
        };
        let review = acc::review_objection(&self.state, &bg, &ended, ObjectionId::new());
        let detail = json!({
            "invocation": invocation, "code": bg.code(), "user": bg.user, "user_name": self.name_of(bg.user),
            "annex_codes": bg.annexes.iter().map(|a| self.annex_code(*a)).collect::<Vec<_>>(),
            "cause": ended.cause, "review": review.id, "review_code": review.code(), "started": bg.at_ms, "ends_at": bg.ends_at,
        });
        let result =
            self.commit_change(batch, author, None, Change::BreakGlassEnded { invocation, ended, review }, detail);
        if let Err((code, message)) = &result {
            tracing::error!(room = %self.id, %invocation, "cannot end the break-glass ({code}): {message}");
        }
        result
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
        Ok(format!(
            "break-glass list of room {}: {}",
            self.id,
            if names.is_empty() { "(empty)".into() } else { names.join(", ") }
        ))
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

    pub(super) fn invoke_break_glass(&mut self, batch: &mut Batch, ask: AnnexAsk) -> Answer {
        let AnnexAsk { by: user, at_ms: now, annexes, reason, duration_ms, stamp } = ask;
        if !self.state.access.policy.break_glass.contains(&user) {
            return Err(forbidden("you are not on this room's break-glass list; ask an owner for access instead"));
        }
        let duration = acc::break_glass_duration(duration_ms).map_err(invalid)?;
        let annexes = self.checked_annexes(annexes)?;
        let reason = self.reason(&reason)?;
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
}

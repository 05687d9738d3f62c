//! Applying access-governance changes to a room state.

use crate::change::{ApplyError, Change, Revision};
use crate::ids::AccessRequestId;
use crate::room::RoomState;

use super::{
    AccessRequest, BREAK_GLASS_MAX_MS, Decided, EndCause, FoldInto, PromotionStatus, RequestStatus,
    request_move_allowed, scrub_state,
};

fn request_mut<'a>(state: &'a mut RoomState, id: &AccessRequestId) -> Result<&'a mut AccessRequest, ApplyError> {
    state.access.requests.get_mut(id).ok_or_else(|| ApplyError::NotFound(format!("access request {id}")))
}

fn move_request(r: &mut AccessRequest, to: RequestStatus) -> Result<(), ApplyError> {
    if !request_move_allowed(r.status, to) {
        return Err(ApplyError::Conflict(format!("request {} is {} and cannot become {to}", r.code(), r.status)));
    }
    r.status = to;
    Ok(())
}

/// Applies one access-governance change (called by [`crate::change::apply`]).
pub fn apply(state: &mut RoomState, rev: &Revision) -> Result<(), ApplyError> {
    match &rev.change {
        Change::AccessRequested { request } => {
            if state.access.requests.contains_key(&request.id) {
                return Err(ApplyError::Conflict(format!("access request {} already exists", request.id)));
            }
            if !state.annexes.contains_key(&request.annex) {
                return Err(ApplyError::NotFound(format!("annex {}", request.annex)));
            }
            if request.status != RequestStatus::Requested {
                return Err(ApplyError::Invalid("a new request starts as requested".into()));
            }
            state.access.requests.insert(request.id, request.clone());
        }
        Change::AccessFolded { request, fold } => {
            let r = request_mut(state, request)?;
            match fold.into {
                FoldInto::Pending if r.is_pending() => r.duration_ms = r.duration_ms.max(fold.duration_ms),
                FoldInto::Grant if r.status == RequestStatus::Approved => {}
                _ => {
                    return Err(ApplyError::Conflict(format!(
                        "request {} is {}; nothing to fold into",
                        r.code(),
                        r.status
                    )));
                }
            }
            r.folds.push(fold.clone());
        }
        Change::AccessDecided { request, approved, decided, expires_at } => {
            let r = request_mut(state, request)?;
            if *approved {
                let Some(expires) = expires_at else {
                    return Err(ApplyError::Invalid("an approval needs an expiry".into()));
                };
                move_request(r, RequestStatus::Approved)?;
                r.expires_at = Some(*expires);
            } else {
                move_request(r, RequestStatus::Denied)?;
            }
            r.decided = Some(decided.clone());
        }
        Change::AccessWithdrawn { request, at_ms } => {
            let r = request_mut(state, request)?;
            move_request(r, RequestStatus::Withdrawn)?;
            r.decided =
                Some(Decided { by: r.requester, note: Some("withdrawn by the requester".into()), at_ms: *at_ms });
        }
        Change::GrantEnded { grant, ended } => {
            let r = request_mut(state, grant)?;
            let to = if ended.cause == EndCause::Expired { RequestStatus::Expired } else { RequestStatus::Revoked };
            move_request(r, to)?;
            r.ended = Some(ended.clone());
        }
        Change::BreakGlassInvoked { invocation } => {
            if state.access.break_glass.contains_key(&invocation.id) {
                return Err(ApplyError::Conflict(format!("break-glass {} already exists", invocation.id)));
            }
            if invocation.ended.is_some() || invocation.ends_at <= invocation.at_ms {
                return Err(ApplyError::Invalid("a break-glass invocation starts active".into()));
            }
            if (invocation.ends_at - invocation.at_ms) as u64 > BREAK_GLASS_MAX_MS {
                return Err(ApplyError::Invalid("break-glass lasts at most 30 minutes".into()));
            }
            state.access.break_glass.insert(invocation.id, invocation.clone());
        }
        Change::BreakGlassEnded { invocation, ended, review } => {
            if state.objections.contains_key(&review.id) {
                return Err(ApplyError::Conflict(format!("objection {} already exists", review.id)));
            }
            let bg = state
                .access
                .break_glass
                .get_mut(invocation)
                .ok_or_else(|| ApplyError::NotFound(format!("break-glass {invocation}")))?;
            if bg.ended.is_some() {
                return Err(ApplyError::Conflict(format!("{} already ended", bg.code())));
            }
            bg.ended = Some(ended.clone());
            bg.review = Some(review.id);
            state.objections.insert(review.id, review.clone());
        }
        Change::PromotionRequested { promotion } => {
            if state.access.promotions.contains_key(&promotion.id) {
                return Err(ApplyError::Conflict(format!("promotion {} already exists", promotion.id)));
            }
            if promotion.status != PromotionStatus::Requested {
                return Err(ApplyError::Invalid("a new promotion starts as requested".into()));
            }
            state.access.promotions.insert(promotion.id, promotion.clone());
        }
        Change::PromotionDecided { promotion, decided, provenance } => {
            let p = state
                .access
                .promotions
                .get_mut(promotion)
                .ok_or_else(|| ApplyError::NotFound(format!("promotion {promotion}")))?;
            if p.status != PromotionStatus::Requested {
                return Err(ApplyError::Conflict(format!("promotion {} is already {}", p.code(), p.status)));
            }
            match provenance {
                Some(prov) => {
                    p.status = PromotionStatus::Approved;
                    p.passage_hash = Some(prov.passage_hash.clone());
                    p.provenance = Some(prov.clone());
                }
                None => p.status = PromotionStatus::Denied,
            }
            p.decided = Some(decided.clone());
        }
        Change::AccessPolicySet { policy } => {
            policy.validate().map_err(ApplyError::Invalid)?;
            state.access.policy = policy.clone().normalized();
        }
        Change::ChecksEvaluated { checks } => {
            state.access.checks = checks.clone();
        }
        Change::CheckOverridden { check_override } => {
            if state.access.overrides.iter().any(|o| o.check == check_override.check && o.is_active()) {
                return Err(ApplyError::Conflict(format!("check {} is already overridden", check_override.check)));
            }
            state.access.overrides.push(check_override.clone());
            for c in state.access.checks.iter_mut().filter(|c| c.check == check_override.check) {
                c.overridden = c.covered == check_override.covered;
            }
        }
        Change::CheckOverrideLapsed { check } => {
            let o = state
                .access
                .overrides
                .iter_mut()
                .find(|o| o.check == *check && o.is_active())
                .ok_or_else(|| ApplyError::NotFound(format!("active override of {check}")))?;
            o.lapsed_at = Some(rev.revision);
            for c in state.access.checks.iter_mut().filter(|c| c.check == *check) {
                c.overridden = false;
            }
        }
        Change::ContentPurged { purge } => {
            scrub_state(state);
            state.access.purged = Some(purge.clone());
        }
        other => return Err(ApplyError::Invalid(format!("{} is not an access change", other.kind_name()))),
    }
    Ok(())
}

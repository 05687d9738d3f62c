//! Access requests in the room actor: asking, folding, deciding, and
//! ending the grants they become.

use serde_json::json;
use trustroom_shared::UserId;
use trustroom_shared::access::{
    self as acc, AccessRequest, AccessScope, DecideRefusal, Decided, EndCause, Ended, Fold, FoldInto,
    RequestAccessResult, RequestOutcome, RequestStatus, Via,
};
use trustroom_shared::change::Change;
use trustroom_shared::ids::AccessRequestId;
use trustroom_shared::protocol::ErrorCode;

use super::access::{AnnexAsk, note_field};
use super::requests::{ack, conflict, forbidden, invalid, to_value};
use super::{ADMIN_ACTOR, Answer, Batch, Refusal, Room};

impl Room {
    pub(super) fn end_grant(
        &mut self,
        batch: &mut Batch,
        grant: AccessRequestId,
        ended: Ended,
        author: Option<UserId>,
    ) -> Result<u64, Refusal> {
        let Some(r) = self.state.access.requests.get(&grant) else {
            return Err((ErrorCode::NotFound, format!("grant {grant} not found")));
        };
        let detail = json!({
            "grant": grant, "code": r.code(), "requester": r.requester, "requester_name": self.name_of(r.requester),
            "annex": r.annex, "annex_code": self.annex_code(r.annex), "cause": ended.cause, "note": ended.note,
            "expires_at": r.expires_at, "status": if ended.cause == EndCause::Expired { "expired" } else { "revoked" },
        });
        let result =
            self.commit_change(batch, author.unwrap_or(ADMIN_ACTOR), None, Change::GrantEnded { grant, ended }, detail);
        if let Err((code, message)) = &result {
            tracing::error!(room = %self.id, %grant, "cannot end the grant ({code}): {message}");
        }
        result
    }

    pub(super) fn request_record(&self, id: AccessRequestId) -> Result<AccessRequest, Refusal> {
        self.state
            .access
            .requests
            .get(&id)
            .cloned()
            .ok_or_else(|| (ErrorCode::NotFound, format!("access request {id} not found")))
    }

    pub(super) fn request_access(&mut self, batch: &mut Batch, ask: AnnexAsk) -> Answer {
        let AnnexAsk { by: user, at_ms: now, annexes, reason, duration_ms, stamp } = ask;
        let annexes = self.checked_annexes(annexes)?;
        let reason = self.reason(&reason)?;
        let duration = acc::grant_duration(&self.state.access.policy, duration_ms).map_err(invalid)?;
        for a in &annexes {
            if acc::access_via(&self.state, user, *a, Some(now)) == Some(Via::NeedToKnow) {
                return Err(conflict(format!(
                    "you are on the need-to-know list of annex {} already",
                    self.annex_code(*a)
                )));
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
                    revision = self.commit_change(
                        batch,
                        user,
                        stamp.take(),
                        Change::AccessFolded { request: into_id, fold },
                        detail,
                    )?;
                    let r = self.request_record(into_id)?;
                    outcomes.push(RequestOutcome {
                        annex,
                        annex_code: code,
                        request: into_id,
                        code: r.code(),
                        outcome: match into {
                            FoldInto::Pending => "pending".into(),
                            FoldInto::Grant => "grant".into(),
                        },
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
                    revision =
                        self.commit_change(batch, user, stamp.take(), Change::AccessRequested { request }, detail)?;
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

    pub(super) fn decide_access(
        &mut self,
        batch: &mut Batch,
        user: UserId,
        request: AccessRequestId,
        approve: bool,
        note: Option<String>,
        now: i64,
    ) -> Answer {
        let note = note_field(note, self.config.max_text_chars)?;
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
        let rev = self.commit_change(
            batch,
            user,
            None,
            Change::AccessDecided { request, approved: approve, decided, expires_at },
            detail,
        )?;
        Ok(ack(rev, Some(request.to_string())))
    }
}

//! Promotions in the room actor: requesting one, reading its passage, and
//! deciding it (an approval inserts the passage with its provenance).

use serde_json::json;
use trustroom_shared::UserId;
use trustroom_shared::access::{
    self as acc, DecideRefusal, Decided, Promotion, PromotionPassage, PromotionResult, PromotionStatus, Provenance,
    Sealed,
};
use trustroom_shared::change::{Change, ClientStamp};
use trustroom_shared::ids::{AnnexId, PromotionId, SectionId};
use trustroom_shared::ot::{TextOp, normalize_newlines};
use trustroom_shared::protocol::ErrorCode;

use super::access::note_field;
use super::requests::{conflict, forbidden, invalid, to_value};
use super::{Answer, Batch, Room};

impl Room {
    #[allow(clippy::too_many_arguments)]
    pub(super) fn request_promotion(
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
            return Err(forbidden(format!(
                "you have no access to annex {code}; only a reader of the annex can promote from it"
            )));
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
            return Err((
                ErrorCode::TooLarge,
                format!("the passage has {chars} characters (limit {})", self.config.max_text_chars),
            ));
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

    pub(super) fn view_promotion(&mut self, batch: &mut Batch, user: UserId, promotion: PromotionId) -> Answer {
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

    pub(super) fn decide_promotion(
        &mut self,
        batch: &mut Batch,
        user: UserId,
        promotion: PromotionId,
        approve: bool,
        note: Option<String>,
        now: i64,
    ) -> Answer {
        let note = note_field(note, self.config.max_text_chars)?;
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
            let revision = self.commit_change(
                batch,
                user,
                None,
                Change::PromotionDecided { promotion, decided, provenance: None },
                detail,
            )?;
            return Ok(to_value(&PromotionResult {
                revision,
                promotion,
                code: p.code(),
                status: PromotionStatus::Denied,
            }));
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
            return Err((
                ErrorCode::TooLarge,
                format!("the section would exceed {} characters", self.config.max_section_chars),
            ));
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
        self.commit_change(
            batch,
            user,
            None,
            Change::PromotionDecided { promotion, decided, provenance: Some(provenance.clone()) },
            detail,
        )?;
        let mut op = TextOp::new();
        op.retain(len).insert(&insert);
        let detail = json!({
            "section": p.section, "inserted": insert.chars().count(), "deleted": 0, "promotion": promotion,
            "promotion_code": p.code(), "provenance": provenance,
        });
        let revision =
            self.commit_change(batch, user, None, Change::SectionEdited { section: p.section, op }, detail)?;
        Ok(to_value(&PromotionResult { revision, promotion, code: p.code(), status: PromotionStatus::Approved }))
    }
}

//! The hold register of one room: holds placed by an owner (`hold`) or by a
//! failing room check, each cleared on its own — by an owner with a
//! rationale (`clear_hold`), or by its check when the check passes again.
//! Records are never deleted. The rules are in `trustroom_shared::holds`.
//!
//! The capability check (`decide_release`) and the read-only check of
//! escalated rooms happen before this is reached (`requests.rs`).

use serde_json::json;
use trustroom_shared::UserId;
use trustroom_shared::change::Change;
use trustroom_shared::checks::{CheckKind, CheckResult};
use trustroom_shared::holds::{self, ClearRefusal, Hold, HoldActor, HoldClearance};
use trustroom_shared::protocol::{ErrorCode, HoldsResult};

use super::requests::{ack, text_field, to_value};
use super::{ADMIN_ACTOR, Answer, Batch, Room};

/// Most holds open at once in one room (cleared holds stay in the register
/// and do not count).
pub const MAX_HOLDS: usize = 1000;

impl Room {
    /// `hold`: a new open hold `H-n` with the owner's reason.
    pub(super) fn place_hold(&mut self, batch: &mut Batch, user: UserId, reason: &str) -> Answer {
        let reason = text_field("reason", reason, self.config.max_text_chars, true)?;
        if holds::open_holds(&self.state).count() >= MAX_HOLDS {
            return Err((
                ErrorCode::TooLarge,
                format!("{MAX_HOLDS} holds are open: clear some (`clear_hold`) before placing another"),
            ));
        }
        let (rev, number) = self.commit_hold(batch, HoldActor::Member { user }, reason)?;
        Ok(ack(rev, Some(holds::code(number))))
    }

    /// `clear_hold`: clears one open hold with the owner's rationale.
    pub(super) fn clear_hold(&mut self, batch: &mut Batch, user: UserId, number: u32, rationale: &str) -> Answer {
        let rationale = text_field("rationale", rationale, self.config.max_text_chars, true)?;
        if number == 0 {
            return Err((ErrorCode::Invalid, "hold numbers start at 1 (H-1): `holds` lists them".into()));
        }
        if let Some(refusal) = holds::clear_refusal(&self.state, number) {
            return Err(match refusal {
                ClearRefusal::NotFound(m) => (ErrorCode::NotFound, m),
                ClearRefusal::AlreadyCleared(m) | ClearRefusal::CheckStillFails(m) => (ErrorCode::Conflict, m),
            });
        }
        let rev = self.commit_clearance(batch, number, HoldActor::Member { user }, rationale)?;
        Ok(ack(rev, None))
    }

    /// `holds`: the register, open and cleared.
    pub(super) fn holds_result(&self) -> Answer {
        Ok(to_value(&HoldsResult {
            revision: self.state.revision,
            release: self.state.release.name().to_string(),
            holds: self.state.holds.clone(),
        }))
    }

    /// A failing room check holds the room: one open hold per check (a
    /// second failure of the same check while its hold is open adds
    /// nothing). Not in an escalated room, and not past the register's
    /// bound.
    pub(super) fn hold_for_check(&mut self, batch: &mut Batch, check: CheckKind, reason: String) {
        if self.state.release.is_read_only() || holds::open_check_hold(&self.state, check).is_some() {
            return;
        }
        if holds::open_holds(&self.state).count() >= MAX_HOLDS {
            tracing::warn!(room = %self.id, "the {} check fails but {MAX_HOLDS} holds are open: no hold placed", check.title());
            return;
        }
        if let Err((code, message)) = self.commit_hold(batch, HoldActor::Check { check }, reason) {
            tracing::error!(room = %self.id, "automatic hold failed ({code}): {message}");
        }
    }

    /// The open holds of checks that pass again clear themselves.
    pub(super) fn clear_passing_check_holds(&mut self, batch: &mut Batch, results: &[CheckResult]) {
        // An escalated room's register is frozen with it (its checks stop
        // evaluating as they did: passing now says nothing).
        if self.state.release.is_read_only() {
            return;
        }
        for (number, why) in holds::self_clearing(&self.state, results) {
            let Some(check) = holds::hold(&self.state, number).and_then(Hold::check) else { continue };
            if let Err((code, message)) = self.commit_clearance(batch, number, HoldActor::Check { check }, why) {
                tracing::error!(room = %self.id, "automatic clearing of hold failed ({code}): {message}");
            }
        }
    }

    /// The owner's review of packet revision `packet` (`mark_ready`, or
    /// `release_packet`: `verb` says which) clears the open review holds.
    pub(super) fn clear_review_holds(
        &mut self,
        batch: &mut Batch,
        user: UserId,
        packet: u64,
        verb: &str,
    ) -> Result<(), super::Refusal> {
        let review: Vec<u32> =
            holds::open_holds(&self.state).filter(|h| holds::is_review_hold(h)).map(|h| h.number).collect();
        for number in review {
            let why = format!("the owner reviewed packet rev {packet} and {verb} it");
            self.commit_clearance(batch, number, HoldActor::Member { user }, why)?;
        }
        Ok(())
    }

    /// Commits a new open hold; answers its revision and number. A
    /// check's hold is audited as automatic, naming the check.
    fn commit_hold(
        &mut self,
        batch: &mut Batch,
        placed_by: HoldActor,
        reason: String,
    ) -> Result<(u64, u32), super::Refusal> {
        let number = holds::next_number(&self.state);
        let author = match placed_by {
            HoldActor::Member { user } => user,
            HoldActor::Check { .. } => ADMIN_ACTOR,
        };
        let hold = Hold {
            number,
            reason: reason.clone(),
            placed_by,
            at_ms: self.now(),
            // The revision this change will get.
            revision: self.state.revision + 1,
            packet_revision: self.state.content_revision,
            cleared: None,
        };
        let mut detail = json!({
            "decision": "hold",
            "hold": holds::code(number),
            "reason": reason,
            "from": self.state.release.name(),
            "packet_revision": self.state.content_revision,
        });
        if let HoldActor::Check { check } = placed_by {
            detail["automatic"] = json!(true);
            detail["check"] = json!(check);
        }
        let rev = self.commit_change(batch, author, None, Change::HoldPlaced { hold }, detail)?;
        Ok((rev, number))
    }

    fn commit_clearance(
        &mut self,
        batch: &mut Batch,
        number: u32,
        by: HoldActor,
        rationale: String,
    ) -> Result<u64, super::Refusal> {
        let author = match by {
            HoldActor::Member { user } => user,
            HoldActor::Check { .. } => ADMIN_ACTOR,
        };
        let clearance =
            HoldClearance { by, rationale: rationale.clone(), at_ms: self.now(), revision: self.state.revision + 1 };
        let still_open = holds::open_holds(&self.state).filter(|h| h.number != number).count();
        let mut detail = json!({
            "decision": "clear_hold",
            "hold": holds::code(number),
            "rationale": rationale,
            "open_after": still_open,
        });
        if let HoldActor::Check { check } = by {
            detail["automatic"] = json!(true);
            detail["check"] = json!(check);
        }
        self.commit_change(batch, author, None, Change::HoldCleared { hold: number, clearance }, detail)
    }
}

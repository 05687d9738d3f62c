//! Break-glass: the invocation record, its hard duration limit, which
//! invocations are active or due, and the review objection opened when one
//! ends.

use serde::{Deserialize, Serialize};

use crate::ids::{AnnexId, BreakGlassId, ObjectionId, SectionId, UserId};
use crate::objection::{Anchor, Objection, ObjectionKind, ObjectionStatus};
use crate::room::RoomState;

use super::{Ended, MINUTE_MS, SYSTEM, format_duration};

/// Break-glass lasts at most this long (hard limit, not configurable).
pub const BREAK_GLASS_MAX_MS: u64 = 30 * MINUTE_MS;

/// The duration of a break-glass invocation: at most 30 minutes (default).
pub fn break_glass_duration(requested: Option<u64>) -> Result<u64, String> {
    let d = requested.unwrap_or(BREAK_GLASS_MAX_MS);
    if d == 0 {
        return Err("the duration must be positive".into());
    }
    if d > BREAK_GLASS_MAX_MS {
        return Err(format!("break-glass lasts at most 30 minutes (asked for {})", format_duration(d)));
    }
    Ok(d)
}

/// One break-glass invocation.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BreakGlass {
    pub id: BreakGlassId,
    /// Per-room number, shown as `BG-N`.
    pub number: u32,
    pub user: UserId,
    pub annexes: Vec<AnnexId>,
    pub reason: String,
    pub at_ms: i64,
    pub ends_at: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ended: Option<Ended>,
    /// The "break-glass review" objection opened when it ended.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub review: Option<ObjectionId>,
}

impl BreakGlass {
    /// `BG-N`.
    pub fn code(&self) -> String {
        format!("BG-{}", self.number)
    }

    /// Not ended; with `now`, also not past its end.
    pub fn is_active(&self, now: Option<i64>) -> bool {
        self.ended.is_none() && now.is_none_or(|n| n < self.ends_at)
    }
}

/// Active break-glass invocations (per the records).
pub fn active_break_glass(state: &RoomState) -> impl Iterator<Item = &BreakGlass> {
    state.access.break_glass.values().filter(|b| b.is_active(None))
}

/// The break-glass whose review objection this is.
pub fn review_of(state: &RoomState, objection: ObjectionId) -> Option<&BreakGlass> {
    state.access.break_glass.values().find(|b| b.review == Some(objection))
}

/// Active break-glass invocations whose time is up at `now`.
pub fn due_break_glass(state: &RoomState, now: i64) -> Vec<BreakGlassId> {
    active_break_glass(state).filter(|b| b.ends_at <= now).map(|b| b.id).collect()
}

/// The blocking "break-glass review" objection opened when `bg` ends.
pub fn review_objection(state: &RoomState, bg: &BreakGlass, ended: &Ended, id: ObjectionId) -> Objection {
    let who = state.member(bg.user).map_or_else(|| bg.user.to_string(), |m| m.name.clone());
    let codes: Vec<String> =
        bg.annexes.iter().map(|a| state.annexes.get(a).map_or_else(|| a.to_string(), |x| x.code.clone())).collect();
    let minutes = (ended.at_ms - bg.at_ms).max(0) / MINUTE_MS as i64;
    let section = state.sections.first().map_or(SectionId(uuid::Uuid::nil()), |s| s.id);
    Objection {
        id,
        number: state.next_objection_number(),
        author: SYSTEM,
        anchor: Anchor { section, statement: None, quote: None },
        kind: ObjectionKind::Sensitivity,
        blocking: true,
        text: format!(
            "Break-glass review: {who} used {} ({}) to read {} for {minutes} min, ended: {}. Reason given: {} — \
             an owner must resolve this (addressed, or accepted-residual with a rationale) before release.",
            bg.code(),
            bg.id,
            codes.join(", "),
            ended.cause,
            bg.reason
        ),
        status: ObjectionStatus::Open,
        rationale: None,
        replies: Vec::new(),
        history: Vec::new(),
        at_ms: ended.at_ms,
        found_downstream: None,
    }
}

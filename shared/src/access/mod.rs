//! Annex access governance as room records that only ever move forward:
//! access requests and the grants they become, break-glass invocations,
//! promotions of annex passages into the packet, the room's access policy
//! and the retention purge. Plus the pure rules the server applies: reason
//! and duration rules, folding of overlapping requests, who may decide,
//! and who may read which annex right now.
//!
//! Lifecycles (one-way; records are never deleted):
//! - access request: `requested` → `approved` | `denied` | `withdrawn`;
//!   `approved` → `expired` | `revoked`. An approved request *is* the grant
//!   (same id, shown as `R-N`).
//! - break-glass: active → ended (expired, ended early, member left); the
//!   end opens a blocking "break-glass review" objection.
//! - promotion: `requested` → `approved` | `denied`.
//!
//! Access to an annex = its need-to-know list, OR an active grant, OR an
//! active break-glass naming it. A grant never counts as break-glass and
//! break-glass never becomes a grant.

mod apply;
mod break_glass;
mod clock;
mod grants;
mod policy;
mod promotion;
mod reading;
mod results;
mod retention;
mod state;

pub use apply::*;
pub use break_glass::*;
pub use clock::*;
pub use grants::*;
pub use policy::*;
pub use promotion::*;
pub use reading::*;
pub use results::*;
pub use retention::*;
pub use state::*;

use crate::ids::UserId;

/// Author of changes the room makes by itself (expiry, reviews, holds).
pub const SYSTEM: UserId = UserId(uuid::Uuid::nil());

/// Parses a check or status name case-insensitively with `-` or `_`.
pub fn normalize_name(text: &str) -> String {
    text.trim().to_lowercase().replace('-', "_")
}

#[cfg(test)]
pub(crate) mod tests;

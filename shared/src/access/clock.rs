//! The next moment the room must act by itself.

use crate::room::RoomState;

use super::{active_break_glass, retention_due_at};

/// The next moment the room must act by itself: a grant's expiry, a
/// break-glass end, or the retention purge.
pub fn next_deadline(state: &RoomState) -> Option<i64> {
    let grants = state.access.requests.values().filter(|r| r.is_active_grant(None)).filter_map(|r| r.expires_at);
    let glass = active_break_glass(state).map(|b| b.ends_at);
    grants.chain(glass).chain(retention_due_at(state)).min()
}

//! What one member may see of a room: the snapshot sent on join.

use serde::{Deserialize, Serialize};

use crate::canonical::content_hash;
use crate::ids::{AnnexId, UserId};
use crate::policy::Capability;
use crate::protocol::Presence;
use crate::role::Role;
use crate::room::RoomState;

/// The joining member, as the server sees them.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MemberSelf {
    pub user: UserId,
    pub name: String,
    #[serde(flatten)]
    pub role: Role,
    pub capabilities: Vec<Capability>,
    /// Annexes this member may read (through `view_annex`).
    pub annex_access: Vec<AnnexId>,
}

/// A room as one member may see it. Annexes are always redacted: content
/// travels only in the audited `view_annex` answer.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Snapshot {
    pub state: RoomState,
    pub content_hash: String,
    pub me: MemberSelf,
    /// Highest request `seq` already applied for this connection's client id
    /// (so a reconnecting client knows which pending requests landed).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub applied_seq: Option<u64>,
    pub presence: Vec<Presence>,
}

/// The redacted state every member may receive.
pub fn redacted_state(state: &RoomState) -> RoomState {
    let mut out = state.clone();
    for annex in out.annexes.values_mut() {
        *annex = annex.redacted();
    }
    out.access = out.access.redacted();
    out.evidence = out.evidence.redacted();
    // Suggestions (like all text) are masked per recipient by the server's
    // egress filter where they carry restricted detail.
    out
}

/// Builds `user`'s snapshot, or `None` when `user` is not a member.
pub fn snapshot_for(
    state: &RoomState,
    user: UserId,
    applied_seq: Option<u64>,
    presence: Vec<Presence>,
) -> Option<Snapshot> {
    let member = state.member(user)?;
    let me = MemberSelf {
        user,
        name: member.name.clone(),
        role: member.role,
        capabilities: crate::access::capabilities_of(state, user, &member.role),
        // Need-to-know, active grants and active break-glass.
        annex_access: crate::access::annex_access(state, user),
    };
    Some(Snapshot { state: redacted_state(state), content_hash: content_hash(state), me, applied_seq, presence })
}

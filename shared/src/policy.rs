//! Who may do what. Capabilities come from the member's role; the server
//! calls [`allowed`] for every request.

use serde::{Deserialize, Serialize};

use crate::role::Role;

/// Something a member may be allowed to do in a room.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Capability {
    /// Read the packet, register and annex map (metadata).
    Read,
    /// Change section text, add sections.
    Edit,
    /// Raise objections and reply.
    Object,
    /// Move an objection to addressed/withdrawn.
    ResolveObjection,
    /// Mark an objection accepted-residual (with a rationale).
    AcceptResidual,
    /// Hold, mark ready, release, escalate.
    DecideRelease,
    /// Export and verify the audit log.
    Audit,
}

impl Capability {
    pub const ALL: [Capability; 7] = [
        Capability::Read,
        Capability::Edit,
        Capability::Object,
        Capability::ResolveObjection,
        Capability::AcceptResidual,
        Capability::DecideRelease,
        Capability::Audit,
    ];
}

/// Whether `role` has `cap`.
pub fn allowed(role: &Role, cap: Capability) -> bool {
    use Capability::*;
    match role {
        Role::Owner => true,
        Role::Reviewer { .. } => matches!(cap, Read | Edit | Object | ResolveObjection),
        // Agents only propose: they read, object and reply. Direct edits
        // arrive with suggestions; until then they are refused.
        Role::Agent { .. } => matches!(cap, Read | Object),
        Role::Observer => matches!(cap, Read),
    }
}

/// All capabilities of `role`, in a stable order.
pub fn capabilities(role: &Role) -> Vec<Capability> {
    Capability::ALL.into_iter().filter(|c| allowed(role, *c)).collect()
}

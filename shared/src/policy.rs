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
    /// Propose section edits and register changes as suggestions.
    Suggest,
    /// Accept or reject suggestions: owners, and reviewers the owner
    /// allowed (the room's acceptor list; see `suggestion::may_decide`).
    DecideSuggestion,
    /// Co-sign the packet for a lane (reviewers; observers only when the
    /// release policy names them).
    Cosign,
    /// Decide annex access and promotions, revoke grants, set the access
    /// policy (owners).
    GovernAccess,
    /// Set who decides suggestions and the room's boundary rules (owners).
    GovernRoom,
    /// Read the releases of one's own downstream lane, decide their intake
    /// and report findings on them (downstream members only).
    Intake,
}

impl Capability {
    pub const ALL: [Capability; 13] = [
        Capability::Read,
        Capability::Edit,
        Capability::Object,
        Capability::ResolveObjection,
        Capability::AcceptResidual,
        Capability::DecideRelease,
        Capability::Audit,
        Capability::Suggest,
        Capability::DecideSuggestion,
        Capability::Cosign,
        Capability::GovernAccess,
        Capability::GovernRoom,
        Capability::Intake,
    ];
}

/// Whether `role` has `cap`.
pub fn allowed(role: &Role, cap: Capability) -> bool {
    use Capability::*;
    match role {
        // Owners may do everything in the room; lane intake belongs to the
        // downstream lane, not to the room.
        Role::Owner => cap != Intake,
        // Reviewers decide suggestions only when the owner allowed them
        // (state-dependent: `access::capabilities_of` adds it).
        Role::Reviewer { .. } => matches!(cap, Read | Edit | Object | ResolveObjection | Suggest | Cosign),
        // Agents only propose: they read, object, reply and suggest; they
        // never edit directly and never decide anything.
        Role::Agent { .. } => matches!(cap, Read | Object | Suggest),
        // Observers co-sign only when the release policy names them
        // (checked with the request: `requests::Also::CosignRules`).
        Role::Observer => matches!(cap, Read | Cosign),
        // Downstream members never join the room: they only read their
        // lane's releases, decide intake and report findings.
        Role::Downstream { .. } => cap == Intake,
    }
}

/// All capabilities of `role`, in a stable order.
pub fn capabilities(role: &Role) -> Vec<Capability> {
    Capability::ALL.into_iter().filter(|c| allowed(role, *c)).collect()
}

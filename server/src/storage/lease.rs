//! Room leases: with several server nodes on one database, each room is
//! sequenced by exactly one node at a time. The owner holds a lease row
//! (node, advertised URL, epoch, expiry) and renews it in the background;
//! another node may take an expired lease over by bumping the epoch. Every
//! commit carries the committer's [`Fence`] and is refused when its epoch
//! is no longer the room's current one, so a paused old owner's late
//! writes never land (docs/cluster.md).
//!
//! SQLite is a single-node store: its lease methods always grant the lease
//! to the caller (epoch 0) and it ignores fences.

use async_trait::async_trait;
use trustroom_shared::RoomId;

use super::StorageResult;

/// The lease of one room as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lease {
    pub room: RoomId,
    /// The owning node's id (`serve --node-id`).
    pub node: String,
    /// Where clients reach the owner (`serve --advertise-url`).
    pub url: String,
    /// Bumped on every acquisition; commits are fenced by it.
    pub epoch: i64,
    /// Milliseconds until the lease expires, on the database's clock when
    /// it was read (negative: expired).
    pub remaining_ms: i64,
}

/// What a commit carries to prove its node still owns the room.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fence {
    pub node: String,
    pub epoch: i64,
}

/// The answer to [`Leases::acquire_lease`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Acquired {
    /// The caller owns the room now, with this (new) epoch.
    Granted(Lease),
    /// Another live node owns the room.
    HeldBy(Lease),
}

/// What to do with a room's lease row, decided from the row (if any), the
/// caller's node id, and whether the row has expired. Pure: the storage
/// backends run it inside the transaction that locked the row.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LeaseDecision {
    /// Write the caller as owner with this epoch.
    Take { epoch: i64 },
    /// Leave the row alone: another live node owns the room.
    Refuse,
}

/// The current row of a room's lease, as the decision needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LeaseRow {
    pub node: String,
    pub epoch: i64,
    pub expired: bool,
}

/// The lease rule. Free or expired: take it with the next epoch. Held by
/// the caller's own node id (a restarted process, or a room reopened after
/// its actor stopped): take it too, with the next epoch, which fences out
/// whatever earlier holder under the same id might still run. Held by a
/// live other node: refuse. Epochs only ever grow, so a fence that was
/// current once is never current again after a takeover.
pub fn decide(current: Option<&LeaseRow>, node: &str) -> LeaseDecision {
    match current {
        None => LeaseDecision::Take { epoch: 1 },
        Some(row) if row.expired || row.node == node => LeaseDecision::Take { epoch: row.epoch + 1 },
        Some(_) => LeaseDecision::Refuse,
    }
}

/// Whether a commit fenced by `fence` may land on the stored lease row.
pub fn fence_holds(current: Option<&LeaseRow>, fence: &Fence) -> bool {
    current.is_some_and(|row| row.node == fence.node && row.epoch == fence.epoch)
}

/// Lease storage, implemented by every backend (`Storage: Leases`).
#[async_trait]
pub trait Leases: Send + Sync {
    /// True when several server nodes may share this database (leases
    /// matter); false for the single-node SQLite store.
    fn shared_by_nodes(&self) -> bool;
    /// Takes the room's lease for `node` (reachable at `url`) for
    /// `duration_ms` when it is free, expired, or already `node`'s; the
    /// epoch is bumped on every grant.
    async fn acquire_lease(&self, room: RoomId, node: &str, url: &str, duration_ms: i64) -> StorageResult<Acquired>;
    /// Extends the leases `node` holds (room, epoch) by `duration_ms` in one
    /// statement; returns the rooms whose lease is no longer `node`'s at
    /// that epoch (lost: another node took over).
    async fn renew_leases(&self, node: &str, held: &[(RoomId, i64)], duration_ms: i64) -> StorageResult<Vec<RoomId>>;
    /// Ends `node`'s lease of `room` at once (when still at `epoch`), so
    /// another node can take over without waiting for expiry.
    async fn release_lease(&self, room: RoomId, node: &str, epoch: i64) -> StorageResult<()>;
    /// The room's lease row, if any.
    async fn lease_of(&self, room: RoomId) -> StorageResult<Option<Lease>>;
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(node: &str, epoch: i64, expired: bool) -> LeaseRow {
        LeaseRow { node: node.into(), epoch, expired }
    }

    #[test]
    fn a_free_room_is_taken_at_epoch_one() {
        assert_eq!(decide(None, "a"), LeaseDecision::Take { epoch: 1 });
    }

    #[test]
    fn a_live_lease_of_another_node_is_refused() {
        assert_eq!(decide(Some(&row("b", 7, false)), "a"), LeaseDecision::Refuse);
    }

    #[test]
    fn an_expired_lease_is_taken_over_with_the_next_epoch() {
        assert_eq!(decide(Some(&row("b", 7, true)), "a"), LeaseDecision::Take { epoch: 8 });
    }

    #[test]
    fn the_same_node_id_retakes_with_a_new_epoch_even_when_live() {
        // A restarted process under the same id must not share the old
        // process's epoch: the old one, if it still runs, is fenced out.
        assert_eq!(decide(Some(&row("a", 3, false)), "a"), LeaseDecision::Take { epoch: 4 });
    }

    #[test]
    fn a_fence_holds_only_for_the_current_node_and_epoch() {
        let fence = Fence { node: "a".into(), epoch: 4 };
        assert!(fence_holds(Some(&row("a", 4, false)), &fence));
        // Expired but not taken over: still the only sequencer, may commit.
        assert!(fence_holds(Some(&row("a", 4, true)), &fence));
        assert!(!fence_holds(Some(&row("a", 5, false)), &fence), "retaken under the same id");
        assert!(!fence_holds(Some(&row("b", 4, false)), &fence), "another node");
        assert!(!fence_holds(None, &fence), "no lease row at all");
    }

    #[test]
    fn epochs_never_repeat_across_takeovers() {
        // a, then b after expiry, then a again: each grant a new epoch, so
        // a's first fence never becomes current again.
        let mut current: Option<LeaseRow> = None;
        let mut seen = Vec::new();
        for (node, expire_first) in [("a", false), ("b", true), ("a", true), ("a", false)] {
            if let Some(r) = current.as_mut() {
                r.expired = expire_first;
            }
            let LeaseDecision::Take { epoch } = decide(current.as_ref(), node) else {
                panic!("{node} should take the lease");
            };
            assert!(!seen.contains(&epoch));
            seen.push(epoch);
            current = Some(row(node, epoch, false));
        }
        let first = Fence { node: "a".into(), epoch: seen[0] };
        assert!(!fence_holds(current.as_ref(), &first));
    }
}

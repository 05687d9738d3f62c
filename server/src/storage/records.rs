//! The records storage reads and writes, the same for every backend.

use trustroom_shared::audit::AuditEntry;
use trustroom_shared::change::Revision;
use trustroom_shared::manifest::ManifestRecord;
use trustroom_shared::room::RoomState;
use trustroom_shared::{ClientId, RoomId, UserId};

use super::Fence;

/// A user known to the server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserRecord {
    pub id: UserId,
    pub name: String,
    pub token_hash: String,
    pub created_ms: i64,
    pub revoked_ms: Option<i64>,
}

/// A room row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoomRecord {
    pub id: RoomId,
    pub title: String,
    pub created_ms: i64,
}

/// What opening a room reads: the newest snapshot and the log after it.
#[derive(Debug, Clone)]
pub struct LoadedRoom {
    pub record: RoomRecord,
    pub snapshot: Option<RoomState>,
    pub tail: Vec<Revision>,
    /// (seq, hash) of the newest audit entry of the room's chain.
    pub audit_head: Option<(u64, String)>,
    /// Highest applied request seq per client.
    pub client_seqs: Vec<(ClientId, u64)>,
}

/// One group commit: revisions (contiguous), audit entries (contiguous),
/// optionally a snapshot, and the manifests of releases among the
/// revisions. All or nothing.
#[derive(Debug, Clone, Default)]
pub struct CommitBatch {
    pub revisions: Vec<Revision>,
    pub audit: Vec<AuditEntry>,
    pub snapshot: Option<RoomState>,
    pub manifests: Vec<ManifestRecord>,
    /// The committing node's lease (multi-node backends refuse the batch
    /// with [`StorageError::Fenced`] when it is not current; see lease.rs).
    pub fence: Option<Fence>,
}

/// The server's signing key as stored (hex).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyRecord {
    pub name: String,
    pub algorithm: String,
    pub public_key: String,
    pub secret_key: String,
    pub created_ms: i64,
}

/// A queued administrative command.
#[derive(Debug, Clone)]
pub struct QueuedAdmin {
    pub id: i64,
    pub room: RoomId,
    pub command: String,
}

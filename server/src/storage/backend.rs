//! What a SQL backend supplies to the one [`Storage`](super::Storage)
//! implementation both share (queries.rs): its pool, the few statements
//! whose text differs between the dialects, and the operations each does
//! its own way (writing a batch, committing, appending audit entries,
//! compacting after a purge, the view a room loads from).

use async_trait::async_trait;
use sqlx::{Database, Pool, Transaction};
use trustroom_shared::RoomId;
use trustroom_shared::audit::AuditEntry;

use super::{CommitBatch, Leases, StorageResult};

/// The statements whose text differs between the dialects. Every other
/// statement is written once, with `$n` parameters (both drivers accept
/// them).
pub(super) struct Dialect {
    /// Users by name, in byte order.
    pub list_users: &'static str,
    /// Rooms by creation time, then id in byte order.
    pub list_rooms: &'static str,
    /// A user's rooms with the role (`$1`: user id), ordered as `list_rooms`.
    pub rooms_for_user: &'static str,
    /// A chain's audit rows (`$1`) in storage order.
    pub audit_chain: &'static str,
    /// The revisions a purge may rewrite (`$1`: room, `$2`: every
    /// revision), their `revision` and `body`, locked where the dialect
    /// locks rows.
    pub purge_revisions: &'static str,
    /// A room's (`$1`) snapshots, `revision` and `state`, locked likewise.
    pub purge_snapshots: &'static str,
    /// A room's (`$1`) queued admin commands, `id` and `command`, locked
    /// likewise.
    pub purge_admin: &'static str,
}

/// A SQL database the shared storage implementation runs on.
#[async_trait]
pub(super) trait Backend: Leases + Send + Sync + 'static {
    type Db: Database;
    /// The statements whose text differs in this dialect.
    const DIALECT: Dialect;

    fn pool(&self) -> &Pool<Self::Db>;

    /// A transaction that reads one consistent view of a room.
    async fn read_view(&self) -> StorageResult<Transaction<'static, Self::Db>>;

    /// Writes one batch inside the caller's transaction.
    async fn write_batch(
        conn: &mut <Self::Db as Database>::Connection,
        room: RoomId,
        batch: &CommitBatch,
    ) -> StorageResult<()>;

    /// Commits a room's batch, all or nothing, durable when it returns.
    async fn commit_batch(&self, room: RoomId, batch: &CommitBatch) -> StorageResult<()>;

    /// Appends entries to a chain outside any room commit, all or nothing.
    async fn append_entries(&self, entries: &[AuditEntry]) -> StorageResult<()>;

    /// After a purge rewrote a room's rows: rebuilds what still holds the
    /// old bytes; false when that could not be done yet.
    async fn compact(&self, room: RoomId) -> StorageResult<bool>;
}

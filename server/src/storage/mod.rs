//! Storage behind a trait: SQLite is the embedded default, PostgreSQL the
//! backend for several server nodes sharing one database. Both implement
//! the same trait with the same semantics; every method is one transaction.
//! The database URL's scheme picks the backend ([`open`]).
//!
//! Layout: the backend-neutral pieces sit here, one concept a file: the
//! trait below, the records (`records.rs`), errors (`error.rs`), the lease
//! rule (`lease.rs`), the decoding of stored rows (`rows.rs`), the purge
//! rules (`purge.rs`), and the one implementation of the trait both
//! backends run (`queries.rs`, over `backend.rs`; the batch parts written
//! alike in `batch.rs`). Each backend has its own folder with its
//! connection, dialect, batch writes, leases and compaction (`sqlite/`,
//! `postgres/`).

mod backend;
mod batch;
mod error;
mod lease;
mod postgres;
mod purge;
mod queries;
mod records;
mod rows;
mod sqlite;

use std::sync::Arc;

use async_trait::async_trait;
use trustroom_shared::audit::AuditEntry;
use trustroom_shared::change::Revision;
use trustroom_shared::manifest::ManifestRecord;
use trustroom_shared::restricted::Redaction;
use trustroom_shared::room::RoomState;
use trustroom_shared::{ClientId, RoomId, UserId};

pub use error::{StorageError, StorageResult};
pub use lease::{Acquired, Fence, Lease, LeaseDecision, LeaseRow, Leases, decide as decide_lease, fence_holds};
pub use postgres::PgStore;
pub use purge::PurgeReport;
pub use records::{CommitBatch, KeyRecord, LoadedRoom, QueuedAdmin, RoomRecord, UserRecord};
pub use sqlite::SqliteStore;

#[async_trait]
pub trait Storage: Leases + Send + Sync + 'static {
    async fn create_user(&self, user: &UserRecord) -> StorageResult<()>;
    /// A user by token hash, revoked users excluded.
    async fn user_by_token_hash(&self, hash: &str) -> StorageResult<Option<UserRecord>>;
    async fn user_by_name(&self, name: &str) -> StorageResult<Option<UserRecord>>;
    async fn user_by_id(&self, id: UserId) -> StorageResult<Option<UserRecord>>;
    async fn list_users(&self) -> StorageResult<Vec<UserRecord>>;
    /// Marks a user revoked; false when no such active user.
    async fn revoke_user(&self, name: &str, at_ms: i64) -> StorageResult<bool>;

    /// Creates a room with its first revisions and audit entries.
    async fn create_room(&self, room: &RoomRecord, first: &CommitBatch) -> StorageResult<()>;
    async fn list_rooms(&self) -> StorageResult<Vec<RoomRecord>>;
    async fn room(&self, id: RoomId) -> StorageResult<Option<RoomRecord>>;
    /// Rooms `user` is a member of, with the role label.
    async fn rooms_for_user(&self, user: UserId) -> StorageResult<Vec<(RoomRecord, String)>>;
    async fn load_room(&self, id: RoomId) -> StorageResult<Option<LoadedRoom>>;
    /// Commits a batch for `room` in one transaction.
    async fn commit(&self, room: RoomId, batch: &CommitBatch) -> StorageResult<()>;
    /// Revisions `after < r <= upto`, in order.
    async fn revisions_between(&self, room: RoomId, after: u64, upto: u64) -> StorageResult<Vec<Revision>>;
    /// The revision a (client, seq) request got, if it was applied.
    async fn find_client_seq(&self, room: RoomId, client: ClientId, seq: u64) -> StorageResult<Option<u64>>;

    /// Appends entries to a chain outside any room commit (server chain).
    async fn append_audit(&self, entries: &[AuditEntry]) -> StorageResult<()>;
    /// Head (seq, hash) of a chain.
    async fn audit_head(&self, chain: &str) -> StorageResult<Option<(u64, String)>>;
    /// A whole chain in seq order (storage order for verification).
    async fn audit_chain(&self, chain: &str) -> StorageResult<Vec<AuditEntry>>;

    /// The stored key named `candidate.name`, storing `candidate` first
    /// when there is none (the first caller wins; every caller gets the
    /// same key).
    async fn signing_key(&self, candidate: &KeyRecord) -> StorageResult<KeyRecord>;
    /// The stored key named `name`, if any (never creates one).
    async fn stored_key(&self, name: &str) -> StorageResult<Option<KeyRecord>>;
    /// The manifest history of a room, oldest release first.
    async fn manifests(&self, room: RoomId) -> StorageResult<Vec<ManifestRecord>>;
    /// The newest snapshot at or before `revision`.
    async fn snapshot_at_or_before(&self, room: RoomId, revision: u64) -> StorageResult<Option<RoomState>>;
    /// The audit entry of `chain` that recorded the change of `revision`
    /// (kind `change.*`).
    async fn audit_change_entry(&self, chain: &str, revision: u64) -> StorageResult<Option<AuditEntry>>;

    async fn enqueue_admin(&self, room: RoomId, command: &str, at_ms: i64) -> StorageResult<i64>;
    async fn pending_admin(&self) -> StorageResult<Vec<QueuedAdmin>>;
    async fn finish_admin(&self, id: i64, result: &str, at_ms: i64) -> StorageResult<()>;
    async fn admin_result(&self, id: i64) -> StorageResult<Option<String>>;
    async fn heartbeat(&self, node: &str, at_ms: i64) -> StorageResult<()>;
    async fn remove_node(&self, node: &str) -> StorageResult<()>;
    /// Newest heartbeat of any serving node.
    async fn latest_heartbeat(&self) -> StorageResult<Option<i64>>;

    /// Retention: removes annex content, salts, sensitive patterns and
    /// promotion passages from everything stored for `room` (revision
    /// bodies, snapshots, queued admin commands), then compacts the
    /// database so the bytes are gone from the file itself. Metadata,
    /// hashes, the audit chain and manifests stay.
    /// Scrubs annex content from storage and, with `redaction`, masks every
    /// declared pattern in stored revisions, snapshots and queued commands.
    async fn purge_content(&self, room: RoomId, redaction: &Redaction) -> StorageResult<PurgeReport>;
}

/// Shared handle to a store.
pub type Store = Arc<dyn Storage>;

/// Whether `url` names a PostgreSQL database.
pub fn is_postgres_url(url: &str) -> bool {
    url.starts_with("postgres://") || url.starts_with("postgresql://")
}

/// Opens the store a database URL names, applying migrations:
/// `postgres://…` or `postgresql://…` for PostgreSQL; `sqlite://PATH`,
/// `sqlite::memory:` or a plain file path for SQLite.
pub async fn open(url: &str) -> anyhow::Result<Store> {
    if is_postgres_url(url) {
        return Ok(Arc::new(PgStore::open(url).await?));
    }
    Ok(Arc::new(SqliteStore::open(url).await?))
}

/// Applies the migrations of the database `url` names without serving;
/// returns every migration the backend knows as (version, description),
/// all applied now.
pub async fn migrate(url: &str) -> anyhow::Result<Vec<(i64, String)>> {
    let migrator = if is_postgres_url(url) {
        PgStore::open(url).await?.pool().close().await;
        &postgres::MIGRATOR
    } else {
        SqliteStore::open(url).await?;
        &sqlite::MIGRATOR
    };
    Ok(migrator.iter().map(|m| (m.version, m.description.to_string())).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn postgres_urls_pick_postgres() {
        assert!(is_postgres_url("postgres://u@h:5432/db"));
        assert!(is_postgres_url("postgresql://u@h/db"));
        assert!(!is_postgres_url("sqlite://./rooms.db"));
        assert!(!is_postgres_url("./postgres.db"));
    }
}

//! Storage behind a trait: SQLite is the embedded default; other backends
//! implement the same trait. Every method is one transaction.

mod purge;
mod sqlite;

use std::sync::Arc;

use async_trait::async_trait;
use trustroom_shared::audit::AuditEntry;
use trustroom_shared::change::Revision;
use trustroom_shared::manifest::ManifestRecord;
use trustroom_shared::room::RoomState;
use trustroom_shared::{ClientId, RoomId, UserId};

pub use purge::PurgeReport;
pub use sqlite::SqliteStore;

/// Storage failures.
#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    #[error("migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("stored data is corrupt: {0}")]
    Corrupt(String),
    #[error("{0}")]
    Conflict(String),
}

impl StorageError {
    /// True when the database refuses writes for now (locked, read-only,
    /// full): the room keeps serving reads and refuses changes.
    pub fn is_unavailable(&self) -> bool {
        match self {
            StorageError::Database(sqlx::Error::Database(db)) => {
                let msg = db.message().to_lowercase();
                msg.contains("locked") || msg.contains("readonly") || msg.contains("read-only") || msg.contains("full")
                    || msg.contains("disk i/o")
            }
            StorageError::Database(sqlx::Error::PoolTimedOut | sqlx::Error::Io(_)) => true,
            _ => false,
        }
    }
}

pub type StorageResult<T> = Result<T, StorageError>;

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

#[async_trait]
pub trait Storage: Send + Sync + 'static {
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
    async fn purge_content(&self, room: RoomId) -> StorageResult<PurgeReport>;
}

/// Shared handle to a store.
pub type Store = Arc<dyn Storage>;

/// Opens the store a database URL names (`sqlite://PATH`, `sqlite::memory:`
/// or a plain file path), applying migrations.
pub async fn open(url: &str) -> anyhow::Result<Store> {
    if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        anyhow::bail!("PostgreSQL is not supported by this build yet; use an SQLite path or sqlite:// URL");
    }
    Ok(Arc::new(SqliteStore::open(url).await?))
}

//! SQLite storage, the embedded default: one server process owns the
//! database file (WAL mode, synchronous=FULL: a committed change survives a
//! crash or power loss before it is acknowledged; connection.rs). The
//! storage methods are the shared ones (`storage::queries`); here are the
//! dialect's own statements, the batch writes (write.rs), the cross-room
//! group commit (group_commit.rs), checkpoints, leases and compaction.

mod checkpoint;
mod connection;
mod group_commit;
mod lease;
mod purge;
mod write;

use std::sync::Arc;

use async_trait::async_trait;
use sqlx::{Sqlite, SqliteConnection, SqlitePool, Transaction};
use trustroom_shared::RoomId;
use trustroom_shared::audit::AuditEntry;

use crate::storage::backend::{Backend, Dialect};
use crate::storage::{CommitBatch, StorageError, StorageResult};

pub(super) static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("../migrations/sqlite");

/// SQLite-backed store.
#[derive(Clone)]
pub struct SqliteStore {
    pool: SqlitePool,
    /// Room commits go through one writer task (cross-room group commit).
    committer: tokio::sync::mpsc::Sender<group_commit::Job>,
    /// The background checkpointer runs while any clone of the store lives.
    _alive: Arc<()>,
}

impl SqliteStore {
    /// Opens (creating the file when missing) and applies the migrations.
    pub async fn open(url: &str) -> Result<Self, StorageError> {
        let pool = connection::pool(url).await?;
        MIGRATOR.run(&pool).await?;
        let alive = Arc::new(());
        tokio::spawn(checkpoint::checkpointer(pool.clone(), Arc::downgrade(&alive)));
        let committer = group_commit::spawn(pool.clone());
        Ok(Self { pool, committer, _alive: alive })
    }

    /// The pool (tests and tools that inspect the database).
    pub fn pool(&self) -> &SqlitePool {
        &self.pool
    }
}

#[async_trait]
impl Backend for SqliteStore {
    type Db = Sqlite;

    const DIALECT: Dialect = Dialect {
        // BINARY, SQLite's default collation, is byte order.
        list_users: "SELECT * FROM users ORDER BY name",
        list_rooms: "SELECT * FROM rooms ORDER BY created_ms, id",
        rooms_for_user: "SELECT r.id, r.title, r.created_ms, m.role FROM rooms r JOIN memberships m ON m.room_id = r.id
             WHERE m.user_id = $1 ORDER BY r.created_ms, r.id",
        // rowid order is storage order: a reordered or re-inserted row shows.
        audit_chain: "SELECT * FROM audit WHERE chain = $1 ORDER BY rowid",
        // Revisions that can carry annex content: annexes added, promotions
        // requested (and, defensively, any body mentioning a passage).
        purge_revisions: "SELECT revision, body FROM revisions WHERE room_id = $1
             AND ($2 OR kind IN ('annex_added', 'promotion_requested') OR body LIKE '%\"passage\"%' OR body LIKE '%\"content\"%')",
        purge_snapshots: "SELECT revision, state FROM snapshots WHERE room_id = $1",
        purge_admin: "SELECT id, command FROM admin_queue WHERE room_id = $1",
    };

    fn pool(&self) -> &SqlitePool {
        &self.pool
    }

    async fn read_view(&self) -> StorageResult<Transaction<'static, Sqlite>> {
        // A read transaction sees one snapshot of the WAL.
        Ok(self.pool.begin().await?)
    }

    async fn write_batch(conn: &mut SqliteConnection, room: RoomId, batch: &CommitBatch) -> StorageResult<()> {
        write::write_batch(conn, room, batch).await
    }

    async fn commit_batch(&self, room: RoomId, batch: &CommitBatch) -> StorageResult<()> {
        group_commit::commit(&self.committer, room, batch).await
    }

    async fn append_entries(&self, entries: &[AuditEntry]) -> StorageResult<()> {
        let mut tx = self.pool.begin().await?;
        write::insert_audit(&mut tx, entries).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn compact(&self, room: RoomId) -> StorageResult<bool> {
        purge::compact(&self.pool, room).await
    }
}

//! PostgreSQL storage: the same trait and the same semantics as
//! [`super::SqliteStore`], for several server processes sharing one
//! database that operators already run, back up and replicate. The storage
//! methods are the shared ones (`storage::queries`); here are the
//! dialect's own statements, the batch writes, the lease fence and
//! compaction.
//!
//! - Every method is one transaction; a commit batch is all or nothing and
//!   is durable (`synchronous_commit` as the server configures it, `on` by
//!   default) before the room acknowledges it.
//! - A group commit is one transaction of a few statements whatever its
//!   size (write.rs): BEGIN, (the lease fence, lease.rs), the insert, COMMIT.
//! - JSON is stored as TEXT with exactly the bytes SQLite stores (hashes
//!   and the audit chain depend on them).
//! - Migrations (`migrations/postgres/`) run at open under sqlx's advisory
//!   lock, so nodes starting together do not race.

mod connection;
mod lease;
mod purge;
mod write;

use async_trait::async_trait;
use sqlx::{PgConnection, PgPool, Postgres, Transaction};
use trustroom_shared::RoomId;
use trustroom_shared::audit::AuditEntry;

use crate::storage::backend::{Backend, Dialect};
use crate::storage::{CommitBatch, StorageError, StorageResult};

pub(super) static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("../migrations/postgres");

/// PostgreSQL-backed store.
#[derive(Clone)]
pub struct PgStore {
    pool: PgPool,
}

impl PgStore {
    /// Connects (`postgres://` or `postgresql://` URL) and applies the
    /// migrations.
    pub async fn open(url: &str) -> Result<Self, StorageError> {
        let pool = connection::pool(url).await?;
        MIGRATOR.run(&pool).await?;
        Ok(Self { pool })
    }

    /// The pool (tests and tools that inspect the database).
    pub fn pool(&self) -> &PgPool {
        &self.pool
    }
}

#[async_trait]
impl Backend for PgStore {
    type Db = Postgres;

    const DIALECT: Dialect = Dialect {
        // `COLLATE "C"`: byte order, as SQLite's default BINARY collation.
        list_users: r#"SELECT * FROM users ORDER BY name COLLATE "C""#,
        list_rooms: r#"SELECT * FROM rooms ORDER BY created_ms, id COLLATE "C""#,
        rooms_for_user: r#"SELECT r.id, r.title, r.created_ms, m.role FROM rooms r JOIN memberships m ON m.room_id = r.id
             WHERE m.user_id = $1 ORDER BY r.created_ms, r.id COLLATE "C""#,
        // `pos` order is storage order: a reordered or re-inserted row shows.
        audit_chain: "SELECT * FROM audit WHERE chain = $1 ORDER BY pos",
        // As on SQLite, with the rows locked until the rewrite commits.
        purge_revisions: "SELECT revision, body FROM revisions WHERE room_id = $1
             AND ($2 OR kind IN ('annex_added', 'promotion_requested') OR body LIKE '%\"passage\"%' OR body LIKE '%\"content\"%')
             FOR UPDATE",
        purge_snapshots: "SELECT revision, state FROM snapshots WHERE room_id = $1 FOR UPDATE",
        purge_admin: "SELECT id, command FROM admin_queue WHERE room_id = $1 FOR UPDATE",
    };

    fn pool(&self) -> &PgPool {
        &self.pool
    }

    async fn read_view(&self) -> StorageResult<Transaction<'static, Postgres>> {
        // One moment even while another node still writes.
        let mut tx = self.pool.begin().await?;
        sqlx::query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY").execute(&mut *tx).await?;
        Ok(tx)
    }

    async fn write_batch(conn: &mut PgConnection, room: RoomId, batch: &CommitBatch) -> StorageResult<()> {
        write::write_batch(conn, room, batch).await
    }

    async fn commit_batch(&self, room: RoomId, batch: &CommitBatch) -> StorageResult<()> {
        let mut tx = self.pool.begin().await?;
        // Fencing first: a node whose lease epoch is no longer current
        // (paused past its lease, another node took the room over) writes
        // nothing (lease.rs).
        if let Some(fence) = &batch.fence {
            lease::check_fence(&mut tx, room, fence).await?;
        }
        write::write_batch(&mut tx, room, batch).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn append_entries(&self, entries: &[AuditEntry]) -> StorageResult<()> {
        // One statement: atomic on its own.
        let mut conn = self.pool.acquire().await?;
        write::insert_audit(&mut conn, entries).await
    }

    async fn compact(&self, room: RoomId) -> StorageResult<bool> {
        purge::compact(&self.pool, room).await
    }
}

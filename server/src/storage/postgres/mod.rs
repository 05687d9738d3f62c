//! PostgreSQL storage: the same trait and the same semantics as
//! [`super::SqliteStore`], for several server processes sharing one
//! database that operators already run, back up and replicate.
//!
//! - Every method is one transaction; a commit batch is all or nothing and
//!   is durable (`synchronous_commit` as the server configures it, `on` by
//!   default) before the room acknowledges it.
//! - A group commit is one transaction of a few statements whatever its
//!   size (write.rs): BEGIN, (the lease fence, lease.rs), the insert, COMMIT.
//! - JSON is stored as TEXT with exactly the bytes SQLite stores (hashes
//!   and the audit chain depend on them); rows decode in `storage::rows`,
//!   the same as on SQLite.
//! - Migrations (`migrations/postgres/`) run at open under sqlx's advisory
//!   lock, so nodes starting together do not race.

mod connection;
mod lease;
mod purge;
mod write;

use async_trait::async_trait;
use sqlx::{PgConnection, PgPool};
use trustroom_shared::audit::AuditEntry;
use trustroom_shared::change::Revision;
use trustroom_shared::manifest::ManifestRecord;
use trustroom_shared::restricted::Redaction;
use trustroom_shared::room::RoomState;
use trustroom_shared::{ClientId, RoomId, UserId};

use crate::storage::error::user_insert_error;
use crate::storage::rows::{self, big};
use crate::storage::{
    CommitBatch, KeyRecord, LoadedRoom, PurgeReport, QueuedAdmin, RoomRecord, Storage, StorageError, StorageResult,
    UserRecord,
};
use write::{insert_audit, write_batch};

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

async fn room_in(conn: &mut PgConnection, id: RoomId) -> StorageResult<Option<RoomRecord>> {
    let row = sqlx::query("SELECT id, title, created_ms FROM rooms WHERE id = $1")
        .bind(id.to_string())
        .fetch_optional(&mut *conn)
        .await?;
    rows::optional(row, rows::room)
}

#[async_trait]
impl Storage for PgStore {
    async fn create_user(&self, user: &UserRecord) -> StorageResult<()> {
        sqlx::query("INSERT INTO users (id, name, token_hash, created_ms, revoked_ms) VALUES ($1, $2, $3, $4, $5)")
            .bind(user.id.to_string())
            .bind(&user.name)
            .bind(&user.token_hash)
            .bind(user.created_ms)
            .bind(user.revoked_ms)
            .execute(&self.pool)
            .await
            .map_err(|e| user_insert_error(e, &user.name))?;
        Ok(())
    }

    async fn user_by_token_hash(&self, hash: &str) -> StorageResult<Option<UserRecord>> {
        let row = sqlx::query("SELECT * FROM users WHERE token_hash = $1 AND revoked_ms IS NULL")
            .bind(hash)
            .fetch_optional(&self.pool)
            .await?;
        rows::optional(row, rows::user)
    }

    async fn user_by_name(&self, name: &str) -> StorageResult<Option<UserRecord>> {
        let row = sqlx::query("SELECT * FROM users WHERE name = $1").bind(name).fetch_optional(&self.pool).await?;
        rows::optional(row, rows::user)
    }

    async fn user_by_id(&self, id: UserId) -> StorageResult<Option<UserRecord>> {
        let row =
            sqlx::query("SELECT * FROM users WHERE id = $1").bind(id.to_string()).fetch_optional(&self.pool).await?;
        rows::optional(row, rows::user)
    }

    async fn list_users(&self) -> StorageResult<Vec<UserRecord>> {
        // `COLLATE "C"`: byte order, as SQLite's default BINARY collation.
        let rows = sqlx::query(r#"SELECT * FROM users ORDER BY name COLLATE "C""#).fetch_all(&self.pool).await?;
        rows::all(&rows, rows::user)
    }

    async fn revoke_user(&self, name: &str, at_ms: i64) -> StorageResult<bool> {
        let done = sqlx::query("UPDATE users SET revoked_ms = $1 WHERE name = $2 AND revoked_ms IS NULL")
            .bind(at_ms)
            .bind(name)
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected() > 0)
    }

    async fn create_room(&self, room: &RoomRecord, first: &CommitBatch) -> StorageResult<()> {
        let mut tx = self.pool.begin().await?;
        sqlx::query("INSERT INTO rooms (id, title, created_ms) VALUES ($1, $2, $3)")
            .bind(room.id.to_string())
            .bind(&room.title)
            .bind(room.created_ms)
            .execute(&mut *tx)
            .await?;
        write_batch(&mut tx, room.id, first).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn list_rooms(&self) -> StorageResult<Vec<RoomRecord>> {
        let rows =
            sqlx::query(r#"SELECT * FROM rooms ORDER BY created_ms, id COLLATE "C""#).fetch_all(&self.pool).await?;
        rows::all(&rows, rows::room)
    }

    async fn room(&self, id: RoomId) -> StorageResult<Option<RoomRecord>> {
        let mut conn = self.pool.acquire().await?;
        room_in(&mut conn, id).await
    }

    async fn rooms_for_user(&self, user: UserId) -> StorageResult<Vec<(RoomRecord, String)>> {
        let rows = sqlx::query(
            r#"SELECT r.id, r.title, r.created_ms, m.role FROM rooms r JOIN memberships m ON m.room_id = r.id
               WHERE m.user_id = $1 ORDER BY r.created_ms, r.id COLLATE "C""#,
        )
        .bind(user.to_string())
        .fetch_all(&self.pool)
        .await?;
        rows::all(&rows, rows::room_with_role)
    }

    async fn load_room(&self, id: RoomId) -> StorageResult<Option<LoadedRoom>> {
        // One consistent view: snapshot, tail, audit head and client seqs
        // from the same moment even while another node still writes.
        let mut tx = self.pool.begin().await?;
        sqlx::query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY").execute(&mut *tx).await?;
        let Some(record) = room_in(&mut tx, id).await? else {
            return Ok(None);
        };
        let room_s = id.to_string();
        let snapshot = sqlx::query("SELECT state FROM snapshots WHERE room_id = $1 ORDER BY revision DESC LIMIT 1")
            .bind(&room_s)
            .fetch_optional(&mut *tx)
            .await?;
        let snapshot = rows::optional(snapshot, rows::snapshot)?;
        let after = snapshot.as_ref().map_or(0, |s| s.revision);
        let tail = sqlx::query("SELECT body FROM revisions WHERE room_id = $1 AND revision > $2 ORDER BY revision")
            .bind(&room_s)
            .bind(big(after))
            .fetch_all(&mut *tx)
            .await?;
        let head = sqlx::query("SELECT seq, hash FROM audit WHERE chain = $1 ORDER BY seq DESC LIMIT 1")
            .bind(&room_s)
            .fetch_optional(&mut *tx)
            .await?;
        let seqs = sqlx::query(
            "SELECT client_id, MAX(client_seq) AS seq FROM revisions WHERE room_id = $1 AND client_id IS NOT NULL
             GROUP BY client_id",
        )
        .bind(&room_s)
        .fetch_all(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(Some(LoadedRoom {
            record,
            snapshot,
            tail: rows::all(&tail, rows::revision)?,
            audit_head: rows::optional(head, rows::audit_head)?,
            client_seqs: rows::all(&seqs, rows::client_seq)?,
        }))
    }

    async fn commit(&self, room: RoomId, batch: &CommitBatch) -> StorageResult<()> {
        let mut tx = self.pool.begin().await?;
        // Fencing first: a node whose lease epoch is no longer current
        // (paused past its lease, another node took the room over) writes
        // nothing (postgres/lease.rs).
        if let Some(fence) = &batch.fence {
            lease::check_fence(&mut tx, room, fence).await?;
        }
        write_batch(&mut tx, room, batch).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn revisions_between(&self, room: RoomId, after: u64, upto: u64) -> StorageResult<Vec<Revision>> {
        let rows = sqlx::query(
            "SELECT body FROM revisions WHERE room_id = $1 AND revision > $2 AND revision <= $3 ORDER BY revision",
        )
        .bind(room.to_string())
        .bind(big(after))
        .bind(big(upto))
        .fetch_all(&self.pool)
        .await?;
        rows::all(&rows, rows::revision)
    }

    async fn find_client_seq(&self, room: RoomId, client: ClientId, seq: u64) -> StorageResult<Option<u64>> {
        let row =
            sqlx::query("SELECT revision FROM revisions WHERE room_id = $1 AND client_id = $2 AND client_seq = $3")
                .bind(room.to_string())
                .bind(client.to_string())
                .bind(big(seq))
                .fetch_optional(&self.pool)
                .await?;
        rows::optional(row, rows::revision_number)
    }

    async fn append_audit(&self, entries: &[AuditEntry]) -> StorageResult<()> {
        // One statement: atomic on its own.
        let mut conn = self.pool.acquire().await?;
        insert_audit(&mut conn, entries).await
    }

    async fn audit_head(&self, chain: &str) -> StorageResult<Option<(u64, String)>> {
        let row = sqlx::query("SELECT seq, hash FROM audit WHERE chain = $1 ORDER BY seq DESC LIMIT 1")
            .bind(chain)
            .fetch_optional(&self.pool)
            .await?;
        rows::optional(row, rows::audit_head)
    }

    async fn audit_chain(&self, chain: &str) -> StorageResult<Vec<AuditEntry>> {
        // `pos` order is storage order: a reordered or re-inserted row shows.
        let rows =
            sqlx::query("SELECT * FROM audit WHERE chain = $1 ORDER BY pos").bind(chain).fetch_all(&self.pool).await?;
        rows::all(&rows, rows::audit_entry)
    }

    async fn signing_key(&self, candidate: &KeyRecord) -> StorageResult<KeyRecord> {
        sqlx::query(
            "INSERT INTO server_keys (name, algorithm, public_key, secret_key, created_ms) VALUES ($1, $2, $3, $4, $5)
             ON CONFLICT (name) DO NOTHING",
        )
        .bind(&candidate.name)
        .bind(&candidate.algorithm)
        .bind(&candidate.public_key)
        .bind(&candidate.secret_key)
        .bind(candidate.created_ms)
        .execute(&self.pool)
        .await?;
        let stored = self.stored_key(&candidate.name).await?;
        stored.ok_or_else(|| StorageError::Corrupt(format!("key {:?} vanished after insert", candidate.name)))
    }

    async fn stored_key(&self, name: &str) -> StorageResult<Option<KeyRecord>> {
        let row =
            sqlx::query("SELECT * FROM server_keys WHERE name = $1").bind(name).fetch_optional(&self.pool).await?;
        rows::optional(row, rows::key)
    }

    async fn manifests(&self, room: RoomId) -> StorageResult<Vec<ManifestRecord>> {
        let rows = sqlx::query("SELECT record FROM manifests WHERE room_id = $1 ORDER BY release_revision")
            .bind(room.to_string())
            .fetch_all(&self.pool)
            .await?;
        rows::all(&rows, rows::manifest)
    }

    async fn snapshot_at_or_before(&self, room: RoomId, revision: u64) -> StorageResult<Option<RoomState>> {
        let row = sqlx::query(
            "SELECT state FROM snapshots WHERE room_id = $1 AND revision <= $2 ORDER BY revision DESC LIMIT 1",
        )
        .bind(room.to_string())
        .bind(big(revision))
        .fetch_optional(&self.pool)
        .await?;
        rows::optional(row, rows::snapshot)
    }

    async fn audit_change_entry(&self, chain: &str, revision: u64) -> StorageResult<Option<AuditEntry>> {
        let row = sqlx::query(
            "SELECT * FROM audit WHERE chain = $1 AND revision = $2 AND kind LIKE 'change.%' ORDER BY seq DESC LIMIT 1",
        )
        .bind(chain)
        .bind(big(revision))
        .fetch_optional(&self.pool)
        .await?;
        rows::optional(row, rows::audit_entry)
    }

    async fn enqueue_admin(&self, room: RoomId, command: &str, at_ms: i64) -> StorageResult<i64> {
        let row =
            sqlx::query("INSERT INTO admin_queue (room_id, command, created_ms) VALUES ($1, $2, $3) RETURNING id")
                .bind(room.to_string())
                .bind(command)
                .bind(at_ms)
                .fetch_one(&self.pool)
                .await?;
        rows::queue_id(&row)
    }

    async fn pending_admin(&self) -> StorageResult<Vec<QueuedAdmin>> {
        let rows = sqlx::query("SELECT id, room_id, command FROM admin_queue WHERE done_ms IS NULL ORDER BY id")
            .fetch_all(&self.pool)
            .await?;
        rows::all(&rows, rows::queued_admin)
    }

    async fn finish_admin(&self, id: i64, result: &str, at_ms: i64) -> StorageResult<()> {
        sqlx::query("UPDATE admin_queue SET done_ms = $1, result = $2 WHERE id = $3")
            .bind(at_ms)
            .bind(result)
            .bind(id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn admin_result(&self, id: i64) -> StorageResult<Option<String>> {
        let row = sqlx::query("SELECT result FROM admin_queue WHERE id = $1 AND done_ms IS NOT NULL")
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        Ok(rows::optional(row, rows::admin_result)?.flatten())
    }

    async fn heartbeat(&self, node: &str, at_ms: i64) -> StorageResult<()> {
        sqlx::query(
            "INSERT INTO server_nodes (node_id, heartbeat_ms) VALUES ($1, $2)
             ON CONFLICT (node_id) DO UPDATE SET heartbeat_ms = excluded.heartbeat_ms",
        )
        .bind(node)
        .bind(at_ms)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn remove_node(&self, node: &str) -> StorageResult<()> {
        sqlx::query("DELETE FROM server_nodes WHERE node_id = $1").bind(node).execute(&self.pool).await?;
        Ok(())
    }

    async fn latest_heartbeat(&self) -> StorageResult<Option<i64>> {
        let row = sqlx::query("SELECT MAX(heartbeat_ms) AS hb FROM server_nodes").fetch_one(&self.pool).await?;
        rows::latest_heartbeat(&row)
    }

    async fn purge_content(&self, room: RoomId, redaction: &Redaction) -> StorageResult<PurgeReport> {
        purge::purge(&self.pool, room, redaction).await
    }
}

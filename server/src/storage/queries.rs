//! The storage methods both backends run the same way, written once: each
//! statement with `$n` parameters (both drivers accept them), the rows
//! decoded by rows.rs. What differs between the dialects comes from the
//! backend ([`Backend`]: a few statements, writing a batch, committing,
//! compaction).

use async_trait::async_trait;
use sqlx::{ColumnIndex, Database, Decode, Encode, Executor, IntoArguments, Type};
use trustroom_shared::audit::AuditEntry;
use trustroom_shared::change::Revision;
use trustroom_shared::manifest::ManifestRecord;
use trustroom_shared::restricted::Redaction;
use trustroom_shared::room::RoomState;
use trustroom_shared::{ClientId, RoomId, UserId};

use super::backend::Backend;
use super::error::user_insert_error;
use super::purge::scrubbed_rows;
use super::rows::{self, big};
use super::{
    CommitBatch, KeyRecord, LoadedRoom, PurgeReport, QueuedAdmin, RoomRecord, Storage, StorageError, StorageResult,
    UserRecord,
};

/// Every [`Backend`] is a [`Storage`]; the bounds say what the statements
/// below need from its sqlx driver, and hold for SQLite and PostgreSQL.
#[async_trait]
impl<B> Storage for B
where
    B: Backend,
    // Run statements on the pool and inside transactions.
    for<'c> &'c mut <B::Db as Database>::Connection: Executor<'c, Database = B::Db>,
    for<'q> <B::Db as Database>::Arguments<'q>: IntoArguments<'q, B::Db>,
    // Bind parameters.
    for<'q> &'q str: Encode<'q, B::Db> + Type<B::Db>,
    for<'q> String: Encode<'q, B::Db> + Type<B::Db>,
    for<'q> i64: Encode<'q, B::Db> + Type<B::Db>,
    for<'q> Option<i64>: Encode<'q, B::Db> + Type<B::Db>,
    for<'q> bool: Encode<'q, B::Db> + Type<B::Db>,
    // Read columns (rows::Columns).
    for<'c> &'c str: ColumnIndex<<B::Db as Database>::Row>,
    for<'r> &'r str: Decode<'r, B::Db>,
    for<'r> i64: Decode<'r, B::Db>,
{
    async fn create_user(&self, user: &UserRecord) -> StorageResult<()> {
        sqlx::query("INSERT INTO users (id, name, token_hash, created_ms, revoked_ms) VALUES ($1, $2, $3, $4, $5)")
            .bind(user.id.to_string())
            .bind(user.name.as_str())
            .bind(user.token_hash.as_str())
            .bind(user.created_ms)
            .bind(user.revoked_ms)
            .execute(self.pool())
            .await
            .map_err(|e| user_insert_error(e, &user.name))?;
        Ok(())
    }

    async fn user_by_token_hash(&self, hash: &str) -> StorageResult<Option<UserRecord>> {
        let row = sqlx::query("SELECT * FROM users WHERE token_hash = $1 AND revoked_ms IS NULL")
            .bind(hash)
            .fetch_optional(self.pool())
            .await?;
        rows::optional(row, rows::user)
    }

    async fn user_by_name(&self, name: &str) -> StorageResult<Option<UserRecord>> {
        let row = sqlx::query("SELECT * FROM users WHERE name = $1").bind(name).fetch_optional(self.pool()).await?;
        rows::optional(row, rows::user)
    }

    async fn user_by_id(&self, id: UserId) -> StorageResult<Option<UserRecord>> {
        let row =
            sqlx::query("SELECT * FROM users WHERE id = $1").bind(id.to_string()).fetch_optional(self.pool()).await?;
        rows::optional(row, rows::user)
    }

    async fn list_users(&self) -> StorageResult<Vec<UserRecord>> {
        let rows = sqlx::query(B::DIALECT.list_users).fetch_all(self.pool()).await?;
        rows::all(&rows, rows::user)
    }

    async fn revoke_user(&self, name: &str, at_ms: i64) -> StorageResult<bool> {
        let revoked =
            sqlx::query("UPDATE users SET revoked_ms = $1 WHERE name = $2 AND revoked_ms IS NULL RETURNING id")
                .bind(at_ms)
                .bind(name)
                .fetch_all(self.pool())
                .await?;
        Ok(!revoked.is_empty())
    }

    async fn create_room(&self, room: &RoomRecord, first: &CommitBatch) -> StorageResult<()> {
        let mut tx = self.pool().begin().await?;
        sqlx::query("INSERT INTO rooms (id, title, created_ms) VALUES ($1, $2, $3)")
            .bind(room.id.to_string())
            .bind(room.title.as_str())
            .bind(room.created_ms)
            .execute(&mut *tx)
            .await?;
        B::write_batch(&mut tx, room.id, first).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn list_rooms(&self) -> StorageResult<Vec<RoomRecord>> {
        let rows = sqlx::query(B::DIALECT.list_rooms).fetch_all(self.pool()).await?;
        rows::all(&rows, rows::room)
    }

    async fn room(&self, id: RoomId) -> StorageResult<Option<RoomRecord>> {
        let row = sqlx::query("SELECT id, title, created_ms FROM rooms WHERE id = $1")
            .bind(id.to_string())
            .fetch_optional(self.pool())
            .await?;
        rows::optional(row, rows::room)
    }

    async fn rooms_for_user(&self, user: UserId) -> StorageResult<Vec<(RoomRecord, String)>> {
        let rows = sqlx::query(B::DIALECT.rooms_for_user).bind(user.to_string()).fetch_all(self.pool()).await?;
        rows::all(&rows, rows::room_with_role)
    }

    async fn load_room(&self, id: RoomId) -> StorageResult<Option<LoadedRoom>> {
        // One consistent view: snapshot, tail, audit head and client seqs
        // from the same moment even while another node still writes.
        let mut tx = self.read_view().await?;
        let room_s = id.to_string();
        let record = sqlx::query("SELECT id, title, created_ms FROM rooms WHERE id = $1")
            .bind(room_s.as_str())
            .fetch_optional(&mut *tx)
            .await?;
        let Some(record) = rows::optional(record, rows::room)? else {
            // Ended here, not left to the drop: a pooled connection goes
            // back outside any transaction.
            tx.commit().await?;
            return Ok(None);
        };
        let snapshot = sqlx::query("SELECT state FROM snapshots WHERE room_id = $1 ORDER BY revision DESC LIMIT 1")
            .bind(room_s.as_str())
            .fetch_optional(&mut *tx)
            .await?;
        let snapshot = rows::optional(snapshot, rows::snapshot)?;
        let after = snapshot.as_ref().map_or(0, |s| s.revision);
        let tail = sqlx::query("SELECT body FROM revisions WHERE room_id = $1 AND revision > $2 ORDER BY revision")
            .bind(room_s.as_str())
            .bind(big(after))
            .fetch_all(&mut *tx)
            .await?;
        let head = sqlx::query("SELECT seq, hash FROM audit WHERE chain = $1 ORDER BY seq DESC LIMIT 1")
            .bind(room_s.as_str())
            .fetch_optional(&mut *tx)
            .await?;
        let seqs = sqlx::query(
            "SELECT client_id, MAX(client_seq) AS seq FROM revisions WHERE room_id = $1 AND client_id IS NOT NULL
             GROUP BY client_id",
        )
        .bind(room_s.as_str())
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
        self.commit_batch(room, batch).await
    }

    async fn revisions_between(&self, room: RoomId, after: u64, upto: u64) -> StorageResult<Vec<Revision>> {
        let rows = sqlx::query(
            "SELECT body FROM revisions WHERE room_id = $1 AND revision > $2 AND revision <= $3 ORDER BY revision",
        )
        .bind(room.to_string())
        .bind(big(after))
        .bind(big(upto))
        .fetch_all(self.pool())
        .await?;
        rows::all(&rows, rows::revision)
    }

    async fn find_client_seq(&self, room: RoomId, client: ClientId, seq: u64) -> StorageResult<Option<u64>> {
        let row =
            sqlx::query("SELECT revision FROM revisions WHERE room_id = $1 AND client_id = $2 AND client_seq = $3")
                .bind(room.to_string())
                .bind(client.to_string())
                .bind(big(seq))
                .fetch_optional(self.pool())
                .await?;
        rows::optional(row, rows::revision_number)
    }

    async fn append_audit(&self, entries: &[AuditEntry]) -> StorageResult<()> {
        self.append_entries(entries).await
    }

    async fn audit_head(&self, chain: &str) -> StorageResult<Option<(u64, String)>> {
        let row = sqlx::query("SELECT seq, hash FROM audit WHERE chain = $1 ORDER BY seq DESC LIMIT 1")
            .bind(chain)
            .fetch_optional(self.pool())
            .await?;
        rows::optional(row, rows::audit_head)
    }

    async fn audit_chain(&self, chain: &str) -> StorageResult<Vec<AuditEntry>> {
        let rows = sqlx::query(B::DIALECT.audit_chain).bind(chain).fetch_all(self.pool()).await?;
        rows::all(&rows, rows::audit_entry)
    }

    async fn signing_key(&self, candidate: &KeyRecord) -> StorageResult<KeyRecord> {
        sqlx::query(
            "INSERT INTO server_keys (name, algorithm, public_key, secret_key, created_ms) VALUES ($1, $2, $3, $4, $5)
             ON CONFLICT (name) DO NOTHING",
        )
        .bind(candidate.name.as_str())
        .bind(candidate.algorithm.as_str())
        .bind(candidate.public_key.as_str())
        .bind(candidate.secret_key.as_str())
        .bind(candidate.created_ms)
        .execute(self.pool())
        .await?;
        let stored = self.stored_key(&candidate.name).await?;
        stored.ok_or_else(|| StorageError::Corrupt(format!("key {:?} vanished after insert", candidate.name)))
    }

    async fn stored_key(&self, name: &str) -> StorageResult<Option<KeyRecord>> {
        let row =
            sqlx::query("SELECT * FROM server_keys WHERE name = $1").bind(name).fetch_optional(self.pool()).await?;
        rows::optional(row, rows::key)
    }

    async fn manifests(&self, room: RoomId) -> StorageResult<Vec<ManifestRecord>> {
        let rows = sqlx::query("SELECT record FROM manifests WHERE room_id = $1 ORDER BY release_revision")
            .bind(room.to_string())
            .fetch_all(self.pool())
            .await?;
        rows::all(&rows, rows::manifest)
    }

    async fn snapshot_at_or_before(&self, room: RoomId, revision: u64) -> StorageResult<Option<RoomState>> {
        let row = sqlx::query(
            "SELECT state FROM snapshots WHERE room_id = $1 AND revision <= $2 ORDER BY revision DESC LIMIT 1",
        )
        .bind(room.to_string())
        .bind(big(revision))
        .fetch_optional(self.pool())
        .await?;
        rows::optional(row, rows::snapshot)
    }

    async fn audit_change_entry(&self, chain: &str, revision: u64) -> StorageResult<Option<AuditEntry>> {
        let row = sqlx::query(
            "SELECT * FROM audit WHERE chain = $1 AND revision = $2 AND kind LIKE 'change.%' ORDER BY seq DESC LIMIT 1",
        )
        .bind(chain)
        .bind(big(revision))
        .fetch_optional(self.pool())
        .await?;
        rows::optional(row, rows::audit_entry)
    }

    async fn enqueue_admin(&self, room: RoomId, command: &str, at_ms: i64) -> StorageResult<i64> {
        let row =
            sqlx::query("INSERT INTO admin_queue (room_id, command, created_ms) VALUES ($1, $2, $3) RETURNING id")
                .bind(room.to_string())
                .bind(command)
                .bind(at_ms)
                .fetch_one(self.pool())
                .await?;
        rows::queue_id(&row)
    }

    async fn pending_admin(&self) -> StorageResult<Vec<QueuedAdmin>> {
        let rows = sqlx::query("SELECT id, room_id, command FROM admin_queue WHERE done_ms IS NULL ORDER BY id")
            .fetch_all(self.pool())
            .await?;
        rows::all(&rows, rows::queued_admin)
    }

    async fn finish_admin(&self, id: i64, result: &str, at_ms: i64) -> StorageResult<()> {
        sqlx::query("UPDATE admin_queue SET done_ms = $1, result = $2 WHERE id = $3")
            .bind(at_ms)
            .bind(result)
            .bind(id)
            .execute(self.pool())
            .await?;
        Ok(())
    }

    async fn admin_result(&self, id: i64) -> StorageResult<Option<String>> {
        let row = sqlx::query("SELECT result FROM admin_queue WHERE id = $1 AND done_ms IS NOT NULL")
            .bind(id)
            .fetch_optional(self.pool())
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
        .execute(self.pool())
        .await?;
        Ok(())
    }

    async fn remove_node(&self, node: &str) -> StorageResult<()> {
        sqlx::query("DELETE FROM server_nodes WHERE node_id = $1").bind(node).execute(self.pool()).await?;
        Ok(())
    }

    async fn latest_heartbeat(&self) -> StorageResult<Option<i64>> {
        let row = sqlx::query("SELECT MAX(heartbeat_ms) AS hb FROM server_nodes").fetch_one(self.pool()).await?;
        rows::latest_heartbeat(&row)
    }

    async fn purge_content(&self, room: RoomId, redaction: &Redaction) -> StorageResult<PurgeReport> {
        let room_s = room.to_string();
        let mut report = PurgeReport::default();
        let mut tx = self.pool().begin().await?;
        // Each pass: the select (binding the room and, for revisions,
        // whether every revision is read: there are patterns to mask), the
        // key and text columns, the update (text, room, key), the count.
        let passes = [
            (
                B::DIALECT.purge_revisions,
                Some(!redaction.matcher.is_empty()),
                ("revision", "body"),
                "UPDATE revisions SET body = $1 WHERE room_id = $2 AND revision = $3",
                &mut report.revisions,
            ),
            (
                B::DIALECT.purge_snapshots,
                None,
                ("revision", "state"),
                "UPDATE snapshots SET state = $1 WHERE room_id = $2 AND revision = $3",
                &mut report.snapshots,
            ),
            (
                B::DIALECT.purge_admin,
                None,
                ("id", "command"),
                "UPDATE admin_queue SET command = $1 WHERE room_id = $2 AND id = $3",
                &mut report.admin_commands,
            ),
        ];
        for (select, every, (key, text), update, count) in passes {
            let mut query = sqlx::query(select).bind(room_s.as_str());
            if let Some(every) = every {
                query = query.bind(every);
            }
            let rows = query.fetch_all(&mut *tx).await?;
            for (key, new) in scrubbed_rows(&rows, key, text, redaction)? {
                sqlx::query(update).bind(new).bind(room_s.as_str()).bind(key).execute(&mut *tx).await?;
                *count += 1;
            }
        }
        tx.commit().await?;
        report.compacted = self.compact(room).await?;
        Ok(report)
    }
}

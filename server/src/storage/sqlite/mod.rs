//! SQLite storage (WAL mode, synchronous=FULL: a committed change survives
//! a crash or power loss before it is acknowledged).

use std::str::FromStr;
use std::time::Duration;
use trustroom_shared::restricted::Redaction;

use async_trait::async_trait;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{Row, SqlitePool};
use trustroom_shared::audit::AuditEntry;
use trustroom_shared::change::{Change, Revision};
use trustroom_shared::manifest::ManifestRecord;
use trustroom_shared::room::RoomState;
use trustroom_shared::{ClientId, RoomId, UserId};

use crate::storage::{
    CommitBatch, KeyRecord, LoadedRoom, QueuedAdmin, RoomRecord, Storage, StorageError, StorageResult, UserRecord,
};

mod connection;
mod group_commit;
mod lease;
mod purge;

pub(super) static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("../migrations/sqlite");

/// SQLite-backed store.
#[derive(Clone)]
pub struct SqliteStore {
    pool: SqlitePool,
    /// Room commits go through one writer task (cross-room group commit).
    committer: tokio::sync::mpsc::Sender<group_commit::Job>,
    /// The background checkpointer runs while any clone of the store lives.
    _alive: std::sync::Arc<()>,
}

/// How long a statement waits for another connection's lock.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// WAL pages past which the checkpointer makes the log start over.
const WAL_RESTART_PAGES: i64 = 8192;

/// Copies the WAL into the database file every so often, off the commit
/// path, and keeps the log from growing without bound.
///
/// A PASSIVE checkpoint copies what it can without blocking anyone, but
/// the log only starts over from its beginning when a writer finds it fully
/// copied and no reader inside it; with many busy rooms there nearly always
/// is one, and the file grew by hundreds of megabytes. Past
/// [`WAL_RESTART_PAGES`] a RESTART checkpoint waits for the readers (short
/// reads) so the next commit writes from the start of the file. The file is
/// never truncated: freeing and re-allocating hundreds of megabytes of
/// blocks stalled commits for ~180 ms (measured at 100 rooms), while
/// overwriting an allocated file costs nothing extra.
async fn checkpointer(pool: SqlitePool, alive: std::sync::Weak<()>) {
    let mut tick = tokio::time::interval(Duration::from_millis(200));
    loop {
        tick.tick().await;
        if alive.upgrade().is_none() {
            break;
        }
        match sqlx::query("PRAGMA wal_checkpoint(PASSIVE)").fetch_one(&pool).await {
            Ok(row) => {
                let wal_pages: i64 = row.try_get(1).unwrap_or(0);
                if wal_pages > WAL_RESTART_PAGES {
                    let _ = sqlx::query("PRAGMA wal_checkpoint(RESTART)").execute(&pool).await;
                }
            }
            Err(e) => tracing::debug!("checkpoint skipped: {e}"),
        }
    }
    pool.close().await;
}

impl SqliteStore {
    pub async fn open(url: &str) -> Result<Self, StorageError> {
        let opts = if url.starts_with("sqlite:") {
            SqliteConnectOptions::from_str(url)?
        } else {
            SqliteConnectOptions::new().filename(url)
        };
        let opts = opts
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Full)
            // Checkpoints run in the background (see `checkpointer`), not
            // inside whichever commit happens to cross the threshold.
            .pragma("wal_autocheckpoint", "0")
            .busy_timeout(BUSY_TIMEOUT)
            .foreign_keys(true);
        let marked = connection::Marked::default();
        let pool = SqlitePoolOptions::new()
            .max_connections(4)
            // Only writable connections outside any transaction are
            // reused (connection.rs).
            .after_connect({
                let marked = marked.clone();
                move |conn, _| {
                    let marked = marked.clone();
                    Box::pin(async move { connection::probe_new(conn, BUSY_TIMEOUT.as_millis(), &marked).await })
                }
            })
            .after_release(move |conn, _| {
                let marked = marked.clone();
                Box::pin(async move { connection::reusable(conn, &marked).await })
            })
            .connect_with(opts)
            .await?;
        MIGRATOR.run(&pool).await?;
        let alive = std::sync::Arc::new(());
        tokio::spawn(checkpointer(pool.clone(), std::sync::Arc::downgrade(&alive)));
        let committer = group_commit::spawn(pool.clone());
        Ok(Self { pool, committer, _alive: alive })
    }

    /// The pool (tests and tools that inspect the database).
    pub fn pool(&self) -> &SqlitePool {
        &self.pool
    }
}

fn parse<T: FromStr>(s: &str, what: &str) -> StorageResult<T> {
    s.parse().map_err(|_| StorageError::Corrupt(format!("bad {what}: {s:?}")))
}

fn user_from_row(row: &sqlx::sqlite::SqliteRow) -> StorageResult<UserRecord> {
    Ok(UserRecord {
        id: parse(row.try_get::<&str, _>("id")?, "user id")?,
        name: row.try_get("name")?,
        token_hash: row.try_get("token_hash")?,
        created_ms: row.try_get("created_ms")?,
        revoked_ms: row.try_get("revoked_ms")?,
    })
}

fn room_from_row(row: &sqlx::sqlite::SqliteRow) -> StorageResult<RoomRecord> {
    Ok(RoomRecord {
        id: parse(row.try_get::<&str, _>("id")?, "room id")?,
        title: row.try_get("title")?,
        created_ms: row.try_get("created_ms")?,
    })
}

fn audit_from_row(row: &sqlx::sqlite::SqliteRow) -> StorageResult<AuditEntry> {
    let detail: String = row.try_get("detail")?;
    Ok(AuditEntry {
        seq: row.try_get::<i64, _>("seq")? as u64,
        room: row.try_get("chain")?,
        at_ms: row.try_get("at_ms")?,
        actor: row.try_get("actor")?,
        kind: row.try_get("kind")?,
        revision: row.try_get::<i64, _>("revision")? as u64,
        detail: serde_json::from_str(&detail).map_err(|e| StorageError::Corrupt(format!("audit detail: {e}")))?,
        prev_hash: row.try_get("prev_hash")?,
        hash: row.try_get("hash")?,
    })
}

fn revision_from_body(body: &str) -> StorageResult<Revision> {
    serde_json::from_str(body).map_err(|e| StorageError::Corrupt(format!("revision body: {e}")))
}

fn json<T: serde::Serialize>(v: &T) -> StorageResult<String> {
    serde_json::to_string(v).map_err(|e| StorageError::Corrupt(format!("encode: {e}")))
}

pub(super) async fn write_batch(
    tx: &mut sqlx::SqliteConnection,
    room: RoomId,
    batch: &CommitBatch,
) -> StorageResult<()> {
    let room_s = room.to_string();
    for rev in &batch.revisions {
        sqlx::query(
            "INSERT INTO revisions (room_id, revision, author, at_ms, client_id, client_seq, kind, body)
             VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(&room_s)
        .bind(rev.revision as i64)
        .bind(rev.author.to_string())
        .bind(rev.at_ms)
        .bind(rev.client.map(|c| c.client.to_string()))
        .bind(rev.client.map(|c| c.seq as i64))
        .bind(rev.change.kind_name())
        .bind(json(rev)?)
        .execute(&mut *tx)
        .await?;
        match &rev.change {
            Change::MemberAdded { member } => {
                sqlx::query("INSERT OR REPLACE INTO memberships (room_id, user_id, role) VALUES (?, ?, ?)")
                    .bind(&room_s)
                    .bind(member.user.to_string())
                    .bind(member.role.label())
                    .execute(&mut *tx)
                    .await?;
            }
            Change::MemberRemoved { user } => {
                sqlx::query("DELETE FROM memberships WHERE room_id = ? AND user_id = ?")
                    .bind(&room_s)
                    .bind(user.to_string())
                    .execute(&mut *tx)
                    .await?;
            }
            _ => {}
        }
    }
    insert_audit(tx, &batch.audit).await?;
    for m in &batch.manifests {
        let body = &m.manifest.body;
        sqlx::query(
            "INSERT INTO manifests (room_id, release_revision, revision, content_hash, lane, manifest_hash, released_ms, record)
             VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(&room_s)
        .bind(m.event.release_revision as i64)
        .bind(body.revision as i64)
        .bind(&body.content_hash)
        .bind(body.lane.to_string())
        .bind(&m.manifest.manifest_hash)
        .bind(m.event.released_at_ms)
        .bind(json(m)?)
        .execute(&mut *tx)
        .await?;
    }
    if let Some(state) = &batch.snapshot {
        sqlx::query("INSERT OR REPLACE INTO snapshots (room_id, revision, state) VALUES (?, ?, ?)")
            .bind(&room_s)
            .bind(state.revision as i64)
            .bind(json(state)?)
            .execute(&mut *tx)
            .await?;
    }
    Ok(())
}

async fn insert_audit(tx: &mut sqlx::SqliteConnection, entries: &[AuditEntry]) -> StorageResult<()> {
    for e in entries {
        sqlx::query(
            "INSERT INTO audit (chain, seq, at_ms, actor, kind, revision, detail, prev_hash, hash)
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(&e.room)
        .bind(e.seq as i64)
        .bind(e.at_ms)
        .bind(&e.actor)
        .bind(&e.kind)
        .bind(e.revision as i64)
        .bind(json(&e.detail)?)
        .bind(&e.prev_hash)
        .bind(&e.hash)
        .execute(&mut *tx)
        .await?;
    }
    Ok(())
}

#[async_trait]
impl Storage for SqliteStore {
    async fn create_user(&self, user: &UserRecord) -> StorageResult<()> {
        sqlx::query("INSERT INTO users (id, name, token_hash, created_ms, revoked_ms) VALUES (?, ?, ?, ?, ?)")
            .bind(user.id.to_string())
            .bind(&user.name)
            .bind(&user.token_hash)
            .bind(user.created_ms)
            .bind(user.revoked_ms)
            .execute(&self.pool)
            .await
            .map_err(|e| match &e {
                sqlx::Error::Database(db) if db.is_unique_violation() => {
                    StorageError::Conflict(format!("a user named {:?} already exists", user.name))
                }
                _ => e.into(),
            })?;
        Ok(())
    }

    async fn user_by_token_hash(&self, hash: &str) -> StorageResult<Option<UserRecord>> {
        let row = sqlx::query("SELECT * FROM users WHERE token_hash = ? AND revoked_ms IS NULL")
            .bind(hash)
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(user_from_row).transpose()
    }

    async fn user_by_name(&self, name: &str) -> StorageResult<Option<UserRecord>> {
        let row = sqlx::query("SELECT * FROM users WHERE name = ?").bind(name).fetch_optional(&self.pool).await?;
        row.as_ref().map(user_from_row).transpose()
    }

    async fn user_by_id(&self, id: UserId) -> StorageResult<Option<UserRecord>> {
        let row =
            sqlx::query("SELECT * FROM users WHERE id = ?").bind(id.to_string()).fetch_optional(&self.pool).await?;
        row.as_ref().map(user_from_row).transpose()
    }

    async fn list_users(&self) -> StorageResult<Vec<UserRecord>> {
        let rows = sqlx::query("SELECT * FROM users ORDER BY name").fetch_all(&self.pool).await?;
        rows.iter().map(user_from_row).collect()
    }

    async fn revoke_user(&self, name: &str, at_ms: i64) -> StorageResult<bool> {
        let done = sqlx::query("UPDATE users SET revoked_ms = ? WHERE name = ? AND revoked_ms IS NULL")
            .bind(at_ms)
            .bind(name)
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected() > 0)
    }

    async fn create_room(&self, room: &RoomRecord, first: &CommitBatch) -> StorageResult<()> {
        let mut tx = self.pool.begin().await?;
        sqlx::query("INSERT INTO rooms (id, title, created_ms) VALUES (?, ?, ?)")
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
        let rows = sqlx::query("SELECT * FROM rooms ORDER BY created_ms, id").fetch_all(&self.pool).await?;
        rows.iter().map(room_from_row).collect()
    }

    async fn room(&self, id: RoomId) -> StorageResult<Option<RoomRecord>> {
        let row =
            sqlx::query("SELECT * FROM rooms WHERE id = ?").bind(id.to_string()).fetch_optional(&self.pool).await?;
        row.as_ref().map(room_from_row).transpose()
    }

    async fn rooms_for_user(&self, user: UserId) -> StorageResult<Vec<(RoomRecord, String)>> {
        let rows = sqlx::query(
            "SELECT r.id, r.title, r.created_ms, m.role FROM rooms r JOIN memberships m ON m.room_id = r.id
             WHERE m.user_id = ? ORDER BY r.created_ms, r.id",
        )
        .bind(user.to_string())
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(|row| Ok((room_from_row(row)?, row.try_get("role")?))).collect()
    }

    async fn load_room(&self, id: RoomId) -> StorageResult<Option<LoadedRoom>> {
        let Some(record) = self.room(id).await? else {
            return Ok(None);
        };
        let room_s = id.to_string();
        let snap_row =
            sqlx::query("SELECT revision, state FROM snapshots WHERE room_id = ? ORDER BY revision DESC LIMIT 1")
                .bind(&room_s)
                .fetch_optional(&self.pool)
                .await?;
        let snapshot: Option<RoomState> = match snap_row {
            Some(row) => {
                let state: String = row.try_get("state")?;
                Some(serde_json::from_str(&state).map_err(|e| StorageError::Corrupt(format!("snapshot: {e}")))?)
            }
            None => None,
        };
        let after = snapshot.as_ref().map_or(0, |s| s.revision);
        let tail = self.revisions_between(id, after, u64::MAX / 2).await?;
        let audit_head = self.audit_head(&room_s).await?;
        let seq_rows = sqlx::query(
            "SELECT client_id, MAX(client_seq) AS seq FROM revisions WHERE room_id = ? AND client_id IS NOT NULL
             GROUP BY client_id",
        )
        .bind(&room_s)
        .fetch_all(&self.pool)
        .await?;
        let mut client_seqs = Vec::with_capacity(seq_rows.len());
        for row in &seq_rows {
            let client: ClientId = parse(row.try_get::<&str, _>("client_id")?, "client id")?;
            let seq: i64 = row.try_get("seq")?;
            client_seqs.push((client, seq as u64));
        }
        Ok(Some(LoadedRoom { record, snapshot, tail, audit_head, client_seqs }))
    }

    async fn commit(&self, room: RoomId, batch: &CommitBatch) -> StorageResult<()> {
        group_commit::commit(&self.committer, room, batch).await
    }

    async fn revisions_between(&self, room: RoomId, after: u64, upto: u64) -> StorageResult<Vec<Revision>> {
        let rows = sqlx::query(
            "SELECT body FROM revisions WHERE room_id = ? AND revision > ? AND revision <= ? ORDER BY revision",
        )
        .bind(room.to_string())
        .bind(after as i64)
        .bind(upto.min(i64::MAX as u64) as i64)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(|r| revision_from_body(r.try_get::<&str, _>("body")?)).collect()
    }

    async fn find_client_seq(&self, room: RoomId, client: ClientId, seq: u64) -> StorageResult<Option<u64>> {
        let row = sqlx::query("SELECT revision FROM revisions WHERE room_id = ? AND client_id = ? AND client_seq = ?")
            .bind(room.to_string())
            .bind(client.to_string())
            .bind(seq as i64)
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.map(|r| r.try_get::<i64, _>("revision")).transpose()?.map(|r| r as u64))
    }

    async fn append_audit(&self, entries: &[AuditEntry]) -> StorageResult<()> {
        let mut tx = self.pool.begin().await?;
        insert_audit(&mut tx, entries).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn audit_head(&self, chain: &str) -> StorageResult<Option<(u64, String)>> {
        let row = sqlx::query("SELECT seq, hash FROM audit WHERE chain = ? ORDER BY seq DESC LIMIT 1")
            .bind(chain)
            .fetch_optional(&self.pool)
            .await?;
        match row {
            Some(r) => Ok(Some((r.try_get::<i64, _>("seq")? as u64, r.try_get("hash")?))),
            None => Ok(None),
        }
    }

    async fn audit_chain(&self, chain: &str) -> StorageResult<Vec<AuditEntry>> {
        // rowid order is storage order: a reordered or re-inserted row shows.
        let rows =
            sqlx::query("SELECT * FROM audit WHERE chain = ? ORDER BY rowid").bind(chain).fetch_all(&self.pool).await?;
        rows.iter().map(audit_from_row).collect()
    }

    async fn signing_key(&self, candidate: &KeyRecord) -> StorageResult<KeyRecord> {
        sqlx::query(
            "INSERT OR IGNORE INTO server_keys (name, algorithm, public_key, secret_key, created_ms) VALUES (?, ?, ?, ?, ?)",
        )
        .bind(&candidate.name)
        .bind(&candidate.algorithm)
        .bind(&candidate.public_key)
        .bind(&candidate.secret_key)
        .bind(candidate.created_ms)
        .execute(&self.pool)
        .await?;
        self.stored_key(&candidate.name)
            .await?
            .ok_or_else(|| StorageError::Corrupt(format!("key {:?} vanished after insert", candidate.name)))
    }

    async fn stored_key(&self, name: &str) -> StorageResult<Option<KeyRecord>> {
        let row = sqlx::query("SELECT * FROM server_keys WHERE name = ?").bind(name).fetch_optional(&self.pool).await?;
        row.map(|r| {
            Ok(KeyRecord {
                name: r.try_get("name")?,
                algorithm: r.try_get("algorithm")?,
                public_key: r.try_get("public_key")?,
                secret_key: r.try_get("secret_key")?,
                created_ms: r.try_get("created_ms")?,
            })
        })
        .transpose()
    }

    async fn manifests(&self, room: RoomId) -> StorageResult<Vec<ManifestRecord>> {
        let rows = sqlx::query("SELECT record FROM manifests WHERE room_id = ? ORDER BY release_revision")
            .bind(room.to_string())
            .fetch_all(&self.pool)
            .await?;
        rows.iter()
            .map(|r| {
                serde_json::from_str(r.try_get::<&str, _>("record")?)
                    .map_err(|e| StorageError::Corrupt(format!("manifest record: {e}")))
            })
            .collect()
    }

    async fn snapshot_at_or_before(&self, room: RoomId, revision: u64) -> StorageResult<Option<RoomState>> {
        let row = sqlx::query(
            "SELECT state FROM snapshots WHERE room_id = ? AND revision <= ? ORDER BY revision DESC LIMIT 1",
        )
        .bind(room.to_string())
        .bind(revision.min(i64::MAX as u64) as i64)
        .fetch_optional(&self.pool)
        .await?;
        row.map(|r| {
            serde_json::from_str(r.try_get::<&str, _>("state")?)
                .map_err(|e| StorageError::Corrupt(format!("snapshot: {e}")))
        })
        .transpose()
    }

    async fn audit_change_entry(&self, chain: &str, revision: u64) -> StorageResult<Option<AuditEntry>> {
        let row = sqlx::query(
            "SELECT * FROM audit WHERE chain = ? AND revision = ? AND kind LIKE 'change.%' ORDER BY seq DESC LIMIT 1",
        )
        .bind(chain)
        .bind(revision.min(i64::MAX as u64) as i64)
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(audit_from_row).transpose()
    }

    async fn enqueue_admin(&self, room: RoomId, command: &str, at_ms: i64) -> StorageResult<i64> {
        let done = sqlx::query("INSERT INTO admin_queue (room_id, command, created_ms) VALUES (?, ?, ?)")
            .bind(room.to_string())
            .bind(command)
            .bind(at_ms)
            .execute(&self.pool)
            .await?;
        Ok(done.last_insert_rowid())
    }

    async fn pending_admin(&self) -> StorageResult<Vec<QueuedAdmin>> {
        let rows = sqlx::query("SELECT id, room_id, command FROM admin_queue WHERE done_ms IS NULL ORDER BY id")
            .fetch_all(&self.pool)
            .await?;
        rows.iter()
            .map(|r| {
                Ok(QueuedAdmin {
                    id: r.try_get("id")?,
                    room: parse(r.try_get::<&str, _>("room_id")?, "room id")?,
                    command: r.try_get("command")?,
                })
            })
            .collect()
    }

    async fn finish_admin(&self, id: i64, result: &str, at_ms: i64) -> StorageResult<()> {
        sqlx::query("UPDATE admin_queue SET done_ms = ?, result = ? WHERE id = ?")
            .bind(at_ms)
            .bind(result)
            .bind(id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn admin_result(&self, id: i64) -> StorageResult<Option<String>> {
        let row = sqlx::query("SELECT result FROM admin_queue WHERE id = ? AND done_ms IS NOT NULL")
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.map(|r| r.try_get::<Option<String>, _>("result")).transpose()?.flatten())
    }

    async fn heartbeat(&self, node: &str, at_ms: i64) -> StorageResult<()> {
        sqlx::query(
            "INSERT INTO server_nodes (node_id, heartbeat_ms) VALUES (?, ?)
             ON CONFLICT (node_id) DO UPDATE SET heartbeat_ms = excluded.heartbeat_ms",
        )
        .bind(node)
        .bind(at_ms)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn remove_node(&self, node: &str) -> StorageResult<()> {
        sqlx::query("DELETE FROM server_nodes WHERE node_id = ?").bind(node).execute(&self.pool).await?;
        Ok(())
    }

    async fn latest_heartbeat(&self) -> StorageResult<Option<i64>> {
        let row = sqlx::query("SELECT MAX(heartbeat_ms) AS hb FROM server_nodes").fetch_one(&self.pool).await?;
        Ok(row.try_get::<Option<i64>, _>("hb")?)
    }

    async fn purge_content(&self, room: RoomId, redaction: &Redaction) -> StorageResult<crate::storage::PurgeReport> {
        purge::purge_sqlite(&self.pool, room, redaction).await
    }
}

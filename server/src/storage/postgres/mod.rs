//! PostgreSQL storage: the same trait and the same semantics as
//! [`super::SqliteStore`], for several server processes sharing one
//! database that operators already run, back up and replicate.
//!
//! - Every method is one transaction; a commit batch is all or nothing and
//!   is durable (`synchronous_commit` as the server configures it, `on` by
//!   default) before the room acknowledges it.
//! - A group commit is one transaction of a few statements whatever its
//!   size: the revisions and their audit entries go in as ONE statement
//!   (multi-row `INSERT … SELECT FROM UNNEST(…)` in two CTEs), manifests
//!   likewise, so a batch of 50 changes costs the same round trips as a
//!   batch of one: BEGIN, (the lease fence), the insert, COMMIT.
//! - JSON is stored as TEXT with exactly the bytes SQLite stores (hashes
//!   and the audit chain depend on them).
//! - Migrations (`migrations/postgres/`) run at open under sqlx's advisory
//!   lock, so nodes starting together do not race.

mod lease;
mod purge;

use std::str::FromStr;
use std::time::Duration;
use trustroom_shared::restricted::Redaction;

use async_trait::async_trait;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions, PgRow};
use sqlx::{PgConnection, PgPool, Row};
use trustroom_shared::audit::AuditEntry;
use trustroom_shared::change::{Change, Revision};
use trustroom_shared::manifest::ManifestRecord;
use trustroom_shared::room::RoomState;
use trustroom_shared::{ClientId, RoomId, UserId};

use crate::storage::{
    CommitBatch, KeyRecord, LoadedRoom, QueuedAdmin, RoomRecord, Storage, StorageError, StorageResult, UserRecord,
};

pub(super) static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("../migrations/postgres");

/// Connections per process: the room actors commit concurrently, one
/// connection each at a time; the rest serve handshakes and admin reads.
const MAX_CONNECTIONS: u32 = 8;

/// PostgreSQL-backed store.
#[derive(Clone)]
pub struct PgStore {
    pool: PgPool,
}

impl PgStore {
    /// Connects (`postgres://` or `postgresql://` URL) and applies the
    /// migrations.
    pub async fn open(url: &str) -> Result<Self, StorageError> {
        let pool = Self::connect(url).await?;
        MIGRATOR.run(&pool).await?;
        Ok(Self { pool })
    }

    /// Connects without migrating (the `migrate` command runs them itself).
    pub(super) async fn connect(url: &str) -> Result<PgPool, StorageError> {
        let opts = PgConnectOptions::from_str(url)?.application_name("trustroom-server");
        let pool = PgPoolOptions::new()
            .max_connections(MAX_CONNECTIONS)
            // No ping round trip before every commit: a dead connection
            // fails its query (`unavailable`) and the pool replaces it.
            .test_before_acquire(false)
            // A database that does not answer within this is `unavailable`
            // (StorageError::is_unavailable), not a hang.
            .acquire_timeout(Duration::from_secs(5))
            .connect_with(opts)
            .await?;
        Ok(pool)
    }

    /// The pool (tests and tools that inspect the database).
    pub fn pool(&self) -> &PgPool {
        &self.pool
    }
}

fn parse<T: FromStr>(s: &str, what: &str) -> StorageResult<T> {
    s.parse().map_err(|_| StorageError::Corrupt(format!("bad {what}: {s:?}")))
}

/// u64 positions as BIGINT (positions never reach 2^63; clamp bounds).
fn big(v: u64) -> i64 {
    v.min(i64::MAX as u64) as i64
}

fn user_from_row(row: &PgRow) -> StorageResult<UserRecord> {
    Ok(UserRecord {
        id: parse(row.try_get::<&str, _>("id")?, "user id")?,
        name: row.try_get("name")?,
        token_hash: row.try_get("token_hash")?,
        created_ms: row.try_get("created_ms")?,
        revoked_ms: row.try_get("revoked_ms")?,
    })
}

fn room_from_row(row: &PgRow) -> StorageResult<RoomRecord> {
    Ok(RoomRecord {
        id: parse(row.try_get::<&str, _>("id")?, "room id")?,
        title: row.try_get("title")?,
        created_ms: row.try_get("created_ms")?,
    })
}

fn audit_from_row(row: &PgRow) -> StorageResult<AuditEntry> {
    let detail: &str = row.try_get("detail")?;
    Ok(AuditEntry {
        seq: row.try_get::<i64, _>("seq")? as u64,
        room: row.try_get("chain")?,
        at_ms: row.try_get("at_ms")?,
        actor: row.try_get("actor")?,
        kind: row.try_get("kind")?,
        revision: row.try_get::<i64, _>("revision")? as u64,
        detail: serde_json::from_str(detail).map_err(|e| StorageError::Corrupt(format!("audit detail: {e}")))?,
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

const AUDIT_COLUMNS: &str = "chain, seq, at_ms, actor, kind, revision, detail, prev_hash, hash";

/// The audit insert: entries as arrays `$first..$first+8`; `WITH ORDINALITY
/// … ORDER BY` makes the storage order (`pos`) the order of the entries.
fn audit_insert(first: usize) -> String {
    let p: Vec<String> = (first..first + 9).map(|i| format!("${i}")).collect();
    format!(
        "INSERT INTO audit ({AUDIT_COLUMNS})
         SELECT {AUDIT_COLUMNS} FROM UNNEST({}::text[], {}::bigint[], {}::bigint[], {}::text[], {}::text[],
                {}::bigint[], {}::text[], {}::text[], {}::text[])
              WITH ORDINALITY AS t({AUDIT_COLUMNS}, ord)
         ORDER BY ord",
        p[0], p[1], p[2], p[3], p[4], p[5], p[6], p[7], p[8]
    )
}

/// Audit entries as one array per column.
#[derive(Default)]
struct AuditColumns<'a> {
    chain: Vec<&'a str>,
    seq: Vec<i64>,
    at_ms: Vec<i64>,
    actor: Vec<&'a str>,
    kind: Vec<&'a str>,
    revision: Vec<i64>,
    detail: Vec<String>,
    prev_hash: Vec<&'a str>,
    hash: Vec<&'a str>,
}

impl<'a> AuditColumns<'a> {
    fn new(entries: &'a [AuditEntry]) -> StorageResult<Self> {
        let mut c = AuditColumns::default();
        for e in entries {
            c.chain.push(&e.room);
            c.seq.push(big(e.seq));
            c.at_ms.push(e.at_ms);
            c.actor.push(&e.actor);
            c.kind.push(&e.kind);
            c.revision.push(big(e.revision));
            c.detail.push(json(&e.detail)?);
            c.prev_hash.push(&e.prev_hash);
            c.hash.push(&e.hash);
        }
        Ok(c)
    }

    fn bind<'q>(&'q self, q: PgQuery<'q>) -> PgQuery<'q> {
        q.bind(&self.chain)
            .bind(&self.seq)
            .bind(&self.at_ms)
            .bind(&self.actor)
            .bind(&self.kind)
            .bind(&self.revision)
            .bind(&self.detail)
            .bind(&self.prev_hash)
            .bind(&self.hash)
    }
}

/// Revisions as one array per column.
#[derive(Default)]
struct RevisionColumns {
    revision: Vec<i64>,
    author: Vec<String>,
    at_ms: Vec<i64>,
    client_id: Vec<Option<String>>,
    client_seq: Vec<Option<i64>>,
    kind: Vec<&'static str>,
    body: Vec<String>,
}

impl RevisionColumns {
    fn new(revisions: &[Revision]) -> StorageResult<Self> {
        let mut c = RevisionColumns::default();
        for rev in revisions {
            c.revision.push(big(rev.revision));
            c.author.push(rev.author.to_string());
            c.at_ms.push(rev.at_ms);
            c.client_id.push(rev.client.map(|s| s.client.to_string()));
            c.client_seq.push(rev.client.map(|s| big(s.seq)));
            c.kind.push(rev.change.kind_name());
            c.body.push(json(rev)?);
        }
        Ok(c)
    }
}

type PgQuery<'q> = sqlx::query::Query<'q, sqlx::Postgres, sqlx::postgres::PgArguments>;

/// Writes one batch inside the caller's transaction in few round trips:
/// the revisions and their audit entries in ONE statement (two
/// data-modifying CTEs over `UNNEST`ed arrays), then one statement per
/// membership change (in revision order), one for the manifests (if any)
/// and one for the snapshot (if any).
pub(super) async fn write_batch(tx: &mut PgConnection, room: RoomId, batch: &CommitBatch) -> StorageResult<()> {
    let room_s = room.to_string();
    if !batch.revisions.is_empty() || !batch.audit.is_empty() {
        let revs = RevisionColumns::new(&batch.revisions)?;
        let audit = AuditColumns::new(&batch.audit)?;
        let sql = format!(
            "WITH new_revisions AS (
                 INSERT INTO revisions (room_id, revision, author, at_ms, client_id, client_seq, kind, body)
                 SELECT $1, * FROM UNNEST($2::bigint[], $3::text[], $4::bigint[], $5::text[], $6::bigint[],
                                          $7::text[], $8::text[])
             ), new_audit AS ({})
             SELECT 1",
            audit_insert(9)
        );
        let q = sqlx::query(&sql)
            .bind(&room_s)
            .bind(&revs.revision)
            .bind(&revs.author)
            .bind(&revs.at_ms)
            .bind(&revs.client_id)
            .bind(&revs.client_seq)
            .bind(&revs.kind)
            .bind(&revs.body);
        audit.bind(q).execute(&mut *tx).await?;
    }
    for rev in &batch.revisions {
        match &rev.change {
            Change::MemberAdded { member } => {
                sqlx::query(
                    "INSERT INTO memberships (room_id, user_id, role) VALUES ($1, $2, $3)
                     ON CONFLICT (room_id, user_id) DO UPDATE SET role = excluded.role",
                )
                .bind(&room_s)
                .bind(member.user.to_string())
                .bind(member.role.label())
                .execute(&mut *tx)
                .await?;
            }
            Change::MemberRemoved { user } => {
                sqlx::query("DELETE FROM memberships WHERE room_id = $1 AND user_id = $2")
                    .bind(&room_s)
                    .bind(user.to_string())
                    .execute(&mut *tx)
                    .await?;
            }
            _ => {}
        }
    }
    if !batch.manifests.is_empty() {
        let n = batch.manifests.len();
        let (mut release_revision, mut revision, mut content_hash) =
            (Vec::with_capacity(n), Vec::with_capacity(n), Vec::with_capacity(n));
        let (mut lane, mut manifest_hash, mut released_ms, mut record) =
            (Vec::with_capacity(n), Vec::with_capacity(n), Vec::with_capacity(n), Vec::with_capacity(n));
        for m in &batch.manifests {
            let body = &m.manifest.body;
            release_revision.push(big(m.event.release_revision));
            revision.push(big(body.revision));
            content_hash.push(body.content_hash.as_str());
            lane.push(body.lane.to_string());
            manifest_hash.push(m.manifest.manifest_hash.as_str());
            released_ms.push(m.event.released_at_ms);
            record.push(json(m)?);
        }
        sqlx::query(
            "INSERT INTO manifests (room_id, release_revision, revision, content_hash, lane, manifest_hash, released_ms, record)
             SELECT $1, * FROM UNNEST($2::bigint[], $3::bigint[], $4::text[], $5::text[], $6::text[], $7::bigint[], $8::text[])",
        )
        .bind(&room_s)
        .bind(&release_revision)
        .bind(&revision)
        .bind(&content_hash)
        .bind(&lane)
        .bind(&manifest_hash)
        .bind(&released_ms)
        .bind(&record)
        .execute(&mut *tx)
        .await?;
    }
    if let Some(state) = &batch.snapshot {
        sqlx::query(
            "INSERT INTO snapshots (room_id, revision, state) VALUES ($1, $2, $3)
             ON CONFLICT (room_id, revision) DO UPDATE SET state = excluded.state",
        )
        .bind(&room_s)
        .bind(big(state.revision))
        .bind(json(state)?)
        .execute(&mut *tx)
        .await?;
    }
    Ok(())
}

/// Appends audit entries in one statement (atomic on its own).
async fn insert_audit(conn: &mut PgConnection, entries: &[AuditEntry]) -> StorageResult<()> {
    if entries.is_empty() {
        return Ok(());
    }
    let audit = AuditColumns::new(entries)?;
    let sql = audit_insert(1);
    audit.bind(sqlx::query(&sql)).execute(&mut *conn).await?;
    Ok(())
}

async fn room_in(conn: &mut PgConnection, id: RoomId) -> StorageResult<Option<RoomRecord>> {
    let row = sqlx::query("SELECT id, title, created_ms FROM rooms WHERE id = $1")
        .bind(id.to_string())
        .fetch_optional(&mut *conn)
        .await?;
    row.as_ref().map(room_from_row).transpose()
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
            .map_err(|e| match &e {
                sqlx::Error::Database(db) if db.is_unique_violation() => {
                    StorageError::Conflict(format!("a user named {:?} already exists", user.name))
                }
                _ => e.into(),
            })?;
        Ok(())
    }

    async fn user_by_token_hash(&self, hash: &str) -> StorageResult<Option<UserRecord>> {
        let row = sqlx::query("SELECT * FROM users WHERE token_hash = $1 AND revoked_ms IS NULL")
            .bind(hash)
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(user_from_row).transpose()
    }

    async fn user_by_name(&self, name: &str) -> StorageResult<Option<UserRecord>> {
        let row = sqlx::query("SELECT * FROM users WHERE name = $1").bind(name).fetch_optional(&self.pool).await?;
        row.as_ref().map(user_from_row).transpose()
    }

    async fn user_by_id(&self, id: UserId) -> StorageResult<Option<UserRecord>> {
        let row =
            sqlx::query("SELECT * FROM users WHERE id = $1").bind(id.to_string()).fetch_optional(&self.pool).await?;
        row.as_ref().map(user_from_row).transpose()
    }

    async fn list_users(&self) -> StorageResult<Vec<UserRecord>> {
        // `COLLATE "C"`: byte order, as SQLite's default BINARY collation.
        let rows = sqlx::query(r#"SELECT * FROM users ORDER BY name COLLATE "C""#).fetch_all(&self.pool).await?;
        rows.iter().map(user_from_row).collect()
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
        rows.iter().map(room_from_row).collect()
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
        rows.iter().map(|row| Ok((room_from_row(row)?, row.try_get("role")?))).collect()
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
        let snap_row =
            sqlx::query("SELECT revision, state FROM snapshots WHERE room_id = $1 ORDER BY revision DESC LIMIT 1")
                .bind(&room_s)
                .fetch_optional(&mut *tx)
                .await?;
        let snapshot: Option<RoomState> = match snap_row {
            Some(row) => {
                let state: &str = row.try_get("state")?;
                Some(serde_json::from_str(state).map_err(|e| StorageError::Corrupt(format!("snapshot: {e}")))?)
            }
            None => None,
        };
        let after = snapshot.as_ref().map_or(0, |s| s.revision);
        let rows = sqlx::query("SELECT body FROM revisions WHERE room_id = $1 AND revision > $2 ORDER BY revision")
            .bind(&room_s)
            .bind(big(after))
            .fetch_all(&mut *tx)
            .await?;
        let tail = rows.iter().map(|r| revision_from_body(r.try_get("body")?)).collect::<StorageResult<Vec<_>>>()?;
        let head = sqlx::query("SELECT seq, hash FROM audit WHERE chain = $1 ORDER BY seq DESC LIMIT 1")
            .bind(&room_s)
            .fetch_optional(&mut *tx)
            .await?;
        let audit_head = match head {
            Some(r) => Some((r.try_get::<i64, _>("seq")? as u64, r.try_get("hash")?)),
            None => None,
        };
        let seq_rows = sqlx::query(
            "SELECT client_id, MAX(client_seq) AS seq FROM revisions WHERE room_id = $1 AND client_id IS NOT NULL
             GROUP BY client_id",
        )
        .bind(&room_s)
        .fetch_all(&mut *tx)
        .await?;
        tx.commit().await?;
        let mut client_seqs = Vec::with_capacity(seq_rows.len());
        for row in &seq_rows {
            let client: ClientId = parse(row.try_get::<&str, _>("client_id")?, "client id")?;
            let seq: i64 = row.try_get("seq")?;
            client_seqs.push((client, seq as u64));
        }
        Ok(Some(LoadedRoom { record, snapshot, tail, audit_head, client_seqs }))
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
        rows.iter().map(|r| revision_from_body(r.try_get("body")?)).collect()
    }

    async fn find_client_seq(&self, room: RoomId, client: ClientId, seq: u64) -> StorageResult<Option<u64>> {
        let row =
            sqlx::query("SELECT revision FROM revisions WHERE room_id = $1 AND client_id = $2 AND client_seq = $3")
                .bind(room.to_string())
                .bind(client.to_string())
                .bind(big(seq))
                .fetch_optional(&self.pool)
                .await?;
        Ok(row.map(|r| r.try_get::<i64, _>("revision")).transpose()?.map(|r| r as u64))
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
        match row {
            Some(r) => Ok(Some((r.try_get::<i64, _>("seq")? as u64, r.try_get("hash")?))),
            None => Ok(None),
        }
    }

    async fn audit_chain(&self, chain: &str) -> StorageResult<Vec<AuditEntry>> {
        // `pos` order is storage order: a reordered or re-inserted row shows.
        let rows =
            sqlx::query("SELECT * FROM audit WHERE chain = $1 ORDER BY pos").bind(chain).fetch_all(&self.pool).await?;
        rows.iter().map(audit_from_row).collect()
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
        self.stored_key(&candidate.name)
            .await?
            .ok_or_else(|| StorageError::Corrupt(format!("key {:?} vanished after insert", candidate.name)))
    }

    async fn stored_key(&self, name: &str) -> StorageResult<Option<KeyRecord>> {
        let row =
            sqlx::query("SELECT * FROM server_keys WHERE name = $1").bind(name).fetch_optional(&self.pool).await?;
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
        let rows = sqlx::query("SELECT record FROM manifests WHERE room_id = $1 ORDER BY release_revision")
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
            "SELECT state FROM snapshots WHERE room_id = $1 AND revision <= $2 ORDER BY revision DESC LIMIT 1",
        )
        .bind(room.to_string())
        .bind(big(revision))
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
            "SELECT * FROM audit WHERE chain = $1 AND revision = $2 AND kind LIKE 'change.%' ORDER BY seq DESC LIMIT 1",
        )
        .bind(chain)
        .bind(big(revision))
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(audit_from_row).transpose()
    }

    async fn enqueue_admin(&self, room: RoomId, command: &str, at_ms: i64) -> StorageResult<i64> {
        let row =
            sqlx::query("INSERT INTO admin_queue (room_id, command, created_ms) VALUES ($1, $2, $3) RETURNING id")
                .bind(room.to_string())
                .bind(command)
                .bind(at_ms)
                .fetch_one(&self.pool)
                .await?;
        Ok(row.try_get("id")?)
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
        Ok(row.map(|r| r.try_get::<Option<String>, _>("result")).transpose()?.flatten())
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
        Ok(row.try_get::<Option<i64>, _>("hb")?)
    }

    async fn purge_content(&self, room: RoomId, redaction: &Redaction) -> StorageResult<crate::storage::PurgeReport> {
        purge::purge_postgres(&self.pool, room, redaction).await
    }
}

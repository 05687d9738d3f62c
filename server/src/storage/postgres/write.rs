//! A commit batch written on PostgreSQL in few round trips whatever its
//! size: the revisions and their audit entries go in as ONE statement
//! (multi-row `INSERT … SELECT FROM UNNEST(…)` in two CTEs), manifests
//! likewise, so a batch of 50 changes costs the same round trips as a batch
//! of one.

use sqlx::{PgConnection, Postgres};
use trustroom_shared::RoomId;
use trustroom_shared::audit::AuditEntry;
use trustroom_shared::change::Revision;

use crate::storage::batch::write_shared;
use crate::storage::rows::{big, json};
use crate::storage::{CommitBatch, StorageResult};

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
/// data-modifying CTEs over `UNNEST`ed arrays), one for the manifests (if
/// any), then one statement per membership change (in revision order) and
/// one for the snapshot (if any) as on SQLite (`storage::batch`).
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
    write_shared::<Postgres>(tx, &room_s, batch).await?;
    Ok(())
}

/// Appends audit entries in one statement (atomic on its own).
pub(super) async fn insert_audit(conn: &mut PgConnection, entries: &[AuditEntry]) -> StorageResult<()> {
    if entries.is_empty() {
        return Ok(());
    }
    let audit = AuditColumns::new(entries)?;
    let sql = audit_insert(1);
    audit.bind(sqlx::query(&sql)).execute(&mut *conn).await?;
    Ok(())
}

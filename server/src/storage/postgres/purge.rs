//! Retention purge on PostgreSQL: the same scrub as on SQLite
//! (`storage::purge`), in one transaction, then `VACUUM FULL` of the
//! rewritten tables so the old row versions are gone from the table files,
//! not only invisible to queries.
//!
//! What stays outside our reach, and is documented in docs/access.md:
//! the write-ahead log until PostgreSQL recycles its segments, WAL
//! archives, base backups and replicas' own files.

use sqlx::{PgConnection, PgPool};
use trustroom_shared::RoomId;
use trustroom_shared::restricted::Redaction;

use crate::storage::StorageResult;
use crate::storage::purge::{PurgeReport, scrubbed_rows};

pub(super) async fn purge(pool: &PgPool, room: RoomId, redaction: &Redaction) -> StorageResult<PurgeReport> {
    let room_s = room.to_string();
    let mut report = PurgeReport::default();
    let mut tx = pool.begin().await?;
    // Revisions that can carry annex content: annexes added, promotions
    // requested (and, defensively, any body mentioning a passage); with
    // patterns to mask, every revision.
    let rows = sqlx::query(
        "SELECT revision, body FROM revisions WHERE room_id = $1
         AND ($2 OR kind IN ('annex_added', 'promotion_requested') OR body LIKE '%\"passage\"%' OR body LIKE '%\"content\"%')
         FOR UPDATE",
    )
    .bind(&room_s)
    .bind(!redaction.matcher.is_empty())
    .fetch_all(&mut *tx)
    .await?;
    let changed = scrubbed_rows(&rows, "revision", "body", redaction)?;
    report.revisions =
        rewrite(&mut tx, "UPDATE revisions SET body = $1 WHERE room_id = $2 AND revision = $3", &room_s, changed)
            .await?;
    let rows = sqlx::query("SELECT revision, state FROM snapshots WHERE room_id = $1 FOR UPDATE")
        .bind(&room_s)
        .fetch_all(&mut *tx)
        .await?;
    let changed = scrubbed_rows(&rows, "revision", "state", redaction)?;
    report.snapshots =
        rewrite(&mut tx, "UPDATE snapshots SET state = $1 WHERE room_id = $2 AND revision = $3", &room_s, changed)
            .await?;
    let rows = sqlx::query("SELECT id, command FROM admin_queue WHERE room_id = $1 FOR UPDATE")
        .bind(&room_s)
        .fetch_all(&mut *tx)
        .await?;
    let changed = scrubbed_rows(&rows, "id", "command", redaction)?;
    report.admin_commands =
        rewrite(&mut tx, "UPDATE admin_queue SET command = $1 WHERE room_id = $2 AND id = $3", &room_s, changed)
            .await?;
    tx.commit().await?;
    // The old row versions stay in the heap pages until the table is
    // rewritten. VACUUM cannot run inside a transaction block; each one
    // takes an exclusive lock on its table for the rewrite (commits of
    // other rooms wait that long).
    let mut conn = pool.acquire().await?;
    let mut compacted = true;
    for table in ["revisions", "snapshots", "admin_queue"] {
        // Table names are constants, never input.
        if let Err(e) = sqlx::query(&format!("VACUUM (FULL) {table}")).execute(&mut *conn).await {
            tracing::warn!(%room, table, "retention: VACUUM FULL failed; the old row versions stay until the next vacuum: {e}");
            compacted = false;
        }
    }
    report.compacted = compacted;
    Ok(report)
}

/// Writes the scrubbed texts back (`update` binds text, room, key);
/// returns how many rows it rewrote.
async fn rewrite(tx: &mut PgConnection, update: &str, room: &str, changed: Vec<(i64, String)>) -> StorageResult<usize> {
    for (key, text) in &changed {
        sqlx::query(update).bind(text).bind(room).bind(key).execute(&mut *tx).await?;
    }
    Ok(changed.len())
}

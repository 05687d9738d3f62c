//! Retention purge on SQLite: the scrub of `storage::purge` in one
//! transaction, then `VACUUM` and a truncating WAL checkpoint, so the old
//! bytes are gone from the database file and the log.

use sqlx::{Row, SqliteConnection, SqlitePool};
use trustroom_shared::RoomId;
use trustroom_shared::restricted::Redaction;

use crate::storage::StorageResult;
use crate::storage::purge::{PurgeReport, scrubbed_rows};

pub(super) async fn purge(pool: &SqlitePool, room: RoomId, redaction: &Redaction) -> StorageResult<PurgeReport> {
    let room_s = room.to_string();
    let mut report = PurgeReport::default();
    let mut tx = pool.begin().await?;
    // Revisions that can carry annex content: annexes added, promotions
    // requested (and, defensively, any body mentioning a passage); with
    // patterns to mask, every revision.
    let rows = sqlx::query(
        "SELECT revision, body FROM revisions WHERE room_id = ?
         AND (? OR kind IN ('annex_added', 'promotion_requested') OR body LIKE '%\"passage\"%' OR body LIKE '%\"content\"%')",
    )
    .bind(&room_s)
    .bind(!redaction.matcher.is_empty())
    .fetch_all(&mut *tx)
    .await?;
    let changed = scrubbed_rows(&rows, "revision", "body", redaction)?;
    report.revisions =
        rewrite(&mut tx, "UPDATE revisions SET body = ? WHERE room_id = ? AND revision = ?", &room_s, changed).await?;
    let rows = sqlx::query("SELECT revision, state FROM snapshots WHERE room_id = ?")
        .bind(&room_s)
        .fetch_all(&mut *tx)
        .await?;
    let changed = scrubbed_rows(&rows, "revision", "state", redaction)?;
    report.snapshots =
        rewrite(&mut tx, "UPDATE snapshots SET state = ? WHERE room_id = ? AND revision = ?", &room_s, changed).await?;
    let rows =
        sqlx::query("SELECT id, command FROM admin_queue WHERE room_id = ?").bind(&room_s).fetch_all(&mut *tx).await?;
    let changed = scrubbed_rows(&rows, "id", "command", redaction)?;
    report.admin_commands =
        rewrite(&mut tx, "UPDATE admin_queue SET command = ? WHERE room_id = ? AND id = ?", &room_s, changed).await?;
    tx.commit().await?;
    // Freed pages still hold the old bytes: rebuild the file, then move
    // everything out of the WAL and truncate it.
    let mut conn = pool.acquire().await?;
    sqlx::query("VACUUM").execute(&mut *conn).await?;
    let row = sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)").fetch_one(&mut *conn).await?;
    let busy: i64 = row.try_get(0).unwrap_or(1);
    report.compacted = busy == 0;
    if !report.compacted {
        tracing::warn!(%room, "retention: the WAL could not be truncated yet (readers); the next checkpoint will");
    }
    Ok(report)
}

/// Writes the scrubbed texts back (`update` binds text, room, key);
/// returns how many rows it rewrote.
async fn rewrite(
    tx: &mut SqliteConnection,
    update: &str,
    room: &str,
    changed: Vec<(i64, String)>,
) -> StorageResult<usize> {
    for (key, text) in &changed {
        sqlx::query(update).bind(text).bind(room).bind(key).execute(&mut *tx).await?;
    }
    Ok(changed.len())
}

//! Retention purge on SQLite: after the scrub (`storage::purge`, run by
//! the shared `purge_content`), `VACUUM` and a truncating WAL checkpoint,
//! so the old bytes are gone from the database file and the log.

use sqlx::{Row, SqlitePool};
use trustroom_shared::RoomId;

use crate::storage::StorageResult;

/// Rebuilds the file (freed pages still hold the old bytes), then moves
/// everything out of the WAL and truncates it; false when readers kept the
/// WAL from being truncated (the next checkpoint will).
pub(super) async fn compact(pool: &SqlitePool, room: RoomId) -> StorageResult<bool> {
    let mut conn = pool.acquire().await?;
    sqlx::query("VACUUM").execute(&mut *conn).await?;
    let row = sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)").fetch_one(&mut *conn).await?;
    let busy: i64 = row.try_get(0).unwrap_or(1);
    if busy != 0 {
        tracing::warn!(%room, "retention: the WAL could not be truncated yet (readers); the next checkpoint will");
    }
    Ok(busy == 0)
}

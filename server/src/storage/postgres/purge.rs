//! Retention purge on PostgreSQL: after the scrub (`storage::purge`, run
//! by the shared `purge_content` in one transaction, the rows locked),
//! `VACUUM FULL` of the rewritten tables so the old row versions are gone
//! from the table files, not only invisible to queries.
//!
//! What stays outside our reach, and is documented in docs/access.md:
//! the write-ahead log until PostgreSQL recycles its segments, WAL
//! archives, base backups and replicas' own files.

use sqlx::PgPool;
use trustroom_shared::RoomId;

use crate::storage::StorageResult;

/// Rewrites the purged tables; false when a rewrite failed (the old row
/// versions then stay until the next vacuum).
pub(super) async fn compact(pool: &PgPool, room: RoomId) -> StorageResult<bool> {
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
    Ok(compacted)
}

//! Tampering with a copy of a room's SQLite file, as an attacker with the
//! file would: the audit-log tests show each change is found.

use sqlx::{Row, SqlitePool};

/// Deletes audit row `seq` of `chain` and inserts it again unchanged, so it
/// comes last in storage (rowid) order: the log is reordered, no entry is
/// altered.
pub async fn move_audit_row_last(pool: &SqlitePool, chain: &str, seq: i64) -> anyhow::Result<()> {
    let row =
        sqlx::query("SELECT * FROM audit WHERE chain = ? AND seq = ?").bind(chain).bind(seq).fetch_one(pool).await?;
    let text = |c: &str| row.try_get::<String, _>(c);
    let number = |c: &str| row.try_get::<i64, _>(c);
    let (actor, kind, detail, prev_hash, hash) =
        (text("actor")?, text("kind")?, text("detail")?, text("prev_hash")?, text("hash")?);
    let (at_ms, revision) = (number("at_ms")?, number("revision")?);
    sqlx::query("DELETE FROM audit WHERE chain = ? AND seq = ?").bind(chain).bind(seq).execute(pool).await?;
    sqlx::query(
        "INSERT INTO audit (chain, seq, at_ms, actor, kind, revision, detail, prev_hash, hash) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
    )
    .bind(chain)
    .bind(seq)
    .bind(at_ms)
    .bind(actor)
    .bind(kind)
    .bind(revision)
    .bind(detail)
    .bind(prev_hash)
    .bind(hash)
    .execute(pool)
    .await?;
    Ok(())
}

//! Connections to the SQLite file: how the pool opens them (WAL,
//! `synchronous=FULL`: a committed change survives a crash or power loss
//! before it is acknowledged; checkpoints in the background, see
//! checkpoint.rs) and which pooled connections may be reused.
//!
//! Two kinds of connection must not go back to the pool, or every write
//! that happens to get one fails — or worse, seems to succeed:
//!
//! - **Still inside a transaction** (as sqlx counts it): a failed `COMMIT`
//!   or `ROLLBACK` leaves it so. Reused, its next transaction was a
//!   savepoint inside the old one — acknowledged, never committed, the
//!   write lock held until shutdown rolled it back (found by the read-only
//!   storage-fault test). Closing the connection makes SQLite roll back
//!   whatever it still held.
//! - **Opened read-only.** SQLite opens a database read-only, silently,
//!   when it cannot open the files for writing at that moment (read-only or
//!   immutable files, a read-only mount), and the connection stays so after
//!   the fault clears. Each new connection is probed once; a read-only one
//!   carries a mark (a table in its own `temp` schema) and is closed when
//!   it is handed back, so the pool holds only writable connections once
//!   the fault is over. During the fault it still serves reads.

use std::str::FromStr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{SqliteConnection, SqlitePool};

use crate::storage::StorageError;

/// How long a statement waits for another connection's lock.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// Opens the pool for `url` (`sqlite://PATH`, `sqlite::memory:` or a plain
/// file path), creating the file when missing.
pub(super) async fn pool(url: &str) -> Result<SqlitePool, StorageError> {
    let opts = if url.starts_with("sqlite:") {
        SqliteConnectOptions::from_str(url)?
    } else {
        SqliteConnectOptions::new().filename(url)
    };
    let opts = opts
        .create_if_missing(true)
        .journal_mode(SqliteJournalMode::Wal)
        .synchronous(SqliteSynchronous::Full)
        // Checkpoints run in the background (checkpoint.rs), not inside
        // whichever commit happens to cross the threshold.
        .pragma("wal_autocheckpoint", "0")
        .busy_timeout(BUSY_TIMEOUT)
        .foreign_keys(true);
    let marked = Marked::default();
    let pool = SqlitePoolOptions::new()
        .max_connections(4)
        // Only writable connections outside any transaction are reused.
        .after_connect({
            let marked = marked.clone();
            move |conn, _| {
                let marked = marked.clone();
                Box::pin(async move { probe_new(conn, BUSY_TIMEOUT.as_millis(), &marked).await })
            }
        })
        .after_release(move |conn, _| {
            let marked = marked.clone();
            Box::pin(async move { reusable(conn, &marked).await })
        })
        .connect_with(opts)
        .await?;
    Ok(pool)
}

/// The mark's name in the connection's `temp` schema.
const READ_ONLY_MARK: &str = "trustroom_opened_read_only";

/// How many marked connections may still be in the pool. While none (the
/// usual case) handing a connection back costs no query.
#[derive(Clone, Debug, Default)]
pub(super) struct Marked(Arc<AtomicUsize>);

/// Whether a connection handed back to the pool may be reused.
pub(super) async fn reusable(conn: &mut SqliteConnection, marked: &Marked) -> Result<bool, sqlx::Error> {
    if sqlx::Connection::is_in_transaction(conn) {
        tracing::warn!("closing a SQLite connection that is still inside a transaction");
        return Ok(false);
    }
    if marked.0.load(Ordering::Acquire) > 0 && is_marked_read_only(conn).await? {
        tracing::warn!("closing a SQLite connection that could not write when it was opened");
        let _ = marked.0.fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| n.checked_sub(1));
        return Ok(false);
    }
    Ok(true)
}

/// Probes a new connection: can it write? A schema change in a transaction
/// that is rolled back (nothing reaches the files); `BEGIN IMMEDIATE`
/// alone succeeds on a read-only connection. Never waits for the write
/// lock: busy timeout 0 during the probe, and a busy answer counts as
/// writable (the committer still moves past a read-only connection). Any
/// other failure marks the connection: it serves until it is handed back.
pub(super) async fn probe_new(
    conn: &mut SqliteConnection,
    busy_timeout_ms: u128,
    marked: &Marked,
) -> Result<(), sqlx::Error> {
    sqlx::query("PRAGMA busy_timeout = 0").execute(&mut *conn).await?;
    let refused = match sqlx::query("BEGIN IMMEDIATE").execute(&mut *conn).await {
        Ok(_) => {
            let wrote = sqlx::query("CREATE TABLE main.trustroom_write_probe (x)").execute(&mut *conn).await;
            sqlx::query("ROLLBACK").execute(&mut *conn).await?;
            wrote.err()
        }
        Err(e) => Some(e),
    };
    if let Some(e) = refused.filter(|e| !is_busy(e)) {
        tracing::warn!("a new SQLite connection cannot write ({e}); it is closed when handed back");
        sqlx::query(&format!("CREATE TEMP TABLE IF NOT EXISTS {READ_ONLY_MARK} (x)")).execute(&mut *conn).await?;
        marked.0.fetch_add(1, Ordering::AcqRel);
    }
    sqlx::query(&format!("PRAGMA busy_timeout = {busy_timeout_ms}")).execute(&mut *conn).await?;
    Ok(())
}

/// SQLite's primary result code of an error (sqlx reports the extended
/// code, e.g. 778 for `SQLITE_IOERR_WRITE`; its low byte is the primary).
fn primary_code(e: &sqlx::Error) -> Option<i64> {
    match e {
        sqlx::Error::Database(db) => db.code().and_then(|c| c.parse::<i64>().ok()).map(|c| c & 0xff),
        _ => None,
    }
}

/// `SQLITE_BUSY` or `SQLITE_LOCKED`: another connection holds the lock,
/// which says nothing about this one.
fn is_busy(e: &sqlx::Error) -> bool {
    matches!(primary_code(e), Some(5 | 6))
}

/// `SQLITE_READONLY` in any of its extended forms: this connection cannot
/// write (see the module comment).
pub(super) fn is_read_only(e: &sqlx::Error) -> bool {
    primary_code(e) == Some(8)
}

async fn is_marked_read_only(conn: &mut SqliteConnection) -> Result<bool, sqlx::Error> {
    let found: Option<i64> = sqlx::query_scalar("SELECT 1 FROM temp.sqlite_master WHERE name = ?")
        .bind(READ_ONLY_MARK)
        .fetch_optional(&mut *conn)
        .await?;
    Ok(found.is_some())
}

#[cfg(test)]
mod tests {
    use std::str::FromStr;

    use sqlx::ConnectOptions;
    use sqlx::sqlite::SqliteConnectOptions;

    use super::*;

    async fn open(path: &std::path::Path, read_only: bool) -> anyhow::Result<SqliteConnection> {
        let opts = SqliteConnectOptions::from_str(&format!("sqlite://{}", path.display()))?
            .create_if_missing(!read_only)
            .read_only(read_only)
            .journal_mode(sqlx::sqlite::SqliteJournalMode::Wal);
        Ok(opts.connect().await?)
    }

    #[tokio::test]
    async fn a_read_only_connection_is_marked_and_not_reused_a_writable_one_is() -> anyhow::Result<()> {
        let dir = tempfile::tempdir()?;
        let path = dir.path().join("t.db");
        let mut writable = open(&path, false).await?;
        sqlx::query("CREATE TABLE t (x)").execute(&mut writable).await?;
        let marked = Marked::default();
        probe_new(&mut writable, 5_000, &marked).await?;
        assert!(reusable(&mut writable, &marked).await?);
        // The probe leaves no transaction open and restores the timeout.
        sqlx::query("INSERT INTO t VALUES (1)").execute(&mut writable).await?;
        let timeout: i64 = sqlx::query_scalar("PRAGMA busy_timeout").fetch_one(&mut writable).await?;
        assert_eq!(timeout, 5_000);

        let mut read_only = open(&path, true).await?;
        probe_new(&mut read_only, 5_000, &marked).await?;
        assert_eq!(marked.0.load(Ordering::Acquire), 1);
        assert!(!reusable(&mut read_only, &marked).await?);
        assert_eq!(marked.0.load(Ordering::Acquire), 0);
        // It still reads.
        let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM t").fetch_one(&mut read_only).await?;
        assert_eq!(n, 1);
        Ok(())
    }

    #[tokio::test]
    async fn the_probe_does_not_wait_for_a_held_write_lock() -> anyhow::Result<()> {
        let dir = tempfile::tempdir()?;
        let path = dir.path().join("t.db");
        let mut holder = open(&path, false).await?;
        sqlx::query("CREATE TABLE t (x)").execute(&mut holder).await?;
        sqlx::query("BEGIN IMMEDIATE").execute(&mut holder).await?;
        let mut other = open(&path, false).await?;
        // Busy (not read-only): writable, not marked, and it returns at once
        // (a 60 s busy timeout would hang the test if the probe waited).
        sqlx::query("PRAGMA busy_timeout = 60000").execute(&mut other).await?;
        let marked = Marked::default();
        probe_new(&mut other, 60_000, &marked).await?;
        assert_eq!(marked.0.load(Ordering::Acquire), 0);
        assert!(reusable(&mut other, &marked).await?);
        sqlx::query("ROLLBACK").execute(&mut holder).await?;
        Ok(())
    }

    #[tokio::test]
    async fn a_connection_left_inside_a_transaction_is_not_reused() -> anyhow::Result<()> {
        let dir = tempfile::tempdir()?;
        let mut conn = open(&dir.path().join("t.db"), false).await?;
        let tx = sqlx::Connection::begin(&mut conn).await?;
        std::mem::forget(tx);
        assert!(!reusable(&mut conn, &Marked::default()).await?);
        Ok(())
    }
}

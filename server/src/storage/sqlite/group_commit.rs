//! Group commit across rooms on SQLite. Each room already batches its own
//! changes into one commit; with many busy rooms, though, every room's
//! commit was its own transaction and its own `fsync`, and the rooms
//! queued on SQLite's single write lock (its busy handler sleeps between
//! retries, which showed as tens to hundreds of milliseconds at 100 rooms).
//! Here one task owns the writing: it takes every commit queued while the
//! previous transaction was being written, writes them all in one
//! transaction — one `fsync` for all of them — and answers each.
//!
//! All or nothing per room batch is kept: when the shared transaction fails
//! (a constraint, a full disk…), nothing of it was stored, and each batch is
//! retried alone in its own transaction so each gets its own answer.

use sqlx::SqlitePool;
use tokio::sync::{mpsc, oneshot};
use trustroom_shared::RoomId;

use super::write::write_batch;
use crate::storage::{CommitBatch, StorageError, StorageResult};

/// Most room batches written in one transaction.
const MAX_GROUP: usize = 256;

pub(super) struct Job {
    pub room: RoomId,
    pub batch: CommitBatch,
    pub done: oneshot::Sender<StorageResult<()>>,
}

/// The committer's queue; the task ends when every sender is gone.
pub(super) fn spawn(pool: SqlitePool) -> mpsc::Sender<Job> {
    let (tx, rx) = mpsc::channel(1024);
    tokio::spawn(run(pool, rx));
    tx
}

async fn run(pool: SqlitePool, mut rx: mpsc::Receiver<Job>) {
    let mut group = Vec::with_capacity(MAX_GROUP);
    while let Some(first) = rx.recv().await {
        group.push(first);
        while group.len() < MAX_GROUP {
            match rx.try_recv() {
                Ok(job) => group.push(job),
                Err(_) => break,
            }
        }
        if group.len() == 1 || together(&pool, &group).await.is_err() {
            // Alone, or the shared transaction failed and stored nothing:
            // one transaction per batch, each with its own answer.
            for job in group.drain(..) {
                let result = alone(&pool, job.room, &job.batch).await;
                let _ = job.done.send(result);
            }
        } else {
            for job in group.drain(..) {
                let _ = job.done.send(Ok(()));
            }
        }
    }
}

async fn together(pool: &SqlitePool, group: &[Job]) -> StorageResult<()> {
    let jobs: Vec<(RoomId, &CommitBatch)> = group.iter().map(|j| (j.room, &j.batch)).collect();
    write(pool, &jobs).await
}

async fn alone(pool: &SqlitePool, room: RoomId, batch: &CommitBatch) -> StorageResult<()> {
    write(pool, &[(room, batch)]).await
}

/// How many pooled connections a write may go through before it gives up
/// on unusable ones (the pool holds four).
const CONNECTION_RETRIES: usize = 5;

/// Writes room batches in one transaction.
///
/// A connection on which a write failed is closed, never handed back to the
/// pool: after a failed `COMMIT` (an I/O error, a full disk) SQLite may keep
/// the transaction open while sqlx counts it as rolled back or the other way
/// round, and the next "transaction" on that connection became a savepoint
/// inside the old one: acknowledged, never committed, holding the write lock
/// (found by the read-only storage-fault test). Closing the connection rolls
/// back whatever SQLite still holds.
///
/// The write moves on to the next connection when this one could not even
/// start a transaction: SQLite opened it read-only (it does so silently
/// when the files could not be opened for writing at that moment, and it
/// stays read-only after the fault clears) or it is still inside one.
async fn write(pool: &SqlitePool, jobs: &[(RoomId, &CommitBatch)]) -> StorageResult<()> {
    let mut attempt = 0;
    loop {
        attempt += 1;
        let mut conn = pool.acquire().await?;
        match write_on(&mut conn, jobs).await {
            Ok(()) => return Ok(()),
            Err(e) => {
                let _ = conn.close().await;
                if attempt < CONNECTION_RETRIES && connection_unusable(&e) {
                    tracing::warn!("SQLite connection unusable for writing ({e}); closed it, trying another");
                    continue;
                }
                return Err(e);
            }
        }
    }
}

async fn write_on(conn: &mut sqlx::SqliteConnection, jobs: &[(RoomId, &CommitBatch)]) -> StorageResult<()> {
    // IMMEDIATE: the write lock from the start (no upgrade from a read
    // lock half-way); and sqlx refuses a custom BEGIN inside a transaction
    // it still counts as open instead of quietly nesting a savepoint.
    let mut tx = sqlx::Connection::begin_with(conn, "BEGIN IMMEDIATE").await?;
    for (room, batch) in jobs {
        write_batch(&mut tx, *room, batch).await?;
    }
    tx.commit().await?;
    Ok(())
}

/// The connection cannot write, whatever the database's state: opened
/// read-only (`SQLITE_READONLY`, any extended form), or inside a
/// transaction already (sqlx or SQLite says so at `BEGIN`).
fn connection_unusable(e: &StorageError) -> bool {
    match e {
        StorageError::Database(sqlx::Error::InvalidSavePointStatement) => true,
        StorageError::Database(e @ sqlx::Error::Database(db)) => {
            super::connection::is_read_only(e) || db.message().contains("within a transaction")
        }
        _ => false,
    }
}

/// Hands a batch to the committer and waits for its answer.
pub(super) async fn commit(queue: &mpsc::Sender<Job>, room: RoomId, batch: &CommitBatch) -> StorageResult<()> {
    let (done, answer) = oneshot::channel();
    let job = Job { room, batch: batch.clone(), done };
    if queue.send(job).await.is_err() {
        return Err(StorageError::Conflict("the SQLite committer has stopped".into()));
    }
    answer.await.map_err(|_| StorageError::Conflict("the SQLite committer has stopped".into()))?
}

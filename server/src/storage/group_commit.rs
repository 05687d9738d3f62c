//! Group commit across rooms for SQLite. Each room already batches its own
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

use super::sqlite::write_batch;
use super::{CommitBatch, StorageError, StorageResult};

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
    let mut tx = pool.begin().await?;
    for job in group {
        write_batch(&mut tx, job.room, &job.batch).await?;
    }
    tx.commit().await?;
    Ok(())
}

async fn alone(pool: &SqlitePool, room: RoomId, batch: &CommitBatch) -> StorageResult<()> {
    let mut tx = pool.begin().await?;
    write_batch(&mut tx, room, batch).await?;
    tx.commit().await?;
    Ok(())
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

//! A commit batch written on SQLite, one row a statement, inside the
//! caller's transaction (the group commit writes many batches in one).

use sqlx::{Sqlite, SqliteConnection};
use trustroom_shared::RoomId;
use trustroom_shared::audit::AuditEntry;

use crate::storage::batch::write_shared;
use crate::storage::rows::{big, json};
use crate::storage::{CommitBatch, StorageResult};

/// Writes one batch: its revisions, audit entries and manifests, then the
/// memberships and snapshot as both backends do (`storage::batch`).
pub(super) async fn write_batch(tx: &mut SqliteConnection, room: RoomId, batch: &CommitBatch) -> StorageResult<()> {
    let room_s = room.to_string();
    for rev in &batch.revisions {
        sqlx::query(
            "INSERT INTO revisions (room_id, revision, author, at_ms, client_id, client_seq, kind, body)
             VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(&room_s)
        .bind(big(rev.revision))
        .bind(rev.author.to_string())
        .bind(rev.at_ms)
        .bind(rev.client.map(|c| c.client.to_string()))
        .bind(rev.client.map(|c| big(c.seq)))
        .bind(rev.change.kind_name())
        .bind(json(rev)?)
        .execute(&mut *tx)
        .await?;
    }
    insert_audit(tx, &batch.audit).await?;
    for m in &batch.manifests {
        let body = &m.manifest.body;
        sqlx::query(
            "INSERT INTO manifests (room_id, release_revision, revision, content_hash, lane, manifest_hash, released_ms, record)
             VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(&room_s)
        .bind(big(m.event.release_revision))
        .bind(big(body.revision))
        .bind(&body.content_hash)
        .bind(body.lane.to_string())
        .bind(&m.manifest.manifest_hash)
        .bind(m.event.released_at_ms)
        .bind(json(m)?)
        .execute(&mut *tx)
        .await?;
    }
    write_shared::<Sqlite>(tx, &room_s, batch).await?;
    Ok(())
}

/// Appends audit entries in storage order (`rowid`).
pub(super) async fn insert_audit(tx: &mut SqliteConnection, entries: &[AuditEntry]) -> StorageResult<()> {
    for e in entries {
        sqlx::query(
            "INSERT INTO audit (chain, seq, at_ms, actor, kind, revision, detail, prev_hash, hash)
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(&e.room)
        .bind(big(e.seq))
        .bind(e.at_ms)
        .bind(&e.actor)
        .bind(&e.kind)
        .bind(big(e.revision))
        .bind(json(&e.detail)?)
        .bind(&e.prev_hash)
        .bind(&e.hash)
        .execute(&mut *tx)
        .await?;
    }
    Ok(())
}

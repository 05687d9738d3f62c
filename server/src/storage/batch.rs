//! The parts of a commit batch both backends write with the same
//! statements, inside the backend's transaction: the `memberships` rows
//! (who is in which room with which role, what `rooms_for_user` reads),
//! which follow the log's member changes, and the snapshot.

use sqlx::{Database, Encode, Executor, IntoArguments, Type};
use trustroom_shared::change::Change;

use super::rows::{big, json};
use super::{CommitBatch, StorageResult};

/// Applies the batch's member changes, in revision order, to `room`'s
/// memberships, and stores its snapshot (if any).
pub(super) async fn write_shared<DB>(conn: &mut DB::Connection, room: &str, batch: &CommitBatch) -> StorageResult<()>
where
    DB: Database,
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
    for<'q> DB::Arguments<'q>: IntoArguments<'q, DB>,
    for<'q> &'q str: Encode<'q, DB> + Type<DB>,
    for<'q> String: Encode<'q, DB> + Type<DB>,
    for<'q> i64: Encode<'q, DB> + Type<DB>,
{
    for rev in &batch.revisions {
        match &rev.change {
            Change::MemberAdded { member } => {
                sqlx::query(
                    "INSERT INTO memberships (room_id, user_id, role) VALUES ($1, $2, $3)
                     ON CONFLICT (room_id, user_id) DO UPDATE SET role = excluded.role",
                )
                .bind(room)
                .bind(member.user.to_string())
                .bind(member.role.label())
                .execute(&mut *conn)
                .await?;
            }
            Change::MemberRemoved { user } => {
                sqlx::query("DELETE FROM memberships WHERE room_id = $1 AND user_id = $2")
                    .bind(room)
                    .bind(user.to_string())
                    .execute(&mut *conn)
                    .await?;
            }
            _ => {}
        }
    }
    if let Some(state) = &batch.snapshot {
        sqlx::query(
            "INSERT INTO snapshots (room_id, revision, state) VALUES ($1, $2, $3)
             ON CONFLICT (room_id, revision) DO UPDATE SET state = excluded.state",
        )
        .bind(room)
        .bind(big(state.revision))
        .bind(json(state)?)
        .execute(&mut *conn)
        .await?;
    }
    Ok(())
}

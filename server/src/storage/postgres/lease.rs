//! Leases on PostgreSQL: one `room_leases` row per room
//! (migrations/postgres/0100_room_leases.sql), times on the database's
//! clock. Acquisition locks the row (`FOR UPDATE`) and applies
//! [`decide`]; a commit checks its [`Fence`] under the same row lock in
//! its own transaction ([`check_fence`]), so a takeover and a late commit
//! of the old owner are serialized: either the commit lands first (and the
//! new owner loads it), or it is refused.

use async_trait::async_trait;
use sqlx::{PgConnection, Row};
use trustroom_shared::RoomId;

use super::PgStore;
use crate::storage::lease::{Acquired, Fence, Lease, LeaseDecision, LeaseRow, Leases, decide, fence_holds};
use crate::storage::{StorageError, StorageResult};

/// Lease columns, with expiry and remaining time on the database's clock.
const LEASE_COLUMNS: &str = "node_id, node_url, epoch, expires_at <= clock_timestamp() AS expired,
     (EXTRACT(EPOCH FROM (expires_at - clock_timestamp())) * 1000)::BIGINT AS remaining_ms";

fn lease_from_row(room: RoomId, row: &sqlx::postgres::PgRow) -> StorageResult<(Lease, bool)> {
    let lease = Lease {
        room,
        node: row.try_get("node_id")?,
        url: row.try_get("node_url")?,
        epoch: row.try_get("epoch")?,
        remaining_ms: row.try_get("remaining_ms")?,
    };
    Ok((lease, row.try_get("expired")?))
}

async fn locked_row(conn: &mut PgConnection, room: RoomId) -> StorageResult<Option<(Lease, bool)>> {
    let row = sqlx::query(&format!("SELECT {LEASE_COLUMNS} FROM room_leases WHERE room_id = $1 FOR UPDATE"))
        .bind(room.to_string())
        .fetch_optional(&mut *conn)
        .await?;
    row.as_ref().map(|r| lease_from_row(room, r)).transpose()
}

/// Refuses (with [`StorageError::Fenced`]) a commit whose fence is no longer
/// the room's current lease. Call it first inside the commit transaction:
/// it holds the lease row locked until that transaction ends.
pub(super) async fn check_fence(conn: &mut PgConnection, room: RoomId, fence: &Fence) -> StorageResult<()> {
    let current = locked_row(conn, room).await?;
    let row = current.as_ref().map(|(l, expired)| LeaseRow { node: l.node.clone(), epoch: l.epoch, expired: *expired });
    if fence_holds(row.as_ref(), fence) {
        return Ok(());
    }
    let now = match current {
        Some((l, _)) => format!("node {} at epoch {}", l.node, l.epoch),
        None => "no node".to_string(),
    };
    Err(StorageError::Fenced(format!(
        "room {room}: node {} no longer holds the lease at epoch {} ({now} does)",
        fence.node, fence.epoch
    )))
}

#[async_trait]
impl Leases for PgStore {
    fn shared_by_nodes(&self) -> bool {
        true
    }

    async fn acquire_lease(&self, room: RoomId, node: &str, url: &str, duration_ms: i64) -> StorageResult<Acquired> {
        let mut tx = self.pool().begin().await?;
        let room_s = room.to_string();
        // A placeholder row (expired long ago, epoch 0) so there is always
        // a row to lock, even for two nodes racing on a fresh room.
        sqlx::query(
            "INSERT INTO room_leases (room_id, node_id, node_url, epoch, expires_at)
             VALUES ($1, '', '', 0, 'epoch') ON CONFLICT (room_id) DO NOTHING",
        )
        .bind(&room_s)
        .execute(&mut *tx)
        .await?;
        let current = locked_row(&mut tx, room).await?;
        let row =
            current.as_ref().map(|(l, expired)| LeaseRow { node: l.node.clone(), epoch: l.epoch, expired: *expired });
        let answer = match decide(row.as_ref(), node) {
            LeaseDecision::Take { epoch } => {
                sqlx::query(
                    "UPDATE room_leases SET node_id = $2, node_url = $3, epoch = $4,
                         expires_at = clock_timestamp() + make_interval(secs => $5::float8 / 1000)
                     WHERE room_id = $1",
                )
                .bind(&room_s)
                .bind(node)
                .bind(url)
                .bind(epoch)
                .bind(duration_ms as f64)
                .execute(&mut *tx)
                .await?;
                Acquired::Granted(Lease {
                    room,
                    node: node.to_string(),
                    url: url.to_string(),
                    epoch,
                    remaining_ms: duration_ms,
                })
            }
            LeaseDecision::Refuse => {
                let (lease, _) =
                    current.ok_or_else(|| StorageError::Corrupt("lease row vanished under lock".into()))?;
                Acquired::HeldBy(lease)
            }
        };
        tx.commit().await?;
        Ok(answer)
    }

    async fn renew_leases(&self, node: &str, held: &[(RoomId, i64)], duration_ms: i64) -> StorageResult<Vec<RoomId>> {
        if held.is_empty() {
            return Ok(Vec::new());
        }
        let rooms: Vec<String> = held.iter().map(|(r, _)| r.to_string()).collect();
        let epochs: Vec<i64> = held.iter().map(|(_, e)| *e).collect();
        let renewed = sqlx::query(
            "UPDATE room_leases AS l SET expires_at = clock_timestamp() + make_interval(secs => $4::float8 / 1000)
             FROM UNNEST($2::text[], $3::bigint[]) AS h(room_id, epoch)
             WHERE l.room_id = h.room_id AND l.epoch = h.epoch AND l.node_id = $1
             RETURNING l.room_id",
        )
        .bind(node)
        .bind(&rooms)
        .bind(&epochs)
        .bind(duration_ms as f64)
        .fetch_all(self.pool())
        .await?;
        let renewed: Vec<String> =
            renewed.iter().map(|r| r.try_get::<String, _>("room_id")).collect::<Result<_, _>>()?;
        Ok(held.iter().filter(|(r, _)| !renewed.contains(&r.to_string())).map(|(r, _)| *r).collect())
    }

    async fn release_lease(&self, room: RoomId, node: &str, epoch: i64) -> StorageResult<()> {
        sqlx::query("UPDATE room_leases SET expires_at = 'epoch' WHERE room_id = $1 AND node_id = $2 AND epoch = $3")
            .bind(room.to_string())
            .bind(node)
            .bind(epoch)
            .execute(self.pool())
            .await?;
        Ok(())
    }

    async fn lease_of(&self, room: RoomId) -> StorageResult<Option<Lease>> {
        let row = sqlx::query(&format!("SELECT {LEASE_COLUMNS} FROM room_leases WHERE room_id = $1"))
            .bind(room.to_string())
            .fetch_optional(self.pool())
            .await?;
        Ok(row.as_ref().map(|r| lease_from_row(room, r)).transpose()?.map(|(l, _)| l))
    }
}

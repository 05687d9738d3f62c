//! Leases on SQLite: one server process owns the database file and so every
//! room. The lease is always granted (epoch 0), never lost, and fences are
//! not checked: SQLite behaves exactly as it did before leases existed.

use async_trait::async_trait;
use trustroom_shared::RoomId;

use super::SqliteStore;
use crate::storage::{Acquired, Lease, Leases, StorageResult};

#[async_trait]
impl Leases for SqliteStore {
    fn shared_by_nodes(&self) -> bool {
        false
    }

    async fn acquire_lease(&self, room: RoomId, node: &str, url: &str, duration_ms: i64) -> StorageResult<Acquired> {
        Ok(Acquired::Granted(Lease {
            room,
            node: node.to_string(),
            url: url.to_string(),
            epoch: 0,
            remaining_ms: duration_ms,
        }))
    }

    async fn renew_leases(
        &self,
        _node: &str,
        _held: &[(RoomId, i64)],
        _duration_ms: i64,
    ) -> StorageResult<Vec<RoomId>> {
        Ok(Vec::new())
    }

    async fn release_lease(&self, _room: RoomId, _node: &str, _epoch: i64) -> StorageResult<()> {
        Ok(())
    }

    async fn lease_of(&self, _room: RoomId) -> StorageResult<Option<Lease>> {
        Ok(None)
    }
}

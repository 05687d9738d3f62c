//! Connections to PostgreSQL: one pool per process, sized for the room
//! actors committing concurrently.

use std::str::FromStr;
use std::time::Duration;

use sqlx::PgPool;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};

use crate::storage::StorageError;

/// Connections per process: the room actors commit concurrently, one
/// connection each at a time; the rest serve handshakes and admin reads.
const MAX_CONNECTIONS: u32 = 8;

/// Connects (`postgres://` or `postgresql://` URL) without migrating.
pub(super) async fn pool(url: &str) -> Result<PgPool, StorageError> {
    let opts = PgConnectOptions::from_str(url)?.application_name("trustroom-server");
    let pool = PgPoolOptions::new()
        .max_connections(MAX_CONNECTIONS)
        // No ping round trip before every commit: a dead connection
        // fails its query (`unavailable`) and the pool replaces it.
        .test_before_acquire(false)
        // A database that does not answer within this is `unavailable`
        // (StorageError::is_unavailable), not a hang.
        .acquire_timeout(Duration::from_secs(5))
        .connect_with(opts)
        .await?;
    Ok(pool)
}

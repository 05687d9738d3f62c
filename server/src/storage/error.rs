//! What storage can fail with, and which failures mean "not now" (the
//! room keeps serving reads and answers changes with `unavailable`).

/// Storage failures.
#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    #[error("migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("stored data is corrupt: {0}")]
    Corrupt(String),
    #[error("{0}")]
    Conflict(String),
    /// A commit carried a lease epoch that is no longer the room's current
    /// one: another node owns the room now (storage/lease.rs).
    #[error("lease lost: {0}")]
    Fenced(String),
}

impl StorageError {
    /// True when the database refuses writes for now (locked, read-only,
    /// full, unreachable): the room keeps serving reads and refuses changes
    /// with `unavailable` instead of `internal`.
    pub fn is_unavailable(&self) -> bool {
        match self {
            StorageError::Database(sqlx::Error::Database(db)) => {
                match db.try_downcast_ref::<sqlx::postgres::PgDatabaseError>() {
                    Some(pg) => pg_code_is_unavailable(pg.code()),
                    None => {
                        let msg = db.message().to_lowercase();
                        msg.contains("locked")
                            || msg.contains("readonly")
                            || msg.contains("read-only")
                            || msg.contains("full")
                            || msg.contains("disk i/o")
                    }
                }
            }
            StorageError::Database(
                sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed | sqlx::Error::Io(_) | sqlx::Error::Tls(_),
            ) => true,
            _ => false,
        }
    }
}

/// PostgreSQL SQLSTATEs that mean "not now" rather than "wrong": lost or
/// refused connections (class 08), insufficient resources such as a full
/// disk or too many connections (53), the server shutting down or starting
/// (57P01-57P03), a read-only standby or transaction (25006), lock and
/// serialization conflicts (55P03, 40001, 40P01) and I/O errors (58030).
fn pg_code_is_unavailable(code: &str) -> bool {
    code.starts_with("08")
        || code.starts_with("53")
        || matches!(code, "57P01" | "57P02" | "57P03" | "25006" | "55P03" | "40001" | "40P01" | "58030")
}

pub type StorageResult<T> = Result<T, StorageError>;

/// A failed insert of the user `name`: a taken name is a [`StorageError::Conflict`].
pub(super) fn user_insert_error(e: sqlx::Error, name: &str) -> StorageError {
    match &e {
        sqlx::Error::Database(db) if db.is_unique_violation() => {
            StorageError::Conflict(format!("a user named {name:?} already exists"))
        }
        _ => e.into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn postgres_codes_that_mean_not_now_are_unavailable() {
        for code in ["08006", "08001", "53100", "53300", "57P01", "57P03", "25006", "40001", "40P01"] {
            assert!(pg_code_is_unavailable(code), "{code}");
        }
        // Constraint violations and syntax errors are bugs or bad input, not outages.
        for code in ["23505", "23503", "42601", "42P01", "22P02"] {
            assert!(!pg_code_is_unavailable(code), "{code}");
        }
    }
}

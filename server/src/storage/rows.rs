//! Stored rows to records, once for both backends. Each backend runs its
//! own SQL; whatever row comes back (a `SqliteRow` or a `PgRow`) is decoded
//! here, by column name. JSON is stored as TEXT with the same bytes in both
//! databases (hashes and the audit chain depend on them), so its encoding
//! lives here too.

use std::str::FromStr;

use sqlx::{ColumnIndex, Decode, Row, Type};
use trustroom_shared::ClientId;
use trustroom_shared::audit::AuditEntry;
use trustroom_shared::change::Revision;
use trustroom_shared::manifest::ManifestRecord;
use trustroom_shared::room::RoomState;

use super::{KeyRecord, QueuedAdmin, RoomRecord, StorageError, StorageResult, UserRecord};

/// A stored row's columns by name, as text and integers: all the decoding
/// below needs, and what every backend's row offers.
pub(super) trait Columns {
    fn text(&self, column: &str) -> StorageResult<&str>;
    fn int(&self, column: &str) -> StorageResult<i64>;
    fn maybe_int(&self, column: &str) -> StorageResult<Option<i64>>;
    fn maybe_text(&self, column: &str) -> StorageResult<Option<&str>>;
}

impl<R> Columns for R
where
    R: Row,
    for<'c> &'c str: ColumnIndex<R>,
    for<'r> &'r str: Decode<'r, R::Database> + Type<R::Database>,
    for<'r> i64: Decode<'r, R::Database> + Type<R::Database>,
{
    fn text(&self, column: &str) -> StorageResult<&str> {
        Ok(self.try_get(column)?)
    }

    fn int(&self, column: &str) -> StorageResult<i64> {
        Ok(self.try_get(column)?)
    }

    fn maybe_int(&self, column: &str) -> StorageResult<Option<i64>> {
        Ok(self.try_get(column)?)
    }

    fn maybe_text(&self, column: &str) -> StorageResult<Option<&str>> {
        Ok(self.try_get(column)?)
    }
}

fn parse<T: FromStr>(s: &str, what: &str) -> StorageResult<T> {
    s.parse().map_err(|_| StorageError::Corrupt(format!("bad {what}: {s:?}")))
}

fn from_json<T: serde::de::DeserializeOwned>(text: &str, what: &str) -> StorageResult<T> {
    serde_json::from_str(text).map_err(|e| StorageError::Corrupt(format!("{what}: {e}")))
}

/// A value as the JSON text both backends store.
pub(super) fn json<T: serde::Serialize>(v: &T) -> StorageResult<String> {
    serde_json::to_string(v).map_err(|e| StorageError::Corrupt(format!("encode: {e}")))
}

/// A position (revision, seq) as the signed 64-bit integer both databases
/// store; positions never reach 2^63, bounds such as `u64::MAX` clamp.
pub(super) fn big(v: u64) -> i64 {
    v.min(i64::MAX as u64) as i64
}

/// A stored non-negative integer back to a position.
fn position(row: &impl Columns, column: &str) -> StorageResult<u64> {
    Ok(row.int(column)? as u64)
}

/// A `users` row.
pub(super) fn user(row: &impl Columns) -> StorageResult<UserRecord> {
    Ok(UserRecord {
        id: parse(row.text("id")?, "user id")?,
        name: row.text("name")?.to_string(),
        token_hash: row.text("token_hash")?.to_string(),
        created_ms: row.int("created_ms")?,
        revoked_ms: row.maybe_int("revoked_ms")?,
    })
}

/// A `rooms` row.
pub(super) fn room(row: &impl Columns) -> StorageResult<RoomRecord> {
    Ok(RoomRecord {
        id: parse(row.text("id")?, "room id")?,
        title: row.text("title")?.to_string(),
        created_ms: row.int("created_ms")?,
    })
}

/// A `rooms` row joined with the member's `role`.
pub(super) fn room_with_role(row: &impl Columns) -> StorageResult<(RoomRecord, String)> {
    Ok((room(row)?, row.text("role")?.to_string()))
}

/// An `audit` row.
pub(super) fn audit_entry(row: &impl Columns) -> StorageResult<AuditEntry> {
    Ok(AuditEntry {
        seq: position(row, "seq")?,
        room: row.text("chain")?.to_string(),
        at_ms: row.int("at_ms")?,
        actor: row.text("actor")?.to_string(),
        kind: row.text("kind")?.to_string(),
        revision: position(row, "revision")?,
        detail: from_json(row.text("detail")?, "audit detail")?,
        prev_hash: row.text("prev_hash")?.to_string(),
        hash: row.text("hash")?.to_string(),
    })
}

/// The (seq, hash) of a chain's newest audit row.
pub(super) fn audit_head(row: &impl Columns) -> StorageResult<(u64, String)> {
    Ok((position(row, "seq")?, row.text("hash")?.to_string()))
}

/// A stored change: the `body` of a `revisions` row. The one place a
/// revision read back from storage is decoded.
pub(super) fn revision(row: &impl Columns) -> StorageResult<Revision> {
    from_json(row.text("body")?, "revision body")
}

/// The room state of a `snapshots` row.
pub(super) fn snapshot(row: &impl Columns) -> StorageResult<RoomState> {
    from_json(row.text("state")?, "snapshot")
}

/// The `record` of a `manifests` row.
pub(super) fn manifest(row: &impl Columns) -> StorageResult<ManifestRecord> {
    from_json(row.text("record")?, "manifest record")
}

/// A `server_keys` row.
pub(super) fn key(row: &impl Columns) -> StorageResult<KeyRecord> {
    Ok(KeyRecord {
        name: row.text("name")?.to_string(),
        algorithm: row.text("algorithm")?.to_string(),
        public_key: row.text("public_key")?.to_string(),
        secret_key: row.text("secret_key")?.to_string(),
        created_ms: row.int("created_ms")?,
    })
}

/// An `admin_queue` row still to run.
pub(super) fn queued_admin(row: &impl Columns) -> StorageResult<QueuedAdmin> {
    Ok(QueuedAdmin {
        id: row.int("id")?,
        room: parse(row.text("room_id")?, "room id")?,
        command: row.text("command")?.to_string(),
    })
}

/// The `id` of an `admin_queue` row.
pub(super) fn queue_id(row: &impl Columns) -> StorageResult<i64> {
    row.int("id")
}

/// The result of a finished `admin_queue` row (none while it runs).
pub(super) fn admin_result(row: &impl Columns) -> StorageResult<Option<String>> {
    Ok(row.maybe_text("result")?.map(str::to_string))
}

/// The `revision` a `revisions` row was stored at.
pub(super) fn revision_number(row: &impl Columns) -> StorageResult<u64> {
    position(row, "revision")
}

/// The newest heartbeat `hb` of `server_nodes` (none when no node beats).
pub(super) fn latest_heartbeat(row: &impl Columns) -> StorageResult<Option<i64>> {
    row.maybe_int("hb")
}

/// A client's highest applied request: `client_id` and its `seq`.
pub(super) fn client_seq(row: &impl Columns) -> StorageResult<(ClientId, u64)> {
    Ok((parse(row.text("client_id")?, "client id")?, position(row, "seq")?))
}

/// Applies `decode` to an optional row.
pub(super) fn optional<R, T>(row: Option<R>, decode: fn(&R) -> StorageResult<T>) -> StorageResult<Option<T>> {
    row.as_ref().map(decode).transpose()
}

/// Applies `decode` to every row.
pub(super) fn all<R, T>(rows: &[R], decode: fn(&R) -> StorageResult<T>) -> StorageResult<Vec<T>> {
    rows.iter().map(decode).collect()
}

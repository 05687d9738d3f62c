-- Release workflow: the server's signing key and the manifest history
-- (mirrors migrations/sqlite/0002_release.sql).

-- The server's Ed25519 key, generated on first start (or first release).
-- The secret key is stored here in hex: protect the database (and its
-- backups and replicas).
CREATE TABLE server_keys (
    name        TEXT PRIMARY KEY,
    algorithm   TEXT NOT NULL,
    public_key  TEXT NOT NULL,
    secret_key  TEXT NOT NULL,
    created_ms  BIGINT NOT NULL
);

-- Every release: the signed manifest and the signed release event, written
-- in the same transaction as the `release_changed` revision.
CREATE TABLE manifests (
    room_id           TEXT NOT NULL REFERENCES rooms(id),
    release_revision  BIGINT NOT NULL,
    revision          BIGINT NOT NULL,
    content_hash      TEXT NOT NULL,
    lane              TEXT NOT NULL,
    manifest_hash     TEXT NOT NULL,
    released_ms       BIGINT NOT NULL,
    record            TEXT NOT NULL,
    PRIMARY KEY (room_id, release_revision)
);
CREATE INDEX manifests_revision ON manifests (room_id, revision);

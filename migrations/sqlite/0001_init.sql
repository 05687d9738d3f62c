-- Trustroom schema (SQLite). Portable SQL except AUTOINCREMENT.

CREATE TABLE users (
    id          TEXT PRIMARY KEY,
    name        TEXT NOT NULL UNIQUE,
    token_hash  TEXT NOT NULL UNIQUE,
    created_ms  INTEGER NOT NULL,
    revoked_ms  INTEGER
);

CREATE TABLE rooms (
    id          TEXT PRIMARY KEY,
    title       TEXT NOT NULL,
    created_ms  INTEGER NOT NULL
);

-- Current membership, maintained with every committed member change
-- (the room's revisions are the source of truth; this is an index).
CREATE TABLE memberships (
    room_id     TEXT NOT NULL REFERENCES rooms(id),
    user_id     TEXT NOT NULL REFERENCES users(id),
    role        TEXT NOT NULL,
    PRIMARY KEY (room_id, user_id)
);

-- The operation log: one row per accepted change, contiguous per room.
CREATE TABLE revisions (
    room_id     TEXT NOT NULL REFERENCES rooms(id),
    revision    INTEGER NOT NULL,
    author      TEXT NOT NULL,
    at_ms       INTEGER NOT NULL,
    client_id   TEXT,
    client_seq  INTEGER,
    kind        TEXT NOT NULL,
    body        TEXT NOT NULL,
    PRIMARY KEY (room_id, revision)
);
CREATE UNIQUE INDEX revisions_client_seq ON revisions (room_id, client_id, client_seq);

-- Full room state every so often, so opening a room does not replay history.
CREATE TABLE snapshots (
    room_id     TEXT NOT NULL REFERENCES rooms(id),
    revision    INTEGER NOT NULL,
    state       TEXT NOT NULL,
    PRIMARY KEY (room_id, revision)
);

-- Append-only, hash-chained audit log; chain `server` holds refusals that
-- concern no existing room.
CREATE TABLE audit (
    chain       TEXT NOT NULL,
    seq         INTEGER NOT NULL,
    at_ms       INTEGER NOT NULL,
    actor       TEXT NOT NULL,
    kind        TEXT NOT NULL,
    revision    INTEGER NOT NULL,
    detail      TEXT NOT NULL,
    prev_hash   TEXT NOT NULL,
    hash        TEXT NOT NULL,
    PRIMARY KEY (chain, seq)
);

-- Administrative commands for live rooms, applied by the running server
-- (or by the admin command itself when no server runs).
CREATE TABLE admin_queue (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    room_id     TEXT NOT NULL,
    command     TEXT NOT NULL,
    created_ms  INTEGER NOT NULL,
    done_ms     INTEGER,
    result      TEXT
);

-- Liveness of serving processes.
CREATE TABLE server_nodes (
    node_id      TEXT PRIMARY KEY,
    heartbeat_ms INTEGER NOT NULL
);

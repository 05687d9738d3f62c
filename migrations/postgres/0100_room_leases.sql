-- Room leases (docs/cluster.md): with several server nodes on one database,
-- each room is sequenced by exactly one node at a time. The owner renews its
-- lease in the background; another node takes an expired lease over by
-- bumping the epoch, and every commit is fenced by the committer's epoch
-- (checked under FOR UPDATE on this row in the commit's transaction).
-- Rows are never deleted: the epoch of a room only ever grows.
CREATE TABLE room_leases (
    room_id     TEXT PRIMARY KEY REFERENCES rooms(id),
    node_id     TEXT NOT NULL,
    -- Where clients reach the owner (`serve --advertise-url`).
    node_url    TEXT NOT NULL,
    epoch       BIGINT NOT NULL,
    -- On the database's clock, so nodes' clocks need not agree.
    expires_at  TIMESTAMPTZ NOT NULL
);
CREATE INDEX room_leases_node ON room_leases (node_id);

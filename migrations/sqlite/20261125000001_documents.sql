-- The CRDT document of each registration: a compacted state plus an append-only tail.
--
-- Loading a document reads its state and the tail rows after `state_seq`. Compaction
-- writes a new state and deletes the tail rows it folded in, in one transaction.

CREATE TABLE doc_states (
    doc_id     TEXT    NOT NULL PRIMARY KEY,
    -- v1-encoded update holding the whole document up to and including `seq`.
    state      BLOB    NOT NULL,
    seq        INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
) STRICT;

CREATE TABLE doc_updates (
    doc_id     TEXT    NOT NULL,
    seq        INTEGER NOT NULL,
    -- v1-encoded update exactly as the client sent it, after validation.
    data       BLOB    NOT NULL,
    -- The user who wrote it; filled once identity exists.
    author     TEXT,
    -- Unix time in milliseconds.
    created_at INTEGER NOT NULL,
    PRIMARY KEY (doc_id, seq)
) STRICT, WITHOUT ROWID;

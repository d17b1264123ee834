-- Version history of the registration documents.
--
-- A snapshot is a yrs snapshot (state vector + delete set, a few bytes): documents keep
-- every deleted item (GC off), so any snapshot rebuilds its version exactly.

CREATE TABLE doc_snapshots (
    id            TEXT    NOT NULL PRIMARY KEY,
    doc_id        TEXT    NOT NULL,
    -- auto (the room went quiet after edits, or a day of edits), named (by a writer),
    -- restore (made right after a restore, pointing at the version restored).
    kind          TEXT    NOT NULL CHECK (kind IN ('auto', 'named', 'restore')),
    name          TEXT,
    created_by    TEXT    REFERENCES users (id),
    created_at    INTEGER NOT NULL,
    snapshot      BLOB    NOT NULL,
    restored_from TEXT    REFERENCES doc_snapshots (id),
    -- JSON: what changed since the previous snapshot (counts per section, authors).
    summary       TEXT    NOT NULL
) STRICT;

CREATE INDEX doc_snapshots_by_doc ON doc_snapshots (doc_id, created_at);

-- Who deleted what: a CRDT delete carries no author, so each stored update that deleted
-- content records the item ranges it deleted (JSON [[client, clock, len], ...]) and its
-- author. Kept when the log is compacted: diffs name who removed text.
CREATE TABLE doc_deletions (
    doc_id  TEXT    NOT NULL,
    seq     INTEGER NOT NULL,
    user_id TEXT,
    ranges  TEXT    NOT NULL,
    PRIMARY KEY (doc_id, seq)
) STRICT, WITHOUT ROWID;

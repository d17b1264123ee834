-- The collaboration agreements (samenwerkingsafspraken) of a school and one of the
-- learning-support centres that serve it (issue 16): one document per pair, its content
-- the CRDT document of the same id (roots in crdt/src/meeting.rs). Only that school and
-- that LSC see it; for a CLB it does not exist.
CREATE TABLE lsc_agreements (
    id         TEXT    NOT NULL PRIMARY KEY,
    school_id  INTEGER NOT NULL REFERENCES institutions (id),
    lsc_id     INTEGER NOT NULL REFERENCES institutions (id),
    created_by TEXT    NOT NULL REFERENCES users (id),
    created_at INTEGER NOT NULL,
    UNIQUE (school_id, lsc_id)
) STRICT;

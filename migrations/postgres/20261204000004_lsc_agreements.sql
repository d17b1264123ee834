-- The collaboration agreements (samenwerkingsafspraken) of a school and one of the
-- learning-support centres that serve it (issue 16): one document per pair, its content
-- the CRDT document of the same id (roots in crdt/src/meeting.rs). Only that school and
-- that LSC see it; for a CLB it does not exist.
CREATE TABLE lsc_agreements (
    id         TEXT    NOT NULL PRIMARY KEY,
    school_id  BIGINT NOT NULL REFERENCES institutions (id),
    lsc_id     BIGINT NOT NULL REFERENCES institutions (id),
    created_by TEXT    NOT NULL REFERENCES users (id),
    created_at BIGINT NOT NULL,
    UNIQUE (school_id, lsc_id)
);

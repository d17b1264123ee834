-- Documents (issue 17): files kept in the dossier, per school ("Documenten": the school and
-- its CLB), per registration (attachments) and per school–LSC pair. A file has versions;
-- each version's content is stored once by its SHA-256 (the same bytes uploaded twice are
-- one blob). Deleting a file keeps it, marked, for 30 days: restorable until it is purged.
CREATE TABLE files (
    id            TEXT    NOT NULL PRIMARY KEY,
    school_id     INTEGER NOT NULL REFERENCES institutions (id),
    -- 'school', 'registration' or 'agreement', and the id of that registration or those
    -- agreements ('' for the school's own documents).
    place         TEXT    NOT NULL CHECK (place IN ('school', 'registration', 'agreement')),
    place_id      TEXT    NOT NULL,
    created_by    TEXT    NOT NULL REFERENCES users (id),
    created_at    INTEGER NOT NULL,
    deleted_at    INTEGER,
    deleted_by    TEXT    REFERENCES users (id),
    delete_reason TEXT
) STRICT;
CREATE INDEX files_place ON files (school_id, place, place_id);

CREATE TABLE file_versions (
    id          TEXT    NOT NULL PRIMARY KEY,
    file_id     TEXT    NOT NULL REFERENCES files (id),
    sha256      TEXT    NOT NULL,
    size        INTEGER NOT NULL,
    mime        TEXT    NOT NULL,
    -- The name as uploaded, sanitised: shown and offered on download, never a path.
    name        TEXT    NOT NULL,
    note        TEXT    NOT NULL,
    uploaded_by TEXT    NOT NULL REFERENCES users (id),
    uploaded_at INTEGER NOT NULL
) STRICT;
CREATE INDEX file_versions_file ON file_versions (file_id, uploaded_at);
CREATE INDEX file_versions_blob ON file_versions (sha256);

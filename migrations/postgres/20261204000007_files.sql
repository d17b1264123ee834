-- Documents (issue 17): files kept in the dossier, per school ("Documenten": the school and
-- its CLB), per registration (attachments) and per school–LSC pair. A file has versions;
-- each version's content is stored once by its SHA-256 (the same bytes uploaded twice are
-- one blob). Deleting a file keeps it, marked, for 30 days: restorable until it is purged.
CREATE TABLE files (
    id            TEXT    NOT NULL PRIMARY KEY,
    school_id     BIGINT NOT NULL REFERENCES institutions (id),
    -- 'school', 'registration' or 'agreement', and the id of that registration or those
    -- agreements ('' for the school's own documents).
    place         TEXT    NOT NULL CHECK (place IN ('school', 'registration', 'agreement')),
    place_id      TEXT    NOT NULL,
    created_by    TEXT    NOT NULL REFERENCES users (id),
    created_at    BIGINT NOT NULL,
    deleted_at    BIGINT,
    deleted_by    TEXT    REFERENCES users (id),
    delete_reason TEXT
);
CREATE INDEX files_place ON files (school_id, place, place_id);

CREATE TABLE file_versions (
    id          TEXT    NOT NULL PRIMARY KEY,
    file_id     TEXT    NOT NULL REFERENCES files (id),
    sha256      TEXT    NOT NULL,
    size        BIGINT NOT NULL,
    mime        TEXT    NOT NULL,
    -- The name as uploaded, sanitised: shown and offered on download, never a path.
    name        TEXT    NOT NULL,
    note        TEXT    NOT NULL,
    uploaded_by TEXT    NOT NULL REFERENCES users (id),
    uploaded_at BIGINT NOT NULL
);
CREATE INDEX file_versions_file ON file_versions (file_id, uploaded_at);
CREATE INDEX file_versions_blob ON file_versions (sha256);

-- Several nodes see the same files: their content lives in the database, in chunks of at
-- most 256 KiB so that no read or write holds a whole file (docs/architecture.md,
-- "Documents"). A blob and its chunks are written in one transaction. A version refers to
-- its blob, so that the purge can never remove content a version still names, nor a
-- version be kept whose content a purge just removed.
CREATE TABLE blobs (
    sha256 TEXT   NOT NULL PRIMARY KEY,
    size   BIGINT NOT NULL,
    chunks INTEGER NOT NULL
);
ALTER TABLE file_versions ADD CONSTRAINT file_versions_blob_fk
    FOREIGN KEY (sha256) REFERENCES blobs (sha256);
CREATE TABLE blob_chunks (
    sha256 TEXT    NOT NULL,
    seq    INTEGER NOT NULL,
    data   BYTEA   NOT NULL,
    PRIMARY KEY (sha256, seq)
);

-- Identity, tenancy, registrations and the audit log (DESIGN.md, "Who may do what").

CREATE TABLE institutions (
    id         INTEGER PRIMARY KEY,
    kind       TEXT    NOT NULL CHECK (kind IN ('clb', 'school', 'lsc')),
    -- The official institution number (instellingsnummer).
    number     TEXT    NOT NULL UNIQUE,
    name       TEXT    NOT NULL,
    created_at INTEGER NOT NULL
) STRICT;

-- Which schools a CLB serves.
CREATE TABLE clb_schools (
    clb_id    INTEGER NOT NULL REFERENCES institutions (id),
    school_id INTEGER NOT NULL REFERENCES institutions (id),
    PRIMARY KEY (clb_id, school_id)
) STRICT;

CREATE TABLE users (
    id            TEXT    NOT NULL PRIMARY KEY,
    email         TEXT    NOT NULL UNIQUE COLLATE NOCASE,
    display_name  TEXT    NOT NULL,
    -- argon2id, PHC string format.
    password_hash TEXT    NOT NULL,
    disabled      INTEGER NOT NULL DEFAULT 0,
    created_at    INTEGER NOT NULL
) STRICT;

-- A role of a user on an institution; `admin` is platform-wide (no institution).
CREATE TABLE memberships (
    user_id        TEXT    NOT NULL REFERENCES users (id),
    role           TEXT    NOT NULL CHECK (role IN ('clb_staff', 'school_dossier', 'lsc_staff', 'admin')),
    institution_id INTEGER REFERENCES institutions (id),
    created_at     INTEGER NOT NULL,
    CHECK ((role = 'admin') = (institution_id IS NULL))
) STRICT;
CREATE UNIQUE INDEX memberships_unique ON memberships (user_id, role, COALESCE(institution_id, 0));

-- Sessions are found by the SHA-256 of their id: the database never holds a usable one.
CREATE TABLE sessions (
    id_hash    TEXT    NOT NULL PRIMARY KEY,
    user_id    TEXT    NOT NULL REFERENCES users (id),
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL
) STRICT;
CREATE INDEX sessions_user ON sessions (user_id);

-- API tokens, likewise stored as SHA-256 only; shown once when made.
CREATE TABLE api_tokens (
    id           TEXT    NOT NULL PRIMARY KEY,
    user_id      TEXT    NOT NULL REFERENCES users (id),
    name         TEXT    NOT NULL,
    token_hash   TEXT    NOT NULL UNIQUE,
    created_at   INTEGER NOT NULL,
    last_used_at INTEGER,
    revoked_at   INTEGER
) STRICT;

CREATE TABLE registrations (
    id          TEXT    NOT NULL PRIMARY KEY,
    kind        TEXT    NOT NULL CHECK (kind IN ('signal', 'consultation')),
    school_id   INTEGER NOT NULL REFERENCES institutions (id),
    school_year TEXT    NOT NULL,
    title       TEXT    NOT NULL,
    theme       TEXT,
    status      TEXT    NOT NULL CHECK (status IN ('open', 'closed')),
    owner_id    TEXT    NOT NULL REFERENCES users (id),
    created_at  INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL
) STRICT;
CREATE INDEX registrations_school ON registrations (school_id, school_year);

-- Which user each Yjs client ID of a document belongs to (the first user to use it).
CREATE TABLE client_bindings (
    doc_id     TEXT    NOT NULL,
    client_id  INTEGER NOT NULL,
    user_id    TEXT    NOT NULL REFERENCES users (id),
    created_at INTEGER NOT NULL,
    PRIMARY KEY (doc_id, client_id)
) STRICT;

-- Append-only: who did what to what, and whether it was allowed.
CREATE TABLE audit_log (
    id       INTEGER PRIMARY KEY AUTOINCREMENT,
    at       INTEGER NOT NULL,
    actor_id TEXT,
    action   TEXT    NOT NULL,
    target   TEXT,
    outcome  TEXT    NOT NULL,
    detail   TEXT
) STRICT;
CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
BEGIN SELECT RAISE(ABORT, 'audit log is append-only'); END;
CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log
BEGIN SELECT RAISE(ABORT, 'audit log is append-only'); END;

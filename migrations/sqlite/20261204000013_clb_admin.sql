-- A CLB's own administrator (`clb_admin`, held on a CLB): manages that CLB's schools, the
-- people who hold roles on them and what those people did (docs/architecture.md,
-- "Administration in the app"). SQLite cannot change a CHECK constraint in place, so the
-- table is made anew with the same rows.
CREATE TABLE memberships_new (
    user_id        TEXT    NOT NULL REFERENCES users (id),
    role           TEXT    NOT NULL CHECK (role IN ('clb_staff', 'clb_admin', 'school_dossier', 'lsc_staff', 'admin')),
    institution_id INTEGER REFERENCES institutions (id),
    created_at     INTEGER NOT NULL,
    source         TEXT    NOT NULL DEFAULT 'local' CHECK (source IN ('local', 'oidc')),
    CHECK ((role = 'admin') = (institution_id IS NULL))
) STRICT;
INSERT INTO memberships_new (user_id, role, institution_id, created_at, source)
    SELECT user_id, role, institution_id, created_at, source FROM memberships;
DROP TABLE memberships;
ALTER TABLE memberships_new RENAME TO memberships;
CREATE UNIQUE INDEX memberships_unique ON memberships (user_id, role, COALESCE(institution_id, 0));

-- Exports made in the background (issue 18, point 4): a school year's PDF or Word file is
-- gathered registration by registration by the node that was asked, which writes how far
-- it is here, so that the page can follow it through any node; the finished file is kept
-- here for its maker to download for an hour, then purged.
-- `running` rows whose `updated_at` stops moving belong to a node that died: read as failed.
CREATE TABLE exports (
    id         TEXT    NOT NULL PRIMARY KEY,
    user_id    TEXT    NOT NULL REFERENCES users (id),
    school_id  BIGINT  NOT NULL REFERENCES institutions (id),
    format     TEXT    NOT NULL CHECK (format IN ('pdf', 'docx')),
    name       TEXT    NOT NULL,
    total      BIGINT  NOT NULL,
    done       BIGINT  NOT NULL DEFAULT 0,
    status     TEXT    NOT NULL CHECK (status IN ('running', 'ready', 'failed')),
    content    BYTEA,
    created_at BIGINT  NOT NULL,
    updated_at BIGINT  NOT NULL
);
CREATE INDEX exports_by_user ON exports (user_id, status);
CREATE INDEX exports_by_age ON exports (created_at);

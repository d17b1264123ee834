-- Comment threads on registrations (general, or anchored to a passage of a section),
-- their comments, @mentions with notifications, and per-user read marks.

CREATE TABLE comment_threads (
    id              TEXT    NOT NULL PRIMARY KEY,
    registration_id TEXT    NOT NULL REFERENCES registrations (id),
    -- For an anchored thread: the section and the Yjs relative positions (encoded, base64)
    -- of the passage's start and end, and the passage as it read when the thread started.
    section         TEXT,
    anchor_start    TEXT,
    anchor_end      TEXT,
    quote           TEXT,
    status          TEXT    NOT NULL CHECK (status IN ('open', 'resolved')),
    created_by      TEXT    NOT NULL REFERENCES users (id),
    created_at      INTEGER NOT NULL,
    resolved_by     TEXT REFERENCES users (id),
    resolved_at     INTEGER,
    updated_at      INTEGER NOT NULL,
    CHECK ((section IS NULL) = (anchor_start IS NULL) AND (section IS NULL) = (anchor_end IS NULL))
) STRICT;
CREATE INDEX comment_threads_registration ON comment_threads (registration_id, created_at);

CREATE TABLE comments (
    id         TEXT    NOT NULL PRIMARY KEY,
    thread_id  TEXT    NOT NULL REFERENCES comment_threads (id),
    author_id  TEXT    NOT NULL REFERENCES users (id),
    body       TEXT    NOT NULL,
    created_at INTEGER NOT NULL,
    edited_at  INTEGER,
    -- Soft delete: the comment stays, shown as "verwijderd", its body emptied.
    deleted_at INTEGER
) STRICT;
CREATE INDEX comments_thread ON comments (thread_id, created_at);

CREATE TABLE notifications (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id         TEXT    NOT NULL REFERENCES users (id),
    kind            TEXT    NOT NULL CHECK (kind IN ('mention')),
    registration_id TEXT    NOT NULL REFERENCES registrations (id),
    thread_id       TEXT    NOT NULL REFERENCES comment_threads (id),
    comment_id      TEXT    NOT NULL REFERENCES comments (id),
    created_at      INTEGER NOT NULL,
    read_at         INTEGER
) STRICT;
CREATE INDEX notifications_user ON notifications (user_id, read_at);

-- When a user last read a registration's comments (for unread counts).
CREATE TABLE comment_reads (
    user_id         TEXT    NOT NULL REFERENCES users (id),
    registration_id TEXT    NOT NULL REFERENCES registrations (id),
    read_at         INTEGER NOT NULL,
    PRIMARY KEY (user_id, registration_id)
) STRICT;

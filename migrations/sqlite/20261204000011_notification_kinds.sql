-- Notifications beyond mentions: a reply in a thread one wrote in (`reply`), and a new
-- thread on a registration one started (`thread`). SQLite cannot change a CHECK in place,
-- so the table is copied into one with the wider CHECK; nothing refers to it.

CREATE TABLE notifications_new (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id         TEXT    NOT NULL REFERENCES users (id),
    kind            TEXT    NOT NULL CHECK (kind IN ('mention', 'reply', 'thread')),
    registration_id TEXT    NOT NULL REFERENCES registrations (id),
    thread_id       TEXT    NOT NULL REFERENCES comment_threads (id),
    comment_id      TEXT    NOT NULL REFERENCES comments (id),
    created_at      INTEGER NOT NULL,
    read_at         INTEGER
) STRICT;
INSERT INTO notifications_new (id, user_id, kind, registration_id, thread_id, comment_id, created_at, read_at)
    SELECT id, user_id, kind, registration_id, thread_id, comment_id, created_at, read_at FROM notifications;
DROP TABLE notifications;
ALTER TABLE notifications_new RENAME TO notifications;
CREATE INDEX notifications_user ON notifications (user_id, read_at);

-- A session also ends after `--session-idle-secs` without use. `last_seen_at` (ms since
-- the epoch) is its last use, written at most once a minute (a write per request would
-- cost an fsync). Sessions from before this column count from their creation.
ALTER TABLE sessions ADD COLUMN last_seen_at INTEGER NOT NULL DEFAULT 0;
UPDATE sessions SET last_seen_at = created_at;

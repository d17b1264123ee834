-- API tokens run out and may be limited: an expiry (ms since the epoch), a scope (`read`:
-- reads only; `read_write`: what the user may do), and optionally one school.
ALTER TABLE api_tokens ADD COLUMN expires_at INTEGER;
ALTER TABLE api_tokens ADD COLUMN scope TEXT NOT NULL DEFAULT 'read_write'
    CHECK (scope IN ('read', 'read_write'));
ALTER TABLE api_tokens ADD COLUMN school_id INTEGER REFERENCES institutions (id);

-- Tokens made before tokens could expire run out 90 days from now.
UPDATE api_tokens
SET expires_at = CAST(strftime('%s', 'now') AS INTEGER) * 1000 + 90 * 24 * 60 * 60 * 1000
WHERE expires_at IS NULL;

-- The optional second factor of password logins: TOTP (RFC 6238) and recovery codes
-- (docs/architecture.md, "Two-step verification").

-- One per user who set it up. The secret is stored as it is: the server computes codes from
-- it, so a hash would not do (whoever reads this database could read the documents too).
CREATE TABLE totp (
    user_id      TEXT    NOT NULL PRIMARY KEY REFERENCES users (id),
    secret       BLOB    NOT NULL,
    created_at   INTEGER NOT NULL,
    -- NULL until the user confirmed with a code from their app; only then does a login ask
    -- for one.
    confirmed_at INTEGER,
    -- The last time step whose code was accepted: that code and older ones are refused
    -- from then on (no replay).
    last_step    INTEGER
) STRICT;

-- One-time recovery codes, stored as SHA-256 only (shown once when made).
CREATE TABLE totp_recovery_codes (
    user_id   TEXT    NOT NULL REFERENCES users (id),
    code_hash TEXT    NOT NULL,
    used_at   INTEGER,
    PRIMARY KEY (user_id, code_hash)
) STRICT;

-- A password login that still needs its code: found by the SHA-256 of a random id that
-- the login page holds for a few minutes. It is no session and opens nothing by itself.
CREATE TABLE login_challenges (
    id_hash    TEXT    NOT NULL PRIMARY KEY,
    user_id    TEXT    NOT NULL REFERENCES users (id),
    -- The login asked to stay logged in ("Aangemeld blijven op dit toestel").
    remember   INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    -- Wrong codes given with it; past a few it is deleted and the password is asked again.
    failures   INTEGER NOT NULL DEFAULT 0
) STRICT;
CREATE INDEX login_challenges_user ON login_challenges (user_id);

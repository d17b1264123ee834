-- The optional second factor of password logins (as migrations/sqlite/20261202100001_totp.sql).
CREATE TABLE totp (
    user_id      TEXT   NOT NULL PRIMARY KEY REFERENCES users (id),
    secret       BYTEA  NOT NULL,
    created_at   BIGINT NOT NULL,
    confirmed_at BIGINT,
    last_step    BIGINT
);

CREATE TABLE totp_recovery_codes (
    user_id   TEXT   NOT NULL REFERENCES users (id),
    code_hash TEXT   NOT NULL,
    used_at   BIGINT,
    PRIMARY KEY (user_id, code_hash)
);

CREATE TABLE login_challenges (
    id_hash    TEXT   NOT NULL PRIMARY KEY,
    user_id    TEXT   NOT NULL REFERENCES users (id),
    remember   BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    failures   BIGINT NOT NULL DEFAULT 0
);
CREATE INDEX login_challenges_user ON login_challenges (user_id);

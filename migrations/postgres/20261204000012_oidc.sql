-- Login through an OpenID Connect provider (the Flemish government's ACM/IDM).

-- Who a provider's subject is in Samen: the `sub` of its ID tokens, per issuer.
CREATE TABLE user_identities (
    issuer        TEXT    NOT NULL,
    subject       TEXT    NOT NULL,
    user_id       TEXT    NOT NULL REFERENCES users (id),
    created_at    BIGINT  NOT NULL,
    last_login_at BIGINT  NOT NULL,
    PRIMARY KEY (issuer, subject)
);
CREATE INDEX user_identities_user ON user_identities (user_id);

-- Where a role comes from: `local` (the CLI, the admin pages) or `oidc` (the provider's
-- claims at the last login, which every login replaces).
ALTER TABLE memberships ADD COLUMN source TEXT NOT NULL DEFAULT 'local' CHECK (source IN ('local', 'oidc'));

-- A session started through the provider keeps the provider's session id (`sid`, for its
-- back-channel logout) and the ID token (the hint its logout endpoint asks for).
ALTER TABLE sessions ADD COLUMN idp_sid TEXT;
ALTER TABLE sessions ADD COLUMN idp_id_token TEXT;
CREATE INDEX sessions_idp_sid ON sessions (idp_sid) WHERE idp_sid IS NOT NULL;

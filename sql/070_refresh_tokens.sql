-- Refresh tokens (issue 11): each is used once and replaced by the next of its family; a
-- token presented a second time means it leaked, so its whole family is revoked. Only a
-- SHA-256 of the token is stored: a copy of this table cannot sign anyone in.
CREATE TABLE refresh_tokens (
    token_hash  bytea PRIMARY KEY CHECK (length(token_hash) = 32),
    family      uuid NOT NULL,
    wallet      text NOT NULL,
    issued_at   timestamptz NOT NULL DEFAULT now(),
    expires_at  timestamptz NOT NULL,
    used_at     timestamptz,
    revoked_at  timestamptz,
    CHECK (expires_at > issued_at)
);
CREATE INDEX refresh_tokens_family_idx ON refresh_tokens (family);
CREATE INDEX refresh_tokens_expiry_idx ON refresh_tokens (expires_at);

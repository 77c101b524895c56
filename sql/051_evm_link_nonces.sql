-- Single-use nonces of Sign-In-With-Ethereum link requests (issue 12). A nonce is consumed by
-- the one UPDATE that marks it used, so a replayed signature is refused by the database.
CREATE TABLE IF NOT EXISTS evm_link_nonces (
    nonce       text PRIMARY KEY,
    wallet      text NOT NULL,
    evm_address text NOT NULL,
    message     text NOT NULL,
    issued_at   timestamptz NOT NULL,
    expires_at  timestamptz NOT NULL,
    used_at     timestamptz
);

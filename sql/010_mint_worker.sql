-- Mint worker bookkeeping (issue: gateway mint path).
-- 'sent' means claimed by a worker whose outcome is not yet recorded: the transaction may or
-- may not have reached the chain. A crashed worker's rows come back after their lease
-- expires, and because attempts > 0 the next worker checks the window's mint-record PDA on
-- chain before it sends again.
ALTER TABLE mint_outbox
    ADD COLUMN lease_until      timestamptz,
    ADD COLUMN next_attempt_at  timestamptz NOT NULL DEFAULT now(),
    ADD COLUMN tx_signature     text,
    ADD COLUMN confirmed_at     timestamptz;

CREATE INDEX mint_outbox_due_idx ON mint_outbox (next_attempt_at, id) WHERE status = 'pending';
CREATE INDEX mint_outbox_lease_idx ON mint_outbox (lease_until) WHERE status = 'sent';

-- Mints backed by signed energy (issue 9): the chain mints only meter-signed readings, each
-- window once and in time order (per-meter high-water mark), and every mint event commits to
-- the hash of the last reading it covers.

-- The meter's interval: the chain's registry holds it and the mirror copies it; a window is
-- minted only when aligned to it and exactly that long. (Identical text in issue 8's range.)
ALTER TABLE meters ADD COLUMN IF NOT EXISTS interval_s integer NOT NULL DEFAULT 900 CHECK (interval_s > 0 AND 86400 % interval_s = 0);

-- Provenance: the hash of the last reading the mint transaction covers (what its TokensMinted
-- event carries); `gridx prove` checks it against the readings and the chain.
ALTER TABLE token_mints ADD COLUMN IF NOT EXISTS event_hash text;

-- 'failed': a row that could not be sent after the worker's attempt limit (never a chain
-- refusal, which is 'refused'); kept for the operator, never retried automatically.
CREATE INDEX IF NOT EXISTS mint_outbox_meter_open_idx ON mint_outbox (meter_id, window_start)
    WHERE status IN ('pending', 'sent');

-- Every transaction that carried a row, noted before it is sent: after a crash the worker asks
-- the chain about these before sending again (the chain's high-water mark refuses a second
-- mint, but only these tell whether the first one was ours).
ALTER TABLE mint_outbox ADD COLUMN IF NOT EXISTS sent_signatures text[];

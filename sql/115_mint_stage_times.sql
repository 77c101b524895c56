-- Where a mint's latency goes: accepted (created_at) -> claimed by a worker (claimed_at, the
-- last claim) -> its transaction sent (sent_at, the worker's clock) -> confirmed (confirmed_at).
-- Operators and `gridx bench mint` read the stages from these columns.
ALTER TABLE mint_outbox ADD COLUMN claimed_at timestamptz, ADD COLUMN sent_at timestamptz;

-- A backfilled window behind its meter's on-chain high-water mark (a late reading credited in a
-- skipped hole after later windows were minted) can never be minted: the chain mints a meter's
-- windows once and in time order. The mint worker closes such a row as 'behind_chain' (counted,
-- never sent) instead of sending it for a refusal.
ALTER TABLE mint_outbox DROP CONSTRAINT IF EXISTS mint_outbox_status_check;
ALTER TABLE mint_outbox ADD CONSTRAINT mint_outbox_status_check
    CHECK (status IN ('pending', 'sent', 'confirmed', 'failed', 'refused', 'behind_chain'));

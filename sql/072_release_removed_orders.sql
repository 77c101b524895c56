-- Orders the engine removed (IOC/FOK remainder, self-trade prevention, repeated failed
-- settlement) hold escrow on chain: the settler returns it with the market authority's
-- release_order (to the owner's own account only). release_at: the last attempt, so a
-- lost attempt is retried and a slow one is not sent twice at once.
ALTER TABLE orders ADD COLUMN release_at timestamptz;
CREATE INDEX orders_removed_idx ON orders (market) WHERE status = 'removed';

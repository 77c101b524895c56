-- The seller's Solana lock through the API (issue 12): a prepared transaction of kind
-- 'swap_lock' moves part of a sell order into a hash lock. While it is submitted the order is
-- 'swap_locking' (out of the matcher's book, so no trade can take the GRXE the lock takes);
-- the lock's HashLocked event lowers ``remaining`` and puts the order back in the book
-- ('open'), or marks it 'swap_locked' when the matcher has not taken it out yet (the matcher
-- then removes it and reopens it with the new remaining), or 'filled' when nothing is left.
-- 'swap_close': the seller closes its finished hash lock and takes back the rent.
ALTER TABLE prepared_txs DROP CONSTRAINT prepared_txs_kind_check;
ALTER TABLE prepared_txs ADD CONSTRAINT prepared_txs_kind_check
    CHECK (kind IN ('register', 'order', 'cancel', 'swap_lock', 'swap_close'));

ALTER TABLE orders DROP CONSTRAINT orders_status_check;
ALTER TABLE orders ADD CONSTRAINT orders_status_check CHECK (status IN
    ('prepared', 'open', 'filled', 'cancelling', 'cancelled', 'failed', 'removed',
     'swap_locking', 'swap_locked'));


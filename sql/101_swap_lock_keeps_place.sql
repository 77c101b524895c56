-- A sell order partly hash-locked keeps its place in the matcher's queue (issue 12): while the
-- seller's lock is on its way ('swap_locking') the matcher amends the order down by the lock's
-- amount instead of taking it out of the book, and records that amount in ``held``; the lock's
-- HashLocked event then leaves the order where it was. ``prepared_txs.amount``: the GRXE a
-- 'swap_lock' transaction moves (what the matcher holds back).
ALTER TABLE orders ADD COLUMN IF NOT EXISTS held bigint NOT NULL DEFAULT 0 CHECK (held >= 0);
ALTER TABLE prepared_txs ADD COLUMN IF NOT EXISTS amount bigint CHECK (amount IS NULL OR amount > 0);

-- A submitted transaction that never lands (the API died between marking it submitted and
-- sending it, the node was unreachable, its blockhash expired on the way) is failed with reason
-- 'expired' once the chain's block height has passed its last valid height and its signature
-- is unknown (backend/_txflow.py: expire_stale_txs). The order it had taken out of the book
-- ('cancelling', 'swap_locking') goes back to the status it had before, kept here.
ALTER TABLE prepared_txs ADD COLUMN IF NOT EXISTS order_status_before text;
CREATE INDEX IF NOT EXISTS prepared_txs_submitted_idx ON prepared_txs (last_valid_height) WHERE status = 'submitted';

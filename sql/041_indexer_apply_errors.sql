-- An event the indexer cannot apply is kept with its error instead of stalling every event
-- after it (the raw event is already in chain_events); an operator reads them here.
ALTER TABLE chain_events ADD COLUMN IF NOT EXISTS apply_error text;
CREATE INDEX IF NOT EXISTS chain_events_apply_error_idx ON chain_events (indexed_at) WHERE apply_error IS NOT NULL;

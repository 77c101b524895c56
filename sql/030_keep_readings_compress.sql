-- Signed readings are the audit trail behind every minted token ("Meter readings: full
-- history"): never delete them. 003 added a 400-day retention policy on raw readings; drop it
-- and keep old chunks compressed instead (the compression policy from 003 stays; ensured here).
-- If raw data must ever leave the database, export it verifiably first (hash chain + signatures
-- travel with each reading), then drop chunks by hand. Plain PostgreSQL: nothing to do.
DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'timescaledb') THEN
        PERFORM remove_retention_policy('readings', if_exists => true);
        PERFORM add_compression_policy('readings', interval '7 days', if_not_exists => true);
    END IF;
END $$;

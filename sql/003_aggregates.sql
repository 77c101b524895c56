-- Hourly and daily aggregates per meter, under the same names and columns on both paths:
--   * TimescaleDB available and preloaded: readings becomes a hypertable, the aggregates are
--     continuous aggregates with refresh policies, raw chunks are compressed and retained.
--   * Plain PostgreSQL: the aggregates are ordinary views over readings (date_trunc).
-- Columns: meter_id, bucket, produced_wh, consumed_wh, net_wh (produced - consumed) and
-- surplus_wh (sum of the positive per-window surplus: what can be minted), readings.
-- Only the plain path is exercised by the test suite (see sql/README.md).

DO $$
DECLARE
    have_ts boolean := EXISTS (SELECT 1 FROM pg_available_extensions WHERE name = 'timescaledb')
        AND current_setting('shared_preload_libraries', true) LIKE '%timescaledb%';
    agg text := $q$
        SELECT meter_id, %s AS bucket,
               sum(produced_wh)::bigint AS produced_wh,
               sum(consumed_wh)::bigint AS consumed_wh,
               sum(surplus_wh)::bigint AS net_wh,
               sum(greatest(surplus_wh, 0))::bigint AS surplus_wh,
               count(*) AS readings
        FROM readings GROUP BY meter_id, %s $q$;
BEGIN
    IF have_ts THEN
        CREATE EXTENSION IF NOT EXISTS timescaledb;
        PERFORM create_hypertable('readings', 'window_start',
                                  chunk_time_interval => interval '1 day', migrate_data => true);
        EXECUTE format('CREATE MATERIALIZED VIEW readings_hourly WITH (timescaledb.continuous) AS %s WITH NO DATA',
                       format(agg, $b$time_bucket(interval '1 hour', window_start)$b$,
                              $b$time_bucket(interval '1 hour', window_start)$b$));
        EXECUTE format('CREATE MATERIALIZED VIEW readings_daily WITH (timescaledb.continuous) AS %s WITH NO DATA',
                       format(agg, $b$time_bucket(interval '1 day', window_start)$b$,
                              $b$time_bucket(interval '1 day', window_start)$b$));
        -- real-time aggregation: recent, not yet materialised buckets are computed on read
        ALTER MATERIALIZED VIEW readings_hourly SET (timescaledb.materialized_only = false);
        ALTER MATERIALIZED VIEW readings_daily SET (timescaledb.materialized_only = false);
        PERFORM add_continuous_aggregate_policy('readings_hourly', start_offset => interval '3 days',
                                                end_offset => interval '1 hour', schedule_interval => interval '15 minutes');
        PERFORM add_continuous_aggregate_policy('readings_daily', start_offset => interval '30 days',
                                                end_offset => interval '1 day', schedule_interval => interval '1 hour');
        ALTER TABLE readings SET (timescaledb.compress, timescaledb.compress_segmentby = 'meter_id',
                                  timescaledb.compress_orderby = 'window_start');
        PERFORM add_compression_policy('readings', interval '7 days');
        -- raw readings are kept 400 days; the aggregates outlive them
        PERFORM add_retention_policy('readings', interval '400 days');
    ELSE
        EXECUTE format('CREATE VIEW readings_hourly AS %s',
                       format(agg, $b$date_trunc('hour', window_start, 'UTC')$b$, $b$date_trunc('hour', window_start, 'UTC')$b$));
        EXECUTE format('CREATE VIEW readings_daily AS %s',
                       format(agg, $b$date_trunc('day', window_start, 'UTC')$b$, $b$date_trunc('day', window_start, 'UTC')$b$));
    END IF;
END $$;

-- Surplus an owner may still offer: accepted positive surplus of every meter the owner has
-- (revoked meters included: the energy was real when accepted) minus open reservations.
CREATE FUNCTION surplus_available_wh(owner text) RETURNS bigint LANGUAGE sql STABLE AS $$
    SELECT COALESCE((SELECT sum(greatest(r.surplus_wh, 0))
                       FROM readings r JOIN meters m USING (meter_id)
                      WHERE m.owner_wallet = owner), 0)::bigint
         - COALESCE((SELECT sum(wh) FROM surplus_reservations WHERE owner_wallet = owner), 0)::bigint
$$;

-- Meter enrolment through the API (issue 11), non-custodial with the chain as the truth:
-- ``POST /meters`` builds the registry's register_meter (with the meter key's proof of
-- possession) as a prepared transaction of kind 'enrol'; the owner signs, the API co-signs
-- as registry authority on submit. The chain's MeterRegistered event writes the ``meters``
-- row (submit path or indexer, whichever applies it first). The chain does not know the
-- operator's meter_id, so the request is kept here until the event names its key.
ALTER TABLE prepared_txs DROP CONSTRAINT prepared_txs_kind_check;
ALTER TABLE prepared_txs ADD CONSTRAINT prepared_txs_kind_check
    CHECK (kind IN ('register', 'order', 'cancel', 'swap_lock', 'swap_close', 'enrol'));

CREATE TABLE meter_enrolments (
    tx_id          bigint PRIMARY KEY REFERENCES prepared_txs (id),
    meter_id       text NOT NULL CHECK (meter_id ~ '^[A-Za-z0-9_.-]{1,32}$'),
    pubkey         text NOT NULL CHECK (pubkey ~ '^[0-9a-f]{64}$'),
    owner_wallet   text NOT NULL,
    -- the owner's registry type, read from the chain at prepare time: the users row is
    -- created from it if the owner's own registration is not indexed yet
    owner_type     text NOT NULL CHECK (owner_type IN ('prosumer', 'consumer')),
    edge_id        text NOT NULL CHECK (edge_id ~ '^[A-Za-z0-9_.-]{1,32}$'),
    rated_power_w  bigint NOT NULL CHECK (rated_power_w > 0),
    interval_s     integer NOT NULL CHECK (interval_s > 0 AND 86400 % interval_s = 0),
    created_at     timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX meter_enrolments_pubkey_idx ON meter_enrolments (pubkey);
CREATE INDEX meter_enrolments_meter_idx ON meter_enrolments (meter_id);
CREATE INDEX meter_enrolments_owner_idx ON meter_enrolments (owner_wallet, tx_id DESC);

-- Registry mirror: users and meters. Until the on-chain registry is the source of truth
-- (a later issue) these tables are it; afterwards they mirror it.

CREATE TABLE users (
    wallet      text PRIMARY KEY CHECK (wallet ~ '^[1-9A-HJ-NP-Za-km-z]{32,44}$'),  -- base58 pubkey
    user_type   text NOT NULL CHECK (user_type IN ('prosumer', 'consumer')),
    created_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE meters (
    meter_id       text PRIMARY KEY CHECK (meter_id ~ '^[A-Za-z0-9_.-]{1,32}$'),
    pubkey         text NOT NULL UNIQUE CHECK (pubkey ~ '^[0-9a-f]{64}$'),  -- ed25519, hex
    owner_wallet   text NOT NULL REFERENCES users (wallet),
    edge_id        text NOT NULL CHECK (edge_id ~ '^[A-Za-z0-9_.-]{1,32}$'),
    rated_power_w  bigint NOT NULL CHECK (rated_power_w > 0),
    status         text NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'revoked')),
    created_at     timestamptz NOT NULL DEFAULT now(),
    updated_at     timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX meters_owner_idx ON meters (owner_wallet);

-- Last accepted reading per meter. Gateways lock these rows (FOR UPDATE, in meter_id order)
-- while they judge and store a batch, so any number of gateway processes see one chain.
CREATE TABLE meter_state (
    meter_id           text PRIMARY KEY REFERENCES meters (meter_id) ON DELETE CASCADE,
    last_seq           bigint NOT NULL DEFAULT 0,
    last_hash          text NOT NULL DEFAULT repeat('0', 64),
    last_window_end    bigint,   -- unix seconds; NULL before the first accepted reading
    produced_total_wh  bigint,
    consumed_total_wh  bigint,
    updated_at         timestamptz NOT NULL DEFAULT now()
);

CREATE FUNCTION meters_after_insert() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO meter_state (meter_id) VALUES (NEW.meter_id) ON CONFLICT DO NOTHING;
    RETURN NEW;
END $$;
CREATE TRIGGER meters_state_row AFTER INSERT ON meters
    FOR EACH ROW EXECUTE FUNCTION meters_after_insert();

-- Gateways cache the registry; this NOTIFY is what makes a revocation take effect at once.
CREATE FUNCTION meters_notify() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('gridx_meters', COALESCE(NEW.meter_id, OLD.meter_id));
    RETURN NULL;
END $$;
CREATE TRIGGER meters_changed AFTER INSERT OR UPDATE OR DELETE ON meters
    FOR EACH ROW EXECUTE FUNCTION meters_notify();

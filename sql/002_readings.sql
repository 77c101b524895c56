-- Accepted readings, the quarantine, and the mint hand-off (outbox and mint records).
-- Energy is integer Wh; token amounts are integer base units (1 Wh = 1,000).

CREATE TABLE readings (
    meter_id           text NOT NULL REFERENCES meters (meter_id),
    window_start       timestamptz NOT NULL,
    window_end         timestamptz NOT NULL,
    seq                bigint NOT NULL,
    produced_wh        bigint NOT NULL CHECK (produced_wh >= 0),
    consumed_wh        bigint NOT NULL CHECK (consumed_wh >= 0),
    surplus_wh         bigint NOT NULL,  -- produced_wh - consumed_wh; may be negative
    produced_total_wh  bigint NOT NULL,
    consumed_total_wh  bigint NOT NULL,
    prev_hash          text NOT NULL,
    hash               text NOT NULL,
    sig                text NOT NULL,
    edge_id            text NOT NULL,
    sent_at_ms         bigint NOT NULL,
    stored_at          timestamptz NOT NULL DEFAULT now(),
    -- the database, not the gateway, is what makes a reading stored once
    PRIMARY KEY (meter_id, window_start),
    CHECK (surplus_wh = produced_wh - consumed_wh),
    CHECK (window_end > window_start)
);

CREATE TABLE quarantine (
    id           bigserial PRIMARY KEY,
    reason       text NOT NULL,
    detail       text NOT NULL DEFAULT '',
    meter_id     text,           -- NULL when the message itself could not be read
    seq          bigint,
    edge_id      text NOT NULL,  -- from the topic, i.e. the authenticated broker user
    payload      text NOT NULL,  -- the reading (or message) as received, capped at 64 KiB
    received_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX quarantine_reason_idx ON quarantine (reason, received_at);
CREATE INDEX quarantine_meter_idx ON quarantine (meter_id, received_at) WHERE meter_id IS NOT NULL;

-- One row per accepted reading with surplus, written in the same transaction as the reading:
-- the mint worker drains it, and (meter, window) unique mirrors the on-chain dedup PDA.
CREATE TABLE mint_outbox (
    id            bigserial PRIMARY KEY,
    meter_id      text NOT NULL REFERENCES meters (meter_id),
    window_start  timestamptz NOT NULL,
    window_end    timestamptz NOT NULL,
    surplus_wh    bigint NOT NULL CHECK (surplus_wh > 0),
    amount        numeric(20, 0) NOT NULL CHECK (amount = surplus_wh * 1000),
    status        text NOT NULL DEFAULT 'pending'
                  CHECK (status IN ('pending', 'sent', 'confirmed', 'failed', 'refused')),
    reason        text,
    attempts      integer NOT NULL DEFAULT 0,
    created_at    timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now(),
    UNIQUE (meter_id, window_start)
);
CREATE INDEX mint_outbox_open_idx ON mint_outbox (id) WHERE status IN ('pending', 'sent');

CREATE TABLE token_mints (
    id            bigserial PRIMARY KEY,
    meter_id      text NOT NULL REFERENCES meters (meter_id),
    window_start  timestamptz NOT NULL,
    window_end    timestamptz NOT NULL,
    amount        numeric(20, 0) NOT NULL CHECK (amount > 0),
    surplus_wh    bigint NOT NULL CHECK (surplus_wh > 0),
    tx_signature  text NOT NULL,
    slot          bigint,
    minted_at     timestamptz NOT NULL DEFAULT now(),
    UNIQUE (meter_id, window_start)
);
CREATE INDEX token_mints_sig_idx ON token_mints (tx_signature);

-- Energy an owner has put up for sale and not yet released: the order book (a later issue)
-- inserts a row when a sell order escrows energy and deletes it when the order is cancelled.
-- Surplus available to sell = accepted surplus of the owner's meters - these reservations.
CREATE TABLE surplus_reservations (
    ref           text PRIMARY KEY,  -- e.g. the order id
    owner_wallet  text NOT NULL REFERENCES users (wallet),
    wh            bigint NOT NULL CHECK (wh > 0),
    created_at    timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX surplus_reservations_owner_idx ON surplus_reservations (owner_wallet);

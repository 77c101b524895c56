-- The trading API (issue 11): sign-in nonces, idempotency keys, orders, trades (settlement
-- outbox), the indexer's cursor and event log. Amounts are base units (10^6 per GRXE / GRX);
-- prices are payment base units per 1 GRXE.

-- Sign-In-With-Solana nonces: single-use (used_at set once, atomically), 5-minute life.
CREATE TABLE auth_nonces (
    nonce       text PRIMARY KEY CHECK (nonce ~ '^[A-Za-z0-9]{8,64}$'),
    wallet      text NOT NULL,
    issued_at   timestamptz NOT NULL,
    expires_at  timestamptz NOT NULL,
    used_at     timestamptz
);
CREATE INDEX auth_nonces_expiry_idx ON auth_nonces (expires_at);

-- IETF draft "The Idempotency-Key HTTP Header Field": per wallet and key, the request's
-- fingerprint and (once finished) the stored response.
CREATE TABLE idempotency_keys (
    wallet        text NOT NULL,
    key           text NOT NULL CHECK (length(key) BETWEEN 1 AND 255),
    fingerprint   text NOT NULL,
    status_code   integer,          -- NULL while the first request is in flight
    response      jsonb,
    created_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (wallet, key)
);

CREATE SEQUENCE order_ids;

-- Every transaction the API builds for a user to sign (registration, order, cancel).
-- ``message`` is the exact message the API built: a signed transaction is accepted only if
-- its message is these bytes and every required signature verifies.
CREATE TABLE prepared_txs (
    id                 bigserial PRIMARY KEY,
    wallet             text NOT NULL,
    kind               text NOT NULL CHECK (kind IN ('register', 'order', 'cancel')),
    order_id           bigint,
    message            bytea NOT NULL,
    last_valid_height  bigint NOT NULL,
    status             text NOT NULL DEFAULT 'prepared'
                       CHECK (status IN ('prepared', 'submitted', 'confirmed', 'failed')),
    reason             text,
    tx_signature       text,
    slot               bigint,
    created_at         timestamptz NOT NULL DEFAULT now(),
    updated_at         timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX prepared_txs_wallet_idx ON prepared_txs (wallet, id DESC);

-- Orders as the API prepared them; the chain's OrderCreated makes one 'open' (in the book).
CREATE TABLE orders (
    id              bigint PRIMARY KEY,          -- the on-chain order_id (PDA seed)
    market          text NOT NULL,
    owner           text NOT NULL,
    side            text NOT NULL CHECK (side IN ('sell', 'buy')),
    price           bigint NOT NULL CHECK (price > 0),
    amount          bigint NOT NULL CHECK (amount > 0),
    remaining       bigint NOT NULL CHECK (remaining >= 0 AND remaining <= amount),
    escrow          bigint NOT NULL CHECK (escrow >= 0),
    time_in_force   text NOT NULL,
    stp_mode        text NOT NULL,
    status          text NOT NULL DEFAULT 'prepared' CHECK (status IN
                    ('prepared', 'open', 'filled', 'cancelling', 'cancelled', 'failed', 'removed')),
    reason          text,
    tx_signature    text,
    book_seq        bigint,                      -- time priority: order of confirmation
    in_engine       boolean NOT NULL DEFAULT false,  -- fed to the matcher's engine
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now()
);
CREATE SEQUENCE order_book_seq;

-- The matcher's engine sequence per market (the feed's sequence number): stored with the
-- trades it produced, so a restarted matcher restores the engine from the open orders at
-- exactly this seq.
CREATE TABLE market_state (
    market      text PRIMARY KEY,
    seq         bigint NOT NULL DEFAULT 0,
    fee_bps     integer,   -- as last read from the market account (an API starting during a chain outage uses it)
    updated_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX orders_owner_idx ON orders (owner, created_at DESC);
CREATE INDEX orders_book_idx ON orders (market, book_seq) WHERE status IN ('open', 'cancelling');

-- One row per engine trade: the settlement outbox. 'sent' rows carry the signed transaction
-- (and so its signature) *before* it is sent, so a restarted settler asks the chain about
-- that signature before it sends anything again.
CREATE TABLE trades (
    id              bigserial PRIMARY KEY,
    market          text NOT NULL,
    market_seq      bigint NOT NULL,
    sell_order      bigint NOT NULL REFERENCES orders (id),
    buy_order       bigint NOT NULL REFERENCES orders (id),
    seller          text NOT NULL,
    buyer           text NOT NULL,
    amount          bigint NOT NULL CHECK (amount > 0),
    price           bigint NOT NULL CHECK (price > 0),   -- the sell price (what the program pays)
    payment         bigint NOT NULL CHECK (payment >= 0),
    fee             bigint NOT NULL CHECK (fee >= 0),
    status          text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'sent', 'confirmed', 'failed')),
    reason          text,
    attempts        integer NOT NULL DEFAULT 0,
    lease_until     timestamptz,
    signed_tx       bytea,
    last_valid_height bigint,
    tx_signature    text,
    slot            bigint,
    created_at      timestamptz NOT NULL DEFAULT now(),
    confirmed_at    timestamptz,
    UNIQUE (market, market_seq)
);
CREATE INDEX trades_open_idx ON trades (id) WHERE status IN ('pending', 'sent');
CREATE INDEX trades_seller_idx ON trades (seller, id DESC);
CREATE INDEX trades_buyer_idx ON trades (buyer, id DESC);

-- The indexer: where it is (per followed address) and what it has applied (idempotent).
CREATE TABLE chain_cursor (
    name            text PRIMARY KEY,
    last_signature  text,
    slot            bigint NOT NULL DEFAULT 0,
    updated_at      timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE chain_events (
    signature   text NOT NULL,
    idx         integer NOT NULL,
    slot        bigint NOT NULL,
    program     text NOT NULL,
    name        text NOT NULL,
    data        jsonb NOT NULL,
    indexed_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (signature, idx)
);
CREATE INDEX chain_events_name_idx ON chain_events (name, slot);

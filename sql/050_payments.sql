-- THB payments (issue 12): cross-chain atomic swaps THBC (EVM) <-> GRXE (Solana) and the
-- relayer's record of every step. The chains are the truth; these rows are what the relayer
-- resumes from after a restart and what the API shows (quote, status, history).
CREATE TABLE IF NOT EXISTS payment_swaps (
    swap_id        uuid PRIMARY KEY,
    created_at     timestamptz NOT NULL DEFAULT now(),
    updated_at     timestamptz NOT NULL DEFAULT now(),
    buyer_wallet   text NOT NULL,            -- Solana (receives GRXE)
    seller_wallet  text NOT NULL,            -- Solana (sells GRXE)
    buyer_evm      text NOT NULL,            -- EVM (locks THBC)
    seller_evm     text NOT NULL,            -- EVM (receives THBC)
    sell_order_id  bigint NOT NULL CHECK (sell_order_id >= 0),
    grxe           bigint NOT NULL CHECK (grxe > 0),          -- GRXE base units (1e6 = 1 kWh)
    grx            bigint NOT NULL CHECK (grx > 0),           -- the seller's GRX price of it
    thb_per_grx    numeric NOT NULL CHECK (thb_per_grx > 0),  -- rate fixed at match time
    thbc           numeric(78, 0) NOT NULL CHECK (thbc > 0),  -- THBC base units (1e6 = 1 THB)
    hashlock       bytea NOT NULL UNIQUE CHECK (octet_length(hashlock) = 32),
    evm_lock_id    bytea CHECK (octet_length(evm_lock_id) = 32),
    evm_deadline   bigint,                   -- EVM block time
    sol_deadline   bigint,                   -- Solana unix time
    evm_leg        text NOT NULL DEFAULT 'none' CHECK (evm_leg IN ('none', 'locked', 'claimed', 'refunded')),
    sol_leg        text NOT NULL DEFAULT 'none' CHECK (sol_leg IN ('none', 'locked', 'claimed', 'refunded')),
    status         text NOT NULL DEFAULT 'quoted',
    -- given by the buyer when it asks the relayer to claim for it (it becomes public by the claim)
    buyer_secret   bytea CHECK (buyer_secret IS NULL OR octet_length(buyer_secret) = 32),
    preimage       bytea CHECK (preimage IS NULL OR octet_length(preimage) = 32),
    completed_at   timestamptz
);

CREATE INDEX IF NOT EXISTS payment_swaps_open_idx ON payment_swaps (created_at)
    WHERE status NOT IN ('completed', 'refunded', 'abandoned', 'broken');
CREATE INDEX IF NOT EXISTS payment_swaps_buyer_idx ON payment_swaps (buyer_wallet, created_at);
CREATE INDEX IF NOT EXISTS payment_swaps_seller_idx ON payment_swaps (seller_wallet, created_at);

CREATE TABLE IF NOT EXISTS payment_swap_steps (
    id        bigserial PRIMARY KEY,
    swap_id   uuid NOT NULL REFERENCES payment_swaps (swap_id),
    at        timestamptz NOT NULL DEFAULT now(),
    step      text NOT NULL,                 -- observed | submitted | refused | status
    detail    jsonb NOT NULL DEFAULT '{}'
);
CREATE INDEX IF NOT EXISTS payment_swap_steps_swap_idx ON payment_swap_steps (swap_id, id);

-- An EVM address linked to a Solana wallet by a Sign-In-With-Ethereum signature.
CREATE TABLE IF NOT EXISTS evm_links (
    wallet       text PRIMARY KEY,
    evm_address  text NOT NULL,
    message      text NOT NULL,
    signature    text NOT NULL,
    linked_at    timestamptz NOT NULL DEFAULT now()
);

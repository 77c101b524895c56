"""The trading program's hash-time-locked fills and release_order (appended to trading's spec)."""

from __future__ import annotations

from specs.common import ARR32, PK, acc, sys_prog, tok_prog

# Hash-time-locked fills (THB payments, DESIGN §7): a seller moves part of a sell order into a
# hash lock for a buyer who pays on another chain. Appended after the market's own
# instructions, accounts, events and errors so every existing discriminator and code is unchanged.
HTLC_INSTRUCTIONS = [
    {
        "name": "hashlock_fill",
        "docs": (
            'Seller moves `amount` GRXE of its sell order into a hash lock PDA ["hash_lock", seller, hashlock] for `buyer`. '
            "The GRXE stays in the energy vault, now owed to the lock. deadline is Solana unix time and must leave at least "
            "HASHLOCK_MIN_LEAD_S and at most HASHLOCK_MAX_LEAD_S."
        ),
        "accounts": [
            acc("seller", True, True, "Sell order owner; pays the lock account's rent"),
            acc("market"),
            acc("sell_order", True, docs='PDA ["order", seller, order_id LE], side sell'),
            acc("buyer", docs="Receiver of the GRXE when the lock is claimed"),
            acc("hash_lock", True, docs='PDA ["hash_lock", seller, hashlock]'),
            sys_prog(),
        ],
        "args": [
            {"name": "amount", "type": "u64"},
            {"name": "hashlock", "type": ARR32},
            {"name": "deadline", "type": "i64"},
        ],
    },
    {
        "name": "hashlock_claim",
        "docs": (
            "Anyone submits the secret before the deadline: exactly 32 bytes whose SHA-256 is the hash lock. The GRXE goes "
            "to the stored buyer's token account, the secret is kept in the lock account."
        ),
        "accounts": [
            acc("market"),
            acc("hash_lock", True),
            acc("buyer_energy_account", True, docs="GRXE token account owned by the lock's buyer"),
            acc("energy_vault", True),
            tok_prog(),
        ],
        "args": [{"name": "preimage", "type": "bytes"}],
    },
    {
        "name": "hashlock_refund",
        "docs": "Anyone submits at or after the deadline: the GRXE goes back to the stored seller's token account.",
        "accounts": [
            acc("market"),
            acc("hash_lock", True),
            acc("seller_energy_account", True, docs="GRXE token account owned by the lock's seller"),
            acc("energy_vault", True),
            tok_prog(),
        ],
        "args": [],
    },
    {
        "name": "hashlock_close",
        "docs": (
            "The lock's seller closes a claimed or refunded lock: its rent goes back to the seller, who paid it. Only the "
            "seller signs, because a claimed lock's account is where the seller reads the secret it claims THBC with."
        ),
        "accounts": [
            acc("seller", True, True, "The lock's seller; receives the account's lamports"),
            acc("market"),
            acc("hash_lock", True),
        ],
        "args": [],
    },
]

# release_order (programs/trading/src/release_order.rs): appended after the HTLC instructions,
# so every existing discriminator is unchanged.
RELEASE_INSTRUCTIONS = [
    {
        "name": "release_order",
        "docs": (
            "Market authority returns the escrow of an order the off-chain engine removed (IOC/FOK remainder, "
            "self-trade prevention). The escrow goes only to refund_account, which must be the order owner's token "
            "account of the order's mint; the order is closed with its rent to the owner. Emits OrderCancelled."
        ),
        "accounts": [
            acc("authority", False, True),
            acc("market"),
            acc("order", True),
            acc("owner", True, docs="the order's owner (receives the rent)"),
            acc("refund_account", True, docs="the owner's energy (sell) or payment (buy) token account"),
            acc("vault", True, docs="energy_vault for sell orders, payment_vault for buy orders"),
            tok_prog(),
        ],
        "args": [],
    },
]

HTLC_ACCOUNT = {
    "name": "HashLock",
    "fields": [
        ("market", PK),
        ("seller", PK),
        ("buyer", PK),
        ("sell_order", PK),
        ("amount", "u64"),
        ("hashlock", ARR32),
        ("deadline", "i64"),
        ("state", "u8"),
        ("preimage", ARR32),
        ("created_at", "i64"),
        ("bump", "u8"),
    ],
}

HTLC_EVENTS = [
    {
        "name": "HashLocked",
        "fields": [
            ("hash_lock", PK),
            ("sell_order", PK),
            ("seller", PK),
            ("buyer", PK),
            ("amount", "u64"),
            ("hashlock", ARR32),
            ("deadline", "i64"),
        ],
    },
    {
        "name": "HashClaimed",
        "fields": [("hash_lock", PK), ("buyer", PK), ("amount", "u64"), ("hashlock", ARR32), ("preimage", ARR32)],
    },
    {"name": "HashRefunded", "fields": [("hash_lock", PK), ("seller", PK), ("amount", "u64"), ("hashlock", ARR32)]},
    {"name": "HashLockClosed", "fields": [("hash_lock", PK), ("seller", PK), ("hashlock", ARR32), ("lamports", "u64")]},
]

HTLC_ERRORS = [
    ("HashLockNotOpen", "Hash lock was already claimed or refunded"),
    ("HashLockExpired", "Hash lock deadline has passed: it can only be refunded"),
    ("HashLockNotExpired", "Hash lock deadline has not passed: it cannot be refunded yet"),
    ("BadPreimageLength", "Preimage must be exactly 32 bytes"),
    ("WrongPreimage", "SHA-256 of the preimage is not the hash lock"),
    ("DeadlineOutOfRange", "Hash lock deadline leaves too little or too much time"),
    ("NotDeployer", "Only the compiled-in deployer key may initialise a market"),
    ("HashLockStillOpen", "Hash lock is still open: it is closed only once claimed or refunded"),
]

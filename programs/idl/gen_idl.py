#!/usr/bin/env python3
"""Single source of truth for the GridTokenX program interfaces.

Writes, from the SPECS below:
  programs/idl/<program>.json       Anchor-spec IDL (new format, spec 0.1.0) for anchorpy
  programs/<program>/src/generated.rs  discriminators, account sizes and error codes used by the Rust code

Run: python3 programs/idl/gen_idl.py         (rewrites the files)
     python3 programs/idl/gen_idl.py --check (exit 1 if any file is stale)

Discriminators follow Anchor: sha256("global:<ix>")[:8], sha256("account:<Name>")[:8],
sha256("event:<Name>")[:8]. All integers little-endian (borsh). Custom errors start at 6000.
"""

from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
PROGRAMS = HERE.parent
IDS = json.loads((PROGRAMS / "program_ids.json").read_text())


def disc(prefix: str, name: str) -> list[int]:
    return list(hashlib.sha256(f"{prefix}:{name}".encode()).digest()[:8])


def snake(name: str) -> str:
    out = ""
    for i, c in enumerate(name):
        if c.isupper() and i:
            out += "_"
        out += c.lower()
    return out


# account meta helpers: (name, writable, signer, docs)
def acc(name, w=False, s=False, docs=None, address=None):
    d = {"name": name}
    if w:
        d["writable"] = True
    if s:
        d["signer"] = True
    if docs:
        d["docs"] = [docs]
    if address:
        d["address"] = address
    return d


SYSTEM = "11111111111111111111111111111111"
TOKEN = "TokenkegQfeZyiNwAJbNbGKPFXCWuBvf9Ss623VQ5DA"
INSTRUCTIONS_SYSVAR = "Sysvar1nstructions1111111111111111111111111"


def sys_prog():
    return acc("system_program", address=SYSTEM)


def tok_prog():
    return acc("token_program", address=TOKEN)


PK = "pubkey"
ARR32 = {"array": ["u8", 32]}

TYPE_SIZES = {"u8": 1, "i8": 1, "u16": 2, "u32": 4, "i32": 4, "u64": 8, "i64": 8, "u128": 16, "bool": 1, "pubkey": 32}


def fsize(t) -> int:
    if isinstance(t, str):
        return TYPE_SIZES[t]
    if "array" in t:
        return fsize(t["array"][0]) * t["array"][1]
    raise ValueError(t)


COMMON_ERRORS = [
    ("Unauthorized", "Signer is not the required authority"),
    ("MissingSignature", "A required signer did not sign"),
    ("InvalidPda", "Account address does not match the expected PDA"),
    ("InvalidAccountOwner", "Account is owned by an unexpected program"),
    ("InvalidDiscriminator", "Account data has the wrong discriminator or size"),
    ("InvalidInstruction", "Unknown instruction discriminator or malformed instruction data"),
    ("ArithmeticOverflow", "Checked arithmetic overflowed"),
    ("InvalidProgramAccount", "A program account (system/token/registry) is not the expected one"),
    ("NotWritable", "An account that must be writable is not"),
    ("InvalidArgument", "An instruction argument is out of range"),
]

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

SPECS = {
    "registry": {
        "docs": "GridTokenX registry: users (prosumer/consumer), meters (ed25519 pubkey, owner, edge, rated power, interval, status), authority.",
        "instructions": [
            {
                "name": "initialize",
                "docs": 'Create the registry config PDA ["registry"]. Only the compiled-in deployer key may call it; `authority` becomes the registry authority.',
                "accounts": [
                    acc("deployer", True, True, "The compiled-in deployer key (programs/program_ids.json), payer"),
                    acc("config", True, docs='PDA ["registry"]'),
                    sys_prog(),
                ],
                "args": [{"name": "authority", "type": PK}],
            },
            {
                "name": "register_user",
                "docs": "Register the signing wallet as a user. user_type: 0 = prosumer, 1 = consumer.",
                "accounts": [
                    acc("wallet", True, True, "The user's wallet (payer)"),
                    acc("config", True, docs='PDA ["registry"]'),
                    acc("user", True, docs='PDA ["user", wallet]'),
                    sys_prog(),
                ],
                "args": [{"name": "user_type", "type": "u8"}],
            },
            {
                "name": "register_meter",
                "docs": (
                    "Enrol a meter key. Signed by the owner (payer, must be a registered user) AND the registry "
                    "authority; the instruction just before it must be an Ed25519-program check of the meter "
                    "key's signature over 'gridtokenx/enrol/v1' NUL | meter | owner | edge_id (proof of possession)."
                ),
                "accounts": [
                    acc("owner", True, True, "Meter owner wallet (payer); must have a user account"),
                    acc("authority", False, True, "Registry authority approving the enrolment"),
                    acc("config", True, docs='PDA ["registry"]'),
                    acc("owner_user", True, docs='PDA ["user", owner] (meter_count += 1)'),
                    acc("meter_account", True, docs='PDA ["meter", meter]'),
                    sys_prog(),
                    acc("instructions", docs="Instructions sysvar", address=INSTRUCTIONS_SYSVAR),
                ],
                "args": [
                    {"name": "meter", "type": PK},
                    {"name": "edge_id", "type": ARR32},
                    {"name": "rated_power_w", "type": "u64"},
                    {"name": "interval_s", "type": "u32"},
                ],
            },
            {
                "name": "set_meter_status",
                "docs": "Authority sets a meter's status: 0 = active, 1 = revoked (and back: un-revoke).",
                "accounts": [
                    acc("authority", False, True),
                    acc("config", docs='PDA ["registry"]'),
                    acc("meter_account", True, docs='PDA ["meter", meter]'),
                ],
                "args": [{"name": "status", "type": "u8"}],
            },
            {
                "name": "update_meter",
                "docs": (
                    "Authority changes a meter's rated power and interval (0 = keep). A new interval takes "
                    "effect for windows starting at or after the change."
                ),
                "accounts": [
                    acc("authority", False, True),
                    acc("config", docs='PDA ["registry"]'),
                    acc("meter_account", True, docs='PDA ["meter", meter]'),
                ],
                "args": [{"name": "rated_power_w", "type": "u64"}, {"name": "interval_s", "type": "u32"}],
            },
            {
                "name": "propose_authority",
                "docs": "Current authority proposes new_authority; nothing changes until it accepts.",
                "accounts": [acc("authority", False, True), acc("config", True, docs='PDA ["registry"]')],
                "args": [{"name": "new_authority", "type": PK}],
            },
            {
                "name": "accept_authority",
                "docs": "The proposed authority accepts (signs) and becomes the authority.",
                "accounts": [acc("new_authority", False, True), acc("config", True, docs='PDA ["registry"]')],
                "args": [],
            },
        ],
        "accounts": [
            {
                "name": "RegistryConfig",
                "fields": [
                    ("authority", PK),
                    ("pending_authority", PK),
                    ("user_count", "u64"),
                    ("meter_count", "u64"),
                    ("bump", "u8"),
                ],
            },
            {
                "name": "UserAccount",
                "fields": [
                    ("wallet", PK),
                    ("user_type", "u8"),
                    ("registered_at", "i64"),
                    ("meter_count", "u32"),
                    ("bump", "u8"),
                ],
            },
            {
                "name": "MeterAccount",
                "fields": [
                    ("meter", PK),
                    ("owner", PK),
                    ("edge_id", ARR32),
                    ("rated_power_w", "u64"),
                    ("status", "u8"),
                    ("registered_at", "i64"),
                    ("bump", "u8"),
                    ("interval_s", "u32"),
                ],
            },
        ],
        "events": [
            {"name": "UserRegistered", "fields": [("wallet", PK), ("user_type", "u8")]},
            {
                "name": "MeterRegistered",
                "fields": [
                    ("meter", PK),
                    ("owner", PK),
                    ("edge_id", ARR32),
                    ("rated_power_w", "u64"),
                    ("interval_s", "u32"),
                ],
            },
            {"name": "MeterStatusChanged", "fields": [("meter", PK), ("status", "u8")]},
            {"name": "MeterUpdated", "fields": [("meter", PK), ("rated_power_w", "u64"), ("interval_s", "u32")]},
            {"name": "AuthorityProposed", "fields": [("authority", PK), ("proposed", PK)]},
            {"name": "AuthorityRotated", "fields": [("old_authority", PK), ("new_authority", PK)]},
        ],
        "errors": COMMON_ERRORS
        + [
            ("InvalidUserType", "user_type must be 0 (prosumer) or 1 (consumer)"),
            ("InvalidMeterStatus", "status must be 0 (active) or 1 (revoked)"),
            ("UserNotRegistered", "The meter owner has no user account"),
            ("InvalidRatedPower", "rated_power_w must be in 1..=MAX_RATED_POWER_W (10 MW)"),
            ("InvalidInterval", "interval_s must be > 0 and divide 86400"),
            (
                "MissingProofOfPossession",
                "No Ed25519 check of the meter key's enrolment signature before this instruction",
            ),
            ("NotDeployer", "Only the compiled-in deployer key may initialise"),
            ("NoPendingAuthority", "No authority proposal for this signer"),
        ],
    },
    "energy_token": {
        "docs": (
            "GridTokenX GRXE energy token: PDA mint authority; mints only meter-signed readings (Ed25519 program "
            "check read back through the instructions sysvar), amount computed on chain, each window once and in "
            "time order through a per-meter high-water mark; minters bound to edges."
        ),
        "instructions": [
            {
                "name": "initialize",
                "docs": (
                    'Create config PDA ["config"] and the GRXE mint PDA ["mint"] (6 decimals, mint authority PDA '
                    '["mint_authority"], no freeze authority). Only the compiled-in deployer key may call it; '
                    "`admin` becomes the token admin."
                ),
                "accounts": [
                    acc("deployer", True, True, "The compiled-in deployer key (programs/program_ids.json), payer"),
                    acc("config", True, docs='PDA ["config"]'),
                    acc("mint", True, docs='PDA ["mint"] (created here as an SPL Token mint)'),
                    acc("mint_authority", docs='PDA ["mint_authority"]'),
                    tok_prog(),
                    sys_prog(),
                ],
                "args": [{"name": "registry_program", "type": PK}, {"name": "admin", "type": PK}],
            },
            {
                "name": "add_minter",
                "docs": "Admin authorises a minter key for the meters of one edge.",
                "accounts": [
                    acc("admin", True, True),
                    acc("config", True, docs='PDA ["config"]'),
                    acc("minter_account", True, docs='PDA ["minter", minter, edge_id]'),
                    sys_prog(),
                ],
                "args": [{"name": "minter", "type": PK}, {"name": "edge_id", "type": ARR32}],
            },
            {
                "name": "remove_minter",
                "docs": "Admin removes a minter from an edge; the minter account is closed (rent to admin).",
                "accounts": [
                    acc("admin", True, True),
                    acc("config", True, docs='PDA ["config"]'),
                    acc("minter_account", True, docs='PDA ["minter", minter, edge_id]'),
                ],
                "args": [{"name": "minter", "type": PK}, {"name": "edge_id", "type": ARR32}],
            },
            {
                "name": "mint_readings",
                "docs": (
                    "Mint GRXE for 1..=8 consecutive windows of one meter. Each element of `readings` is the "
                    "canonical signed bytes of gridx/wire.py. The instruction just before this one must be an "
                    "Ed25519-program instruction with one signature per reading, in order, by the meter's enrolled "
                    "key, whose message points at exactly that reading inside this instruction's data. Each window "
                    "must be aligned to the meter's interval and exactly that long, start at or after the meter's "
                    "registration and the end of the last minted window, and end at or before the clock. Amount = "
                    "(produced_wh - consumed_wh) * 1000, which must be > 0, with produced within rated power."
                ),
                "accounts": [
                    acc("minter", True, True, "Authorised minter of the meter's edge (pays the mint state once)"),
                    acc("minter_account", True, docs='PDA ["minter", minter, meter edge_id] (minted_total += amount)'),
                    acc("config", True, docs='PDA ["config"]'),
                    acc("meter_account", docs='registry PDA ["meter", meter] (owner = registry program)'),
                    acc("owner_user", docs='registry PDA ["user", meter owner] (must be prosumer)'),
                    acc("mint_state", True, docs='PDA ["mint_state", meter]: high-water mark, created on first mint'),
                    acc("mint", True, docs='GRXE mint PDA ["mint"]'),
                    acc("mint_authority", docs='PDA ["mint_authority"]'),
                    acc(
                        "owner_token_account",
                        True,
                        docs="GRXE token account owned by the meter owner (normally the ATA)",
                    ),
                    tok_prog(),
                    sys_prog(),
                    acc("instructions", docs="Instructions sysvar", address=INSTRUCTIONS_SYSVAR),
                ],
                "args": [{"name": "readings", "type": {"vec": "bytes"}}],
            },
        ],
        "accounts": [
            {
                "name": "TokenConfig",
                "fields": [
                    ("admin", PK),
                    ("registry_program", PK),
                    ("mint", PK),
                    ("total_minted", "u64"),
                    ("minter_count", "u32"),
                    ("bump", "u8"),
                    ("mint_bump", "u8"),
                    ("mint_authority_bump", "u8"),
                ],
            },
            {
                "name": "Minter",
                "fields": [
                    ("minter", PK),
                    ("added_by", PK),
                    ("minted_total", "u64"),
                    ("bump", "u8"),
                    ("edge_id", ARR32),
                ],
            },
            {
                "name": "MintState",
                "fields": [
                    ("meter", PK),
                    ("next_window_start", "i64"),
                    ("last_seq", "u64"),
                    ("last_reading_hash", ARR32),
                    ("minted_total", "u64"),
                    ("windows_minted", "u64"),
                    ("bump", "u8"),
                ],
            },
        ],
        "events": [
            {
                "name": "TokensMinted",
                "fields": [
                    ("meter", PK),
                    ("owner", PK),
                    ("window_start", "i64"),
                    ("window_end", "i64"),
                    ("windows", "u8"),
                    ("amount", "u64"),
                    ("minter", PK),
                    ("first_seq", "u64"),
                    ("last_seq", "u64"),
                    ("last_reading_hash", ARR32),
                ],
            },
            {"name": "MinterAdded", "fields": [("minter", PK), ("edge_id", ARR32)]},
            {"name": "MinterRemoved", "fields": [("minter", PK), ("edge_id", ARR32)]},
        ],
        "errors": COMMON_ERRORS
        + [
            ("NotMinter", "Signer is not an authorised minter"),
            ("MeterNotActive", "Meter is revoked"),
            ("NotProsumer", "Meter owner is not a prosumer"),
            ("ZeroAmount", "A reading's surplus (produced - consumed) must be > 0"),
            ("ExceedsRatedPower", "produced_wh exceeds rated_power_w over the window"),
            ("InvalidWindow", "Window does not end after it starts or starts before 0"),
            ("WindowAlreadyMinted", "Window starts before the end of the last minted window of this meter"),
            ("InvalidMint", "Mint account does not match the configured GRXE mint"),
            ("InvalidTokenAccount", "Token account mint or owner mismatch"),
            ("MeterMismatch", "Reading or mint state belongs to another meter"),
            ("MissingMeterSignature", "No Ed25519-program instruction with one signature per reading before this one"),
            ("WrongSigner", "A reading is signed by a key other than the meter's enrolled key"),
            ("SignedBytesMismatch", "The Ed25519 check does not cover exactly this instruction's reading bytes"),
            ("MalformedReading", "Reading bytes are not a canonical v1 reading"),
            ("WindowNotAligned", "Window start is not aligned to the meter's interval"),
            ("WindowLengthMismatch", "Window length differs from the meter's interval"),
            ("WindowInFuture", "Window ends after the cluster clock"),
            ("WindowBeforeRegistration", "Window starts before the meter was registered"),
            ("WrongEdge", "The minter is not authorised for the meter's edge"),
            ("NotDeployer", "Only the compiled-in deployer key may initialise"),
            ("TooManyReadings", "1..=8 readings per instruction"),
        ],
    },
    "trading": {
        "docs": (
            "GridTokenX P2P energy market. Prices are payment-token base units per 1 GRXE (= 1,000,000 energy base units). "
            "Trades execute at the sell order's price; payment = floor(amount * price / 1e6); fee = floor(payment * fee_bps / 10000) "
            "is taken from the seller's proceeds."
        ),
        "instructions": [
            {
                "name": "initialize_market",
                "docs": (
                    'Create market PDA ["market", energy_mint, payment_mint] and its two vault token accounts (owned by '
                    "the market PDA). Only the compiled-in deployer key may call it; `authority` becomes the market "
                    "authority (matcher)."
                ),
                "accounts": [
                    acc("deployer", True, True, "The compiled-in deployer key (programs/program_ids.json), payer"),
                    acc("market", True, docs='PDA ["market", energy_mint, payment_mint]'),
                    acc("energy_mint"),
                    acc("payment_mint"),
                    acc("energy_vault", True, docs='PDA ["energy_vault", market] (token account created here)'),
                    acc("payment_vault", True, docs='PDA ["payment_vault", market] (token account created here)'),
                    acc("fee_account", docs="Payment-mint token account receiving fees"),
                    tok_prog(),
                    sys_prog(),
                ],
                "args": [{"name": "fee_bps", "type": "u16"}, {"name": "authority", "type": PK}],
            },
            {
                "name": "create_sell_order",
                "docs": "Escrow `amount` GRXE base units from the seller into the energy vault.",
                "accounts": [
                    acc("owner", True, True),
                    acc("market"),
                    acc("order", True, docs='PDA ["order", owner, order_id LE]'),
                    acc("owner_energy_account", True),
                    acc("energy_vault", True),
                    tok_prog(),
                    sys_prog(),
                ],
                "args": [
                    {"name": "order_id", "type": "u64"},
                    {"name": "amount", "type": "u64"},
                    {"name": "price", "type": "u64"},
                ],
            },
            {
                "name": "create_buy_order",
                "docs": "Escrow ceil(amount * price / 1e6) payment base units from the buyer into the payment vault.",
                "accounts": [
                    acc("owner", True, True),
                    acc("market"),
                    acc("order", True, docs='PDA ["order", owner, order_id LE]'),
                    acc("owner_payment_account", True),
                    acc("payment_vault", True),
                    tok_prog(),
                    sys_prog(),
                ],
                "args": [
                    {"name": "order_id", "type": "u64"},
                    {"name": "amount", "type": "u64"},
                    {"name": "price", "type": "u64"},
                ],
            },
            {
                "name": "cancel_order",
                "docs": "Owner cancels; the remaining escrow goes back to refund_account (energy for sell, payment for buy) and the order is closed.",
                "accounts": [
                    acc("owner", True, True),
                    acc("market"),
                    acc("order", True),
                    acc("refund_account", True),
                    acc("vault", True, docs="energy_vault for sell orders, payment_vault for buy orders"),
                    tok_prog(),
                ],
                "args": [],
            },
            {
                "name": "match_order",
                "docs": (
                    "Market authority settles `amount` energy base units of sell_order against buy_order at the sell price. "
                    "Refuses self-trade and buy.price < sell.price. Filled orders are closed (rent to their owners; a buy order's leftover escrow "
                    "goes to buyer_payment_account)."
                ),
                "accounts": [
                    acc("authority", False, True),
                    acc("market", True),
                    acc("sell_order", True),
                    acc("buy_order", True),
                    acc("seller", True, docs="sell_order.owner (receives rent when closed)"),
                    acc("buyer", True, docs="buy_order.owner (receives rent when closed)"),
                    acc("seller_payment_account", True, docs="Seller's payment-mint token account"),
                    acc("buyer_energy_account", True, docs="Buyer's GRXE token account"),
                    acc("buyer_payment_account", True, docs="Buyer's payment-mint token account (escrow refund)"),
                    acc("fee_account", True),
                    acc("energy_vault", True),
                    acc("payment_vault", True),
                    tok_prog(),
                ],
                "args": [{"name": "amount", "type": "u64"}],
            },
            *HTLC_INSTRUCTIONS,
            *RELEASE_INSTRUCTIONS,
        ],
        "accounts": [
            {
                "name": "Market",
                "fields": [
                    ("authority", PK),
                    ("energy_mint", PK),
                    ("payment_mint", PK),
                    ("energy_vault", PK),
                    ("payment_vault", PK),
                    ("fee_account", PK),
                    ("fee_bps", "u16"),
                    ("trade_count", "u64"),
                    ("volume", "u64"),
                    ("bump", "u8"),
                    ("energy_vault_bump", "u8"),
                    ("payment_vault_bump", "u8"),
                ],
            },
            {
                "name": "Order",
                "fields": [
                    ("market", PK),
                    ("owner", PK),
                    ("order_id", "u64"),
                    ("side", "u8"),
                    ("price", "u64"),
                    ("amount", "u64"),
                    ("remaining", "u64"),
                    ("escrow_remaining", "u64"),
                    ("created_at", "i64"),
                    ("bump", "u8"),
                ],
            },
            HTLC_ACCOUNT,
        ],
        "events": [
            {
                "name": "OrderCreated",
                "fields": [
                    ("order", PK),
                    ("owner", PK),
                    ("order_id", "u64"),
                    ("side", "u8"),
                    ("price", "u64"),
                    ("amount", "u64"),
                    ("escrow", "u64"),
                ],
            },
            {"name": "OrderCancelled", "fields": [("order", PK), ("owner", PK), ("refunded", "u64")]},
            {
                "name": "TradeExecuted",
                "fields": [
                    ("market", PK),
                    ("sell_order", PK),
                    ("buy_order", PK),
                    ("seller", PK),
                    ("buyer", PK),
                    ("amount", "u64"),
                    ("price", "u64"),
                    ("payment", "u64"),
                    ("fee", "u64"),
                ],
            },
            *HTLC_EVENTS,
        ],
        "errors": COMMON_ERRORS
        + [
            ("InvalidFee", "fee_bps must be <= 10000"),
            ("ZeroAmount", "amount must be > 0"),
            ("ZeroPrice", "price must be > 0"),
            ("InvalidSide", "Order has the wrong side for this account slot"),
            ("SelfTrade", "Buyer and seller are the same wallet"),
            ("PriceNotCrossed", "Buy price is below sell price"),
            ("InsufficientRemaining", "Fill amount exceeds an order's remaining amount"),
            ("TradeTooSmall", "Fill amount is too small to pay anything"),
            ("InvalidMint", "Mint does not match the market"),
            ("InvalidTokenAccount", "Token account mint or owner mismatch"),
            ("MarketMismatch", "Order belongs to another market"),
            ("InvalidVault", "Vault does not match the market"),
            ("InvalidFeeAccount", "Fee account does not match the market"),
            *HTLC_ERRORS,
        ],
    },
}


def idl_for(name: str) -> dict:
    spec = SPECS[name]
    ixs = []
    for ix in spec["instructions"]:
        ixs.append(
            {
                "name": ix["name"],
                "docs": [ix["docs"]],
                "discriminator": disc("global", ix["name"]),
                "accounts": ix["accounts"],
                "args": ix["args"],
            }
        )
    types = []
    for a in spec["accounts"] + spec["events"]:
        types.append(
            {"name": a["name"], "type": {"kind": "struct", "fields": [{"name": f, "type": t} for f, t in a["fields"]]}}
        )
    return {
        "address": IDS[name],
        "metadata": {"name": name, "version": "0.1.0", "spec": "0.1.0", "description": spec["docs"]},
        "instructions": ixs,
        "accounts": [{"name": a["name"], "discriminator": disc("account", a["name"])} for a in spec["accounts"]],
        "events": [{"name": e["name"], "discriminator": disc("event", e["name"])} for e in spec["events"]],
        "errors": [{"code": 6000 + i, "name": n, "msg": m} for i, (n, m) in enumerate(spec["errors"])],
        "types": types,
    }


def account_consts(a: dict) -> list[str]:
    out = []
    n = snake(a["name"]).upper()
    out.append(f"pub const DISC_{n}: [u8; 8] = {disc('account', a['name'])};")
    off = 8
    for f, t in a["fields"]:
        out.append(f"pub const {n}_{f.upper()}: usize = {off};")
        off += fsize(t)
    out.append(f"pub const {n}_LEN: usize = {off};")
    out.append("")
    return out


def _b58decode(text: str) -> bytes:
    alphabet = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"
    n = 0
    for ch in text:
        n = n * 58 + alphabet.index(ch)
    raw = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return b"\0" * (len(text) - len(text.lstrip("1"))) + raw


def rust_for(name: str) -> str:
    spec = SPECS[name]
    out = ["// @generated by programs/idl/gen_idl.py -- do not edit by hand.", "#![allow(dead_code)]", ""]
    if name == "energy_token":
        out.append("/// Registry account layouts (read by mint_for_reading).")
        out.append("pub mod registry_layout {")
        for a in SPECS["registry"]["accounts"]:
            if a["name"] in ("UserAccount", "MeterAccount"):
                out.extend("    " + line if line else "" for line in account_consts(a))
        out.append("}")
        out.append("")
        # initialize may only bind the token to our registry: a caller-chosen program id would let
        # whoever initialises first make mint_for_reading trust forged meter accounts
        reg = list(_b58decode(IDS["registry"]))
        out.append(f"/// Registry program id {IDS['registry']}")
        out.append(f"pub const REGISTRY_PROGRAM_ID: [u8; 32] = {reg};")
        out.append("")
    if name in ("registry", "energy_token", "trading"):
        out.append(f"/// Deployer {IDS['deployer']}: the only key that may call initialize")
        out.append(f"pub const DEPLOYER: [u8; 32] = {list(_b58decode(IDS['deployer']))};")
        out.append("")
    pid = IDS[name]
    out.append(f"/// Program id {pid}")
    out.append(f'pub const PROGRAM_ID_STR: &str = "{pid}";')
    out.append("")
    for ix in spec["instructions"]:
        out.append(f"pub const IX_{ix['name'].upper()}: [u8; 8] = {disc('global', ix['name'])};")
    out.append("")
    for a in spec["accounts"]:
        out.extend(account_consts(a))
    for e in spec["events"]:
        n = snake(e["name"]).upper()
        size = 8 + sum(fsize(t) for _, t in e["fields"])
        out.append(f"pub const EV_{n}: [u8; 8] = {disc('event', e['name'])};")
        out.append(f"pub const EV_{n}_LEN: usize = {size};")
    out.append("")
    out.append("#[derive(Clone, Copy, Debug, PartialEq, Eq)]")
    out.append("#[repr(u32)]")
    out.append("pub enum Error {")
    for i, (n, m) in enumerate(spec["errors"]):
        out.append(f"    /// {m}")
        out.append(f"    {n} = {6000 + i},")
    out.append("}")
    out.append("")
    out.append("impl From<Error> for pinocchio::error::ProgramError {")
    out.append("    fn from(e: Error) -> Self {")
    out.append("        pinocchio::error::ProgramError::Custom(e as u32)")
    out.append("    }")
    out.append("}")
    return "\n".join(out) + "\n"


def main() -> int:
    check = "--check" in sys.argv
    stale = []
    for name in SPECS:
        files = {
            HERE / f"{name}.json": json.dumps(idl_for(name), indent=2) + "\n",
            PROGRAMS / name / "src" / "generated.rs": rust_for(name),
        }
        for path, text in files.items():
            if check:
                if not path.exists() or path.read_text() != text:
                    stale.append(str(path))
            else:
                path.write_text(text)
    if stale:
        print("stale generated files:", *stale, sep="\n  ")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())

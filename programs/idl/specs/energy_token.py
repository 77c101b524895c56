"""The energy_token program's interface: the GRXE mint, minters and meter-signed minting."""

from __future__ import annotations

from specs.common import ARR32, COMMON_ERRORS, INSTRUCTIONS_SYSVAR, PK, acc, sys_prog, tok_prog

ENERGY_TOKEN = {
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
}

"""The registry program's interface: users, meters and the registry authority."""

from __future__ import annotations

from specs.common import ARR32, COMMON_ERRORS, INSTRUCTIONS_SYSVAR, PK, acc, sys_prog

REGISTRY = {
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
}

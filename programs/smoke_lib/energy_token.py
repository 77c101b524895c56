"""energy_token scenario: initialise, minters, meter-signed minting and every refusal of it."""

from __future__ import annotations

from dataclasses import dataclass

from solders.instruction import Instruction
from solders.keypair import Keypair
from solders.pubkey import Pubkey

from smoke_lib.common import (
    DEPLOYER,
    IDS,
    INSTRUCTIONS,
    SYSTEM,
    TOKEN,
    Chain,
    ata,
    create_ata_ix,
    pda,
    reading,
)
from smoke_lib.registry import EDGE_ID, T0, Registry, meter_pda, set_meter_status_ix, user_pda


@dataclass
class Token:
    admin: Keypair
    config: Pubkey
    grxe: Pubkey  # the GRXE mint
    mint_auth: Pubkey
    gateway: Keypair  # the minter bound to EDGE_ID
    prosumer_grxe: Pubkey


def minter_pda(minter: Pubkey) -> Pubkey:
    return pda("energy_token", b"minter", bytes(minter), EDGE_ID)


def mint_state_pda(meter: Pubkey) -> Pubkey:
    return pda("energy_token", b"mint_state", bytes(meter))


def setup(c: Chain, reg: Registry) -> Token:
    admin, config, grxe, mint_auth = initialize(c)
    gateway = add_minter(c, admin, config)
    c.send(create_ata_ix(reg.prosumer.pubkey(), reg.prosumer.pubkey(), grxe), [reg.prosumer])
    c.send(create_ata_ix(reg.consumer.pubkey(), reg.consumer.pubkey(), grxe), [reg.consumer])
    return Token(admin, config, grxe, mint_auth, gateway, ata(reg.prosumer.pubkey(), grxe))


def initialize(c: Chain) -> tuple[Keypair, Pubkey, Pubkey, Pubkey]:
    admin = c.funded()
    config = pda("energy_token", b"config")
    grxe = pda("energy_token", b"mint")
    mint_auth = pda("energy_token", b"mint_authority")
    c.send(
        c.ix(
            "energy_token",
            "initialize",
            IDS["registry"],
            admin.pubkey(),
            accounts={
                "deployer": DEPLOYER.pubkey(),
                "config": config,
                "mint": grxe,
                "mint_authority": mint_auth,
                "token_program": TOKEN,
                "system_program": SYSTEM,
            },
        ),
        [DEPLOYER],
    )
    assert c.fetch("energy_token", config).admin == admin.pubkey()
    print("energy_token.initialize ok:", c.fetch("energy_token", config))
    return admin, config, grxe, mint_auth


def _minter_ix(c: Chain, name: str, admin: Keypair, config: Pubkey, minter: Pubkey) -> Instruction:
    accounts = {"admin": admin.pubkey(), "config": config, "minter_account": minter_pda(minter)}
    if name == "add_minter":
        accounts["system_program"] = SYSTEM
    return c.ix("energy_token", name, minter, list(EDGE_ID), accounts=accounts)


def add_minter(c: Chain, admin: Keypair, config: Pubkey) -> Keypair:
    gateway = c.funded()
    res = c.send(_minter_ix(c, "add_minter", admin, config, gateway.pubkey()), [admin])
    print("energy_token.add_minter ok:", c.events("energy_token", res))
    return gateway


def mint_ixs(c: Chain, tok: Token, meter_pk, owner_pk, signed, minter=None) -> list[Instruction]:
    """[Ed25519 check pointing into the mint's data, mint_readings] (anchorpy builds the mint)."""
    from gridx.chain import SignedReading, ed25519_ix, mint_data

    minter = minter or tok.gateway
    mint = c.ix(
        "energy_token",
        "mint_readings",
        [raw for raw, _ in signed],
        accounts={
            "minter": minter.pubkey(),
            "minter_account": minter_pda(minter.pubkey()),
            "config": tok.config,
            "meter_account": meter_pda(meter_pk),
            "owner_user": user_pda(owner_pk),
            "mint_state": mint_state_pda(meter_pk),
            "mint": tok.grxe,
            "mint_authority": tok.mint_auth,
            "owner_token_account": ata(owner_pk, tok.grxe),
            "token_program": TOKEN,
            "system_program": SYSTEM,
            "instructions": INSTRUCTIONS,
        },
    )
    data, spans = mint_data([SignedReading(raw, sig) for raw, sig in signed])
    assert bytes(mint.data) == data, "anchorpy and gridx.chain encode mint_readings alike"
    check = ed25519_ix(bytes(meter_pk), [sig for _, sig in signed], spans=[(1, o, n) for o, n in spans])
    return [check, mint]


def mint_three_windows(c: Chain, reg: Registry, tok: Token) -> None:
    # Griefing guard: pre-funding the meter's future mint-state PDA must not block its first mint.
    from solders.system_program import TransferParams, transfer

    c.send(
        transfer(TransferParams(from_pubkey=tok.gateway.pubkey(), to_pubkey=mint_state_pda(reg.meter), lamports=5000)),
        [tok.gateway],
    )
    # 5000 W for 900 s = 1250 Wh at most. Three windows in one instruction, amount computed on chain.
    signed = [reading(reg.meter_key, i + 1, T0 + i * 900, 1_000 + i) for i in range(3)]
    res = c.send(mint_ixs(c, tok, reg.meter, reg.prosumer.pubkey(), signed), [tok.gateway])
    evs = c.events("energy_token", res)
    assert len(evs) == 1 and evs[0].name == "TokensMinted" and evs[0].data.windows == 3, evs
    assert c.token_balance(tok.prosumer_grxe) == 3_003_000, c.token_balance(tok.prosumer_grxe)
    print(
        "energy_token.mint_readings x3 in one instruction ok:",
        evs[0],
        "balance",
        c.token_balance(tok.prosumer_grxe),
        "compute units",
        res.compute_units_consumed(),
    )
    print("  mint state:", c.fetch("energy_token", mint_state_pda(reg.meter)))


def mint_refusals(c: Chain, reg: Registry, tok: Token) -> None:
    key, meter, owner = reg.meter_key, reg.meter, reg.prosumer.pubkey()

    def refused(signed, error: str, meter_pk=meter, owner_pk=owner, minter=tok.gateway) -> None:
        c.send(
            mint_ixs(c, tok, meter_pk, owner_pk, signed, minter=minter),
            [minter],
            expect_error=c.custom_err("energy_token", error),
        )

    refused([reading(key, 9, T0, 1)], "WindowAlreadyMinted")
    refused([reading(key, 9, T0 + 10 * 900, 1_251)], "ExceedsRatedPower")
    refused([reading(key, 9, T0 + 10 * 900, 500, 500)], "ZeroAmount")
    refused([reading(reg.ckey, 1, T0, 1000)], "NotProsumer", meter_pk=reg.cmeter, owner_pk=reg.consumer.pubkey())
    rogue = c.funded()
    refused([reading(key, 9, T0 + 20 * 900, 1000)], "NotMinter", minter=rogue)
    forged = [(reading(key, 9, T0 + 20 * 900, 1000)[0], bytes(64))]
    c.send(mint_ixs(c, tok, meter, owner, forged), [tok.gateway], expect_error="Custom(2)")
    print("energy_token refusals ok (minted window, rated power, zero, consumer, unknown minter, forged signature)")


def revoked_meter_refused(c: Chain, reg: Registry, tok: Token) -> None:
    """revoke -> mint refused -> reactivate; only the registry authority may set the status."""
    c.send(set_meter_status_ix(c, reg, reg.authority, 1), [reg.authority])
    c.send(
        mint_ixs(c, tok, reg.meter, reg.prosumer.pubkey(), [reading(reg.meter_key, 9, T0 + 30 * 900, 1000)]),
        [tok.gateway],
        expect_error=c.custom_err("energy_token", "MeterNotActive"),
    )
    c.send(set_meter_status_ix(c, reg, reg.authority, 0), [reg.authority])
    c.send(
        set_meter_status_ix(c, reg, reg.prosumer, 1),
        [reg.prosumer],
        expect_error=c.custom_err("registry", "Unauthorized"),
    )
    print("registry.set_meter_status ok (revoked meter refused by energy_token)")


def remove_minter(c: Chain, tok: Token) -> None:
    extra = Keypair().pubkey()
    for name in ("add_minter", "remove_minter"):
        c.send(_minter_ix(c, name, tok.admin, tok.config, extra), [tok.admin])
    assert c.closed(minter_pda(extra))
    print("energy_token.remove_minter ok")

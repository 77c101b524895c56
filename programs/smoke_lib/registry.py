"""Registry scenario: deployer-only initialise, users, meters (with their refusals), authority rotation."""

from __future__ import annotations

import time
from dataclasses import dataclass

from nacl.signing import SigningKey
from solders.instruction import AccountMeta, Instruction
from solders.keypair import Keypair
from solders.pubkey import Pubkey

from smoke_lib.common import DEPLOYER, INSTRUCTIONS, SYSTEM, Chain, pda, proof_ix

# The first window the smoke mints; meters are enrolled one window earlier.
T0 = 1_764_000_000 - (1_764_000_000 % 900)
EDGE_ID = b"edge-001".ljust(32, b"\0")


@dataclass
class Registry:
    authority: Keypair
    config: Pubkey
    prosumer: Keypair
    consumer: Keypair
    meter_key: SigningKey  # the prosumer's meter
    meter: Pubkey
    meter_acct: Pubkey
    ckey: SigningKey  # the consumer's meter
    cmeter: Pubkey


def user_pda(wallet: Pubkey) -> Pubkey:
    return pda("registry", b"user", bytes(wallet))


def meter_pda(meter: Pubkey) -> Pubkey:
    return pda("registry", b"meter", bytes(meter))


def setup(c: Chain) -> Registry:
    authority, config = initialize(c)
    prosumer, consumer = register_users(c, config)
    c.set_clock(T0 - 900)  # meters enrolled before the windows they will mint
    meter_key, meter = register_meter(c, authority, config, prosumer)
    ckey, cmeter = register_consumer_meter(c, authority, config, consumer)
    c.set_clock(int(time.time()))
    return Registry(authority, config, prosumer, consumer, meter_key, meter, meter_pda(meter), ckey, cmeter)


def initialize(c: Chain) -> tuple[Keypair, Pubkey]:
    authority = c.funded()
    c.svm.airdrop(DEPLOYER.pubkey(), 10 * 10**9)
    config = pda("registry", b"registry")
    squatter = c.funded()
    c.send(
        c.ix(
            "registry",
            "initialize",
            squatter.pubkey(),
            accounts={"deployer": squatter.pubkey(), "config": config, "system_program": SYSTEM},
        ),
        [squatter],
        expect_error=c.custom_err("registry", "NotDeployer"),
    )
    c.send(
        c.ix(
            "registry",
            "initialize",
            authority.pubkey(),
            accounts={"deployer": DEPLOYER.pubkey(), "config": config, "system_program": SYSTEM},
        ),
        [DEPLOYER],
    )
    cfg = c.fetch("registry", config)
    assert cfg.authority == authority.pubkey(), cfg
    print("registry.initialize ok (deployer only):", cfg)
    return authority, config


def _register_user_ix(c: Chain, config: Pubkey, wallet: Keypair, utype: int) -> Instruction:
    accounts = {
        "wallet": wallet.pubkey(),
        "config": config,
        "user": user_pda(wallet.pubkey()),
        "system_program": SYSTEM,
    }
    return c.ix("registry", "register_user", utype, accounts=accounts)


def register_users(c: Chain, config: Pubkey) -> tuple[Keypair, Keypair]:
    prosumer, consumer = c.funded(), c.funded()
    for kp, utype in ((prosumer, 0), (consumer, 1)):
        res = c.send(_register_user_ix(c, config, kp, utype), [kp])
        print("registry.register_user ok:", c.events("registry", res))
    # double registration fails (builtin AccountAlreadyInitialized)
    c.send(_register_user_ix(c, config, prosumer, 0), [prosumer], expect_error="AccountAlreadyInitialized")
    return prosumer, consumer


def _meter_accounts(authority: Keypair, config: Pubkey, owner: Keypair, meter: Pubkey) -> dict:
    return {
        "owner": owner.pubkey(),
        "authority": authority.pubkey(),
        "config": config,
        "owner_user": user_pda(owner.pubkey()),
        "meter_account": meter_pda(meter),
        "system_program": SYSTEM,
        "instructions": INSTRUCTIONS,
    }


def register_meter(c: Chain, authority: Keypair, config: Pubkey, prosumer: Keypair) -> tuple[SigningKey, Pubkey]:
    """The prosumer's meter: refused without the authority or the key's proof, then registered."""
    meter_key = SigningKey.generate()
    meter = Pubkey.from_bytes(meter_key.verify_key.encode())
    accounts = _meter_accounts(authority, config, prosumer, meter)
    proof = proof_ix(meter_key, prosumer.pubkey(), EDGE_ID)
    # without the authority's signature: refused (authority passed as non-signer)
    bad = c.ix("registry", "register_meter", meter, list(EDGE_ID), 5000, 900, accounts=accounts)
    bad_metas = [
        AccountMeta(m.pubkey, False if m.pubkey == authority.pubkey() else m.is_signer, m.is_writable)
        for m in bad.accounts
    ]
    c.send(
        [proof, Instruction(bad.program_id, bad.data, bad_metas)],
        [prosumer],
        expect_error=c.custom_err("registry", "MissingSignature"),
    )
    # without the meter key's proof of possession: refused
    c.send(
        c.ix("registry", "register_meter", meter, list(EDGE_ID), 5000, 900, accounts=accounts),
        [prosumer, authority],
        expect_error=c.custom_err("registry", "MissingProofOfPossession"),
    )
    res = c.send(
        [proof, c.ix("registry", "register_meter", meter, list(EDGE_ID), 5000, 900, accounts=accounts)],
        [prosumer, authority],
    )
    m = c.fetch("registry", meter_pda(meter))
    assert m.owner == prosumer.pubkey() and m.rated_power_w == 5000 and m.status == 0 and m.interval_s == 900, m
    print("registry.register_meter ok:", c.events("registry", res))
    return meter_key, meter


def register_consumer_meter(
    c: Chain, authority: Keypair, config: Pubkey, consumer: Keypair
) -> tuple[SigningKey, Pubkey]:
    """A consumer-owned meter (used to prove minting refuses non-prosumers)."""
    ckey = SigningKey.generate()
    cmeter = Pubkey.from_bytes(ckey.verify_key.encode())
    c.send(
        [
            proof_ix(ckey, consumer.pubkey(), EDGE_ID),
            c.ix(
                "registry",
                "register_meter",
                cmeter,
                list(EDGE_ID),
                5000,
                900,
                accounts=_meter_accounts(authority, config, consumer, cmeter),
            ),
        ],
        [consumer, authority],
    )
    return ckey, cmeter


def set_meter_status_ix(c: Chain, reg: Registry, signer: Keypair, status: int) -> Instruction:
    accounts = {"authority": signer.pubkey(), "config": reg.config, "meter_account": reg.meter_acct}
    return c.ix("registry", "set_meter_status", status, accounts=accounts)


def _rotate(c: Chain, config: Pubkey, old: Keypair, new: Keypair):
    c.send(
        c.ix("registry", "propose_authority", new.pubkey(), accounts={"authority": old.pubkey(), "config": config}),
        [old],
    )
    return c.send(
        c.ix("registry", "accept_authority", accounts={"new_authority": new.pubkey(), "config": config}), [new]
    )


def rotate_authority(c: Chain, reg: Registry) -> None:
    """Rotate the registry authority (propose + accept) and back; the old authority loses its power."""
    new_auth = c.funded()
    res = _rotate(c, reg.config, reg.authority, new_auth)
    c.send(
        set_meter_status_ix(c, reg, reg.authority, 0),
        [reg.authority],
        expect_error=c.custom_err("registry", "Unauthorized"),
    )
    _rotate(c, reg.config, new_auth, reg.authority)
    assert c.fetch("registry", reg.config).authority == reg.authority.pubkey()
    print("registry.propose_authority + accept_authority ok:", c.events("registry", res))

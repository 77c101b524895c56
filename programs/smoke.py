#!/usr/bin/env python3
"""Smoke run of the three GridTokenX programs in LiteSVM (solders 0.26, via anchorpy3 0.4.5).

Loads programs/deploy/{registry,energy_token,trading}.so (or the dir given as argv[1]) and
executes every instruction at least once, building instructions and decoding accounts and
events with anchorpy from programs/idl/*.json. Exits non-zero on the first failure.

    python programs/smoke.py [SO_DIR]
"""

from __future__ import annotations

import hashlib
import json
import struct
import sys
import time
from pathlib import Path

from anchorpy import Context, EventParser, Idl, Program, Provider, Wallet
from nacl.signing import SigningKey
from solana.rpc.async_api import AsyncClient
from solders.instruction import AccountMeta, Instruction
from solders.keypair import Keypair
from solders.litesvm import LiteSVM
from solders.message import Message
from solders.pubkey import Pubkey
from solders.transaction import Transaction
from solders.transaction_metadata import FailedTransactionMetadata

HERE = Path(__file__).resolve().parent
SO_DIR = Path(sys.argv[1]) if len(sys.argv) > 1 else HERE / "deploy"
IDS = {
    k: Pubkey.from_string(v)
    for k, v in json.loads((HERE / "program_ids.json").read_text()).items()
    if not k.startswith("_") and k != "deployer"
}
INSTRUCTIONS = Pubkey.from_string("Sysvar1nstructions1111111111111111111111111")
# The compiled-in deployer of local chains (program_ids.json "deployer"): only it may initialise.
DEPLOYER = Keypair.from_seed(hashlib.sha256(b"gridtokenx/deployer").digest())
SYSTEM = Pubkey.from_string("11111111111111111111111111111111")
TOKEN = Pubkey.from_string("TokenkegQfeZyiNwAJbNbGKPFXCWuBvf9Ss623VQ5DA")
ATA = Pubkey.from_string("ATokenGPvbdGVxr1b2hvZbsiqW5xWH25efTNsLJA8knL")

svm = LiteSVM()
for name, pid in IDS.items():
    svm.add_program_from_file(pid, str(SO_DIR / f"{name}.so"))

PROGS: dict[str, Program] = {}
_PROVIDER = Provider(AsyncClient("http://127.0.0.1:8899"), Wallet(Keypair()))  # never contacted
for name, pid in IDS.items():
    idl = Idl.from_json((HERE / "idl" / f"{name}.json").read_text())
    PROGS[name] = Program(idl, pid, _PROVIDER)


def pda(prog: str, *seeds: bytes) -> Pubkey:
    return Pubkey.find_program_address(list(seeds), IDS[prog])[0]


def funded() -> Keypair:
    kp = Keypair()
    svm.airdrop(kp.pubkey(), 100 * 10**9)
    return kp


def ix(prog: str, name: str, *args, accounts: dict) -> Instruction:
    return PROGS[prog].instruction[name](*args, ctx=Context(accounts=accounts))


def send(ixs, signers, expect_error: str | None = None):
    payer = signers[0]
    msg = Message.new_with_blockhash(ixs if isinstance(ixs, list) else [ixs], payer.pubkey(), svm.latest_blockhash())
    tx = Transaction(signers, msg, svm.latest_blockhash())
    res = svm.send_transaction(tx)
    svm.expire_blockhash()
    failed = isinstance(res, FailedTransactionMetadata)
    logs = list(res.meta().logs() if failed else res.logs())
    if expect_error is not None:
        if not failed:
            raise SystemExit(f"expected failure {expect_error!r} but tx succeeded:\n" + "\n".join(logs))
        text = str(res.err()) + "\n".join(logs)
        if expect_error not in text:
            raise SystemExit(f"expected {expect_error!r}, got {res.err()}:\n" + "\n".join(logs))
        return res
    if failed:
        raise SystemExit(f"tx failed: {res.err()}\n" + "\n".join(logs))
    return res


def events(prog: str, res) -> list:
    """Decode this program's Anchor events ("Program data: <base64>") with anchorpy's EventParser."""
    out: list = []
    EventParser(IDS[prog], PROGS[prog].coder).parse_logs(list(res.logs()), out.append)
    return out


def fetch(prog: str, addr: Pubkey):
    acct = svm.get_account(addr)
    assert acct is not None, f"no account {addr}"
    return PROGS[prog].coder.accounts.decode(bytes(acct.data))


def custom_err(prog: str, name: str) -> str:
    code = next(e.code for e in PROGS[prog].idl.errors if e.name == name)
    return f"Custom({code})"


# ---------------------------------------------------------------- SPL token helpers (raw)


def ata(owner: Pubkey, mint: Pubkey) -> Pubkey:
    return Pubkey.find_program_address([bytes(owner), bytes(TOKEN), bytes(mint)], ATA)[0]


def create_ata_ix(payer: Pubkey, owner: Pubkey, mint: Pubkey) -> Instruction:
    return Instruction(
        ATA,
        bytes([1]),
        [  # CreateIdempotent
            AccountMeta(payer, True, True),
            AccountMeta(ata(owner, mint), False, True),
            AccountMeta(owner, False, False),
            AccountMeta(mint, False, False),
            AccountMeta(SYSTEM, False, False),
            AccountMeta(TOKEN, False, False),
        ],
    )


def token_balance(acct: Pubkey) -> int:
    a = svm.get_account(acct)
    return struct.unpack_from("<Q", bytes(a.data), 64)[0] if a else 0


def create_mint_ixs(payer: Keypair, mint: Keypair, decimals: int, authority: Pubkey) -> list[Instruction]:
    from solders.system_program import CreateAccountParams, create_account

    lamports = svm.minimum_balance_for_rent_exemption(82)
    return [
        create_account(
            CreateAccountParams(
                from_pubkey=payer.pubkey(), to_pubkey=mint.pubkey(), lamports=lamports, space=82, owner=TOKEN
            )
        ),
        Instruction(
            TOKEN, bytes([20, decimals]) + bytes(authority) + bytes([0]), [AccountMeta(mint.pubkey(), False, True)]
        ),
    ]


def mint_to_ix(mint: Pubkey, dest: Pubkey, authority: Pubkey, amount: int) -> Instruction:
    return Instruction(
        TOKEN,
        bytes([7]) + struct.pack("<Q", amount),
        [AccountMeta(mint, False, True), AccountMeta(dest, False, True), AccountMeta(authority, True, False)],
    )


def set_clock(unix_ts: int) -> None:
    from solders.clock import Clock

    svm.set_clock(Clock(1, 0, 0, 0, unix_ts))


def proof_ix(key: SigningKey, owner: Pubkey, edge_id: bytes) -> Instruction:
    """The meter key's proof of possession (Ed25519-program check) for register_meter."""
    from gridx.chain import ed25519_ix, enrolment_message

    msg = enrolment_message(Pubkey.from_bytes(key.verify_key.encode()), owner, edge_id)
    return ed25519_ix(key.verify_key.encode(), bytes(key.sign(msg).signature), msg)


def reading(key: SigningKey, seq: int, start: int, produced: int, consumed: int = 0) -> tuple[bytes, bytes]:
    """(canonical bytes, signature) of one 900 s reading (gridx/wire.py)."""
    from gridx.wire import UnsignedReading, canonical_bytes

    u = UnsignedReading(
        meter_id="smoke",
        seq=seq,
        window_start=start,
        window_end=start + 900,
        produced_wh=produced,
        consumed_wh=consumed,
        produced_total_wh=produced * seq,
        consumed_total_wh=consumed * seq,
    )
    raw = canonical_bytes(u)
    return raw, bytes(key.sign(raw).signature)


def main() -> None:
    # ============================================================ registry
    authority = funded()
    svm.airdrop(DEPLOYER.pubkey(), 10 * 10**9)
    reg_config = pda("registry", b"registry")
    squatter = funded()
    send(
        ix(
            "registry",
            "initialize",
            squatter.pubkey(),
            accounts={"deployer": squatter.pubkey(), "config": reg_config, "system_program": SYSTEM},
        ),
        [squatter],
        expect_error=custom_err("registry", "NotDeployer"),
    )
    send(
        ix(
            "registry",
            "initialize",
            authority.pubkey(),
            accounts={"deployer": DEPLOYER.pubkey(), "config": reg_config, "system_program": SYSTEM},
        ),
        [DEPLOYER],
    )
    cfg = fetch("registry", reg_config)
    assert cfg.authority == authority.pubkey(), cfg
    print("registry.initialize ok (deployer only):", cfg)

    prosumer, consumer = funded(), funded()
    for kp, utype in ((prosumer, 0), (consumer, 1)):
        res = send(
            ix(
                "registry",
                "register_user",
                utype,
                accounts={
                    "wallet": kp.pubkey(),
                    "config": reg_config,
                    "user": pda("registry", b"user", bytes(kp.pubkey())),
                    "system_program": SYSTEM,
                },
            ),
            [kp],
        )
        print("registry.register_user ok:", events("registry", res))
    # double registration fails (builtin AccountAlreadyInitialized)
    send(
        ix(
            "registry",
            "register_user",
            0,
            accounts={
                "wallet": prosumer.pubkey(),
                "config": reg_config,
                "user": pda("registry", b"user", bytes(prosumer.pubkey())),
                "system_program": SYSTEM,
            },
        ),
        [prosumer],
        expect_error="AccountAlreadyInitialized",
    )

    t0 = 1_764_000_000 - (1_764_000_000 % 900)
    set_clock(t0 - 900)  # meters enrolled before the windows they will mint
    meter_key = SigningKey.generate()
    meter = Pubkey.from_bytes(meter_key.verify_key.encode())
    edge_id = b"edge-001".ljust(32, b"\0")
    meter_acct = pda("registry", b"meter", bytes(meter))
    reg_meter_accounts = {
        "owner": prosumer.pubkey(),
        "authority": authority.pubkey(),
        "config": reg_config,
        "owner_user": pda("registry", b"user", bytes(prosumer.pubkey())),
        "meter_account": meter_acct,
        "system_program": SYSTEM,
        "instructions": INSTRUCTIONS,
    }
    proof = proof_ix(meter_key, prosumer.pubkey(), edge_id)
    # without the authority's signature: refused (authority passed as non-signer)
    bad = ix("registry", "register_meter", meter, list(edge_id), 5000, 900, accounts=reg_meter_accounts)
    bad_metas = [
        AccountMeta(m.pubkey, False if m.pubkey == authority.pubkey() else m.is_signer, m.is_writable)
        for m in bad.accounts
    ]
    send(
        [proof, Instruction(bad.program_id, bad.data, bad_metas)],
        [prosumer],
        expect_error=custom_err("registry", "MissingSignature"),
    )
    # without the meter key's proof of possession: refused
    send(
        ix("registry", "register_meter", meter, list(edge_id), 5000, 900, accounts=reg_meter_accounts),
        [prosumer, authority],
        expect_error=custom_err("registry", "MissingProofOfPossession"),
    )
    res = send(
        [proof, ix("registry", "register_meter", meter, list(edge_id), 5000, 900, accounts=reg_meter_accounts)],
        [prosumer, authority],
    )
    m = fetch("registry", meter_acct)
    assert m.owner == prosumer.pubkey() and m.rated_power_w == 5000 and m.status == 0 and m.interval_s == 900, m
    print("registry.register_meter ok:", events("registry", res))

    # a consumer-owned meter (used to prove minting refuses non-prosumers)
    ckey = SigningKey.generate()
    cmeter = Pubkey.from_bytes(ckey.verify_key.encode())
    send(
        [
            proof_ix(ckey, consumer.pubkey(), edge_id),
            ix(
                "registry",
                "register_meter",
                cmeter,
                list(edge_id),
                5000,
                900,
                accounts={
                    **reg_meter_accounts,
                    "owner": consumer.pubkey(),
                    "owner_user": pda("registry", b"user", bytes(consumer.pubkey())),
                    "meter_account": pda("registry", b"meter", bytes(cmeter)),
                },
            ),
        ],
        [consumer, authority],
    )
    set_clock(int(time.time()))

    # ============================================================ energy_token
    admin = funded()
    tok_config = pda("energy_token", b"config")
    grxe = pda("energy_token", b"mint")
    mint_auth = pda("energy_token", b"mint_authority")
    send(
        ix(
            "energy_token",
            "initialize",
            IDS["registry"],
            admin.pubkey(),
            accounts={
                "deployer": DEPLOYER.pubkey(),
                "config": tok_config,
                "mint": grxe,
                "mint_authority": mint_auth,
                "token_program": TOKEN,
                "system_program": SYSTEM,
            },
        ),
        [DEPLOYER],
    )
    assert fetch("energy_token", tok_config).admin == admin.pubkey()
    print("energy_token.initialize ok:", fetch("energy_token", tok_config))

    gateway = funded()
    minter_acct = pda("energy_token", b"minter", bytes(gateway.pubkey()), edge_id)
    res = send(
        ix(
            "energy_token",
            "add_minter",
            gateway.pubkey(),
            list(edge_id),
            accounts={
                "admin": admin.pubkey(),
                "config": tok_config,
                "minter_account": minter_acct,
                "system_program": SYSTEM,
            },
        ),
        [admin],
    )
    print("energy_token.add_minter ok:", events("energy_token", res))

    send(create_ata_ix(prosumer.pubkey(), prosumer.pubkey(), grxe), [prosumer])
    send(create_ata_ix(consumer.pubkey(), consumer.pubkey(), grxe), [consumer])
    prosumer_grxe = ata(prosumer.pubkey(), grxe)

    def mint_ixs(meter_pk, owner_pk, signed, minter=gateway) -> list[Instruction]:
        """[Ed25519 check pointing into the mint's data, mint_readings] (anchorpy builds the mint)."""
        from gridx.chain import SignedReading, ed25519_ix, mint_data

        mint = ix(
            "energy_token",
            "mint_readings",
            [raw for raw, _ in signed],
            accounts={
                "minter": minter.pubkey(),
                "minter_account": pda("energy_token", b"minter", bytes(minter.pubkey()), edge_id),
                "config": tok_config,
                "meter_account": pda("registry", b"meter", bytes(meter_pk)),
                "owner_user": pda("registry", b"user", bytes(owner_pk)),
                "mint_state": pda("energy_token", b"mint_state", bytes(meter_pk)),
                "mint": grxe,
                "mint_authority": mint_auth,
                "owner_token_account": ata(owner_pk, grxe),
                "token_program": TOKEN,
                "system_program": SYSTEM,
                "instructions": INSTRUCTIONS,
            },
        )
        data, spans = mint_data([SignedReading(raw, sig) for raw, sig in signed])
        assert bytes(mint.data) == data, "anchorpy and gridx.chain encode mint_readings alike"
        check = ed25519_ix(bytes(meter_pk), [sig for _, sig in signed], spans=[(1, o, n) for o, n in spans])
        return [check, mint]

    # Griefing guard: pre-funding the meter's future mint-state PDA must not block its first mint.
    from solders.system_program import TransferParams, transfer

    send(
        transfer(
            TransferParams(
                from_pubkey=gateway.pubkey(), to_pubkey=pda("energy_token", b"mint_state", bytes(meter)), lamports=5000
            )
        ),
        [gateway],
    )
    # 5000 W for 900 s = 1250 Wh at most. Three windows in one instruction, amount computed on chain.
    signed = [reading(meter_key, i + 1, t0 + i * 900, 1_000 + i) for i in range(3)]
    res = send(mint_ixs(meter, prosumer.pubkey(), signed), [gateway])
    evs = events("energy_token", res)
    assert len(evs) == 1 and evs[0].name == "TokensMinted" and evs[0].data.windows == 3, evs
    assert token_balance(prosumer_grxe) == 3_003_000, token_balance(prosumer_grxe)
    print(
        "energy_token.mint_readings x3 in one instruction ok:",
        evs[0],
        "balance",
        token_balance(prosumer_grxe),
        "compute units",
        res.compute_units_consumed(),
    )
    print("  mint state:", fetch("energy_token", pda("energy_token", b"mint_state", bytes(meter))))
    send(
        mint_ixs(meter, prosumer.pubkey(), [reading(meter_key, 9, t0, 1)]),
        [gateway],
        expect_error=custom_err("energy_token", "WindowAlreadyMinted"),
    )
    send(
        mint_ixs(meter, prosumer.pubkey(), [reading(meter_key, 9, t0 + 10 * 900, 1_251)]),
        [gateway],
        expect_error=custom_err("energy_token", "ExceedsRatedPower"),
    )
    send(
        mint_ixs(meter, prosumer.pubkey(), [reading(meter_key, 9, t0 + 10 * 900, 500, 500)]),
        [gateway],
        expect_error=custom_err("energy_token", "ZeroAmount"),
    )
    send(
        mint_ixs(cmeter, consumer.pubkey(), [reading(ckey, 1, t0, 1000)]),
        [gateway],
        expect_error=custom_err("energy_token", "NotProsumer"),
    )
    rogue = funded()
    send(
        mint_ixs(meter, prosumer.pubkey(), [reading(meter_key, 9, t0 + 20 * 900, 1000)], minter=rogue),
        [rogue],
        expect_error=custom_err("energy_token", "NotMinter"),
    )
    forged = [(reading(meter_key, 9, t0 + 20 * 900, 1000)[0], bytes(64))]
    send(mint_ixs(meter, prosumer.pubkey(), forged), [gateway], expect_error="Custom(2)")
    print("energy_token refusals ok (minted window, rated power, zero, consumer, unknown minter, forged signature)")

    # revoke -> mint refused -> reactivate
    send(
        ix(
            "registry",
            "set_meter_status",
            1,
            accounts={"authority": authority.pubkey(), "config": reg_config, "meter_account": meter_acct},
        ),
        [authority],
    )
    send(
        mint_ixs(meter, prosumer.pubkey(), [reading(meter_key, 9, t0 + 30 * 900, 1000)]),
        [gateway],
        expect_error=custom_err("energy_token", "MeterNotActive"),
    )
    send(
        ix(
            "registry",
            "set_meter_status",
            0,
            accounts={"authority": authority.pubkey(), "config": reg_config, "meter_account": meter_acct},
        ),
        [authority],
    )
    send(
        ix(
            "registry",
            "set_meter_status",
            1,
            accounts={"authority": prosumer.pubkey(), "config": reg_config, "meter_account": meter_acct},
        ),
        [prosumer],
        expect_error=custom_err("registry", "Unauthorized"),
    )
    print("registry.set_meter_status ok (revoked meter refused by energy_token)")

    # rotate the registry authority (propose + accept) and back; the old authority loses its power
    new_auth = funded()

    def rotate(old: Keypair, new: Keypair):
        send(
            ix(
                "registry",
                "propose_authority",
                new.pubkey(),
                accounts={"authority": old.pubkey(), "config": reg_config},
            ),
            [old],
        )
        return send(
            ix("registry", "accept_authority", accounts={"new_authority": new.pubkey(), "config": reg_config}), [new]
        )

    res = rotate(authority, new_auth)
    send(
        ix(
            "registry",
            "set_meter_status",
            0,
            accounts={"authority": authority.pubkey(), "config": reg_config, "meter_account": meter_acct},
        ),
        [authority],
        expect_error=custom_err("registry", "Unauthorized"),
    )
    rotate(new_auth, authority)
    assert fetch("registry", reg_config).authority == authority.pubkey()
    print("registry.propose_authority + accept_authority ok:", events("registry", res))

    # remove a minter
    extra = Keypair().pubkey()
    extra_acct = pda("energy_token", b"minter", bytes(extra), edge_id)
    for name in ("add_minter", "remove_minter"):
        accounts = {"admin": admin.pubkey(), "config": tok_config, "minter_account": extra_acct}
        if name == "add_minter":
            accounts["system_program"] = SYSTEM
        send(ix("energy_token", name, extra, list(edge_id), accounts=accounts), [admin])
    assert svm.get_account(extra_acct) is None or svm.get_account(extra_acct).lamports == 0
    print("energy_token.remove_minter ok")

    # ============================================================ trading
    mkt_auth = funded()
    pay_mint = Keypair()
    send(create_mint_ixs(mkt_auth, pay_mint, 2, mkt_auth.pubkey()), [mkt_auth, pay_mint])  # e.g. THB with 2 decimals
    pm = pay_mint.pubkey()
    market = pda("trading", b"market", bytes(grxe), bytes(pm))
    e_vault = pda("trading", b"energy_vault", bytes(market))
    p_vault = pda("trading", b"payment_vault", bytes(market))
    send(create_ata_ix(mkt_auth.pubkey(), mkt_auth.pubkey(), pm), [mkt_auth])
    fee_acct = ata(mkt_auth.pubkey(), pm)
    send(
        ix(
            "trading",
            "initialize_market",
            25,
            mkt_auth.pubkey(),
            accounts={
                "deployer": DEPLOYER.pubkey(),
                "market": market,
                "energy_mint": grxe,
                "payment_mint": pm,
                "energy_vault": e_vault,
                "payment_vault": p_vault,
                "fee_account": fee_acct,
                "token_program": TOKEN,
                "system_program": SYSTEM,
            },
        ),
        [DEPLOYER],
    )
    print("trading.initialize_market ok (deployer only, names the matcher):", fetch("trading", market))

    seller, buyer = prosumer, consumer
    for kp in (seller, buyer):
        send(create_ata_ix(kp.pubkey(), kp.pubkey(), pm), [kp])
    send(mint_to_ix(pm, ata(buyer.pubkey(), pm), mkt_auth.pubkey(), 1_000_000), [mkt_auth])

    def order_pda(owner: Pubkey, oid: int) -> Pubkey:
        return pda("trading", b"order", bytes(owner), struct.pack("<Q", oid))

    # sell 2 GRXE @ 400 payment units per GRXE; buy 1.5 GRXE @ 500
    sell = order_pda(seller.pubkey(), 1)
    res = send(
        ix(
            "trading",
            "create_sell_order",
            1,
            2_000_000,
            400,
            accounts={
                "owner": seller.pubkey(),
                "market": market,
                "order": sell,
                "owner_energy_account": prosumer_grxe,
                "energy_vault": e_vault,
                "token_program": TOKEN,
                "system_program": SYSTEM,
            },
        ),
        [seller],
    )
    print("trading.create_sell_order ok:", events("trading", res))
    buy = order_pda(buyer.pubkey(), 7)
    res = send(
        ix(
            "trading",
            "create_buy_order",
            7,
            1_500_000,
            500,
            accounts={
                "owner": buyer.pubkey(),
                "market": market,
                "order": buy,
                "owner_payment_account": ata(buyer.pubkey(), pm),
                "payment_vault": p_vault,
                "token_program": TOKEN,
                "system_program": SYSTEM,
            },
        ),
        [buyer],
    )
    print("trading.create_buy_order ok:", events("trading", res), "escrow", token_balance(p_vault))

    def match_ix(sell_o, buy_o, amount, s=seller, b=buyer, auth=mkt_auth):
        return ix(
            "trading",
            "match_order",
            amount,
            accounts={
                "authority": auth.pubkey(),
                "market": market,
                "sell_order": sell_o,
                "buy_order": buy_o,
                "seller": s.pubkey(),
                "buyer": b.pubkey(),
                "seller_payment_account": ata(s.pubkey(), pm),
                "buyer_energy_account": ata(b.pubkey(), grxe),
                "buyer_payment_account": ata(b.pubkey(), pm),
                "fee_account": fee_acct,
                "energy_vault": e_vault,
                "payment_vault": p_vault,
                "token_program": TOKEN,
            },
        )

    # self-trade refused: seller's own buy order
    send(create_ata_ix(seller.pubkey(), seller.pubkey(), pm), [seller])
    send(mint_to_ix(pm, ata(seller.pubkey(), pm), mkt_auth.pubkey(), 10_000), [mkt_auth])
    self_buy = order_pda(seller.pubkey(), 99)
    send(
        ix(
            "trading",
            "create_buy_order",
            99,
            1_000_000,
            500,
            accounts={
                "owner": seller.pubkey(),
                "market": market,
                "order": self_buy,
                "owner_payment_account": ata(seller.pubkey(), pm),
                "payment_vault": p_vault,
                "token_program": TOKEN,
                "system_program": SYSTEM,
            },
        ),
        [seller],
    )
    send(match_ix(sell, self_buy, 1_000_000, b=seller), [mkt_auth], expect_error=custom_err("trading", "SelfTrade"))
    res = send(
        ix(
            "trading",
            "cancel_order",
            accounts={
                "owner": seller.pubkey(),
                "market": market,
                "order": self_buy,
                "refund_account": ata(seller.pubkey(), pm),
                "vault": p_vault,
                "token_program": TOKEN,
            },
        ),
        [seller],
    )
    assert token_balance(ata(seller.pubkey(), pm)) == 10_000
    print("trading.cancel_order ok:", events("trading", res))

    # price not crossed: buy @ 300 < sell @ 400
    low = order_pda(buyer.pubkey(), 8)
    send(
        ix(
            "trading",
            "create_buy_order",
            8,
            1_000_000,
            300,
            accounts={
                "owner": buyer.pubkey(),
                "market": market,
                "order": low,
                "owner_payment_account": ata(buyer.pubkey(), pm),
                "payment_vault": p_vault,
                "token_program": TOKEN,
                "system_program": SYSTEM,
            },
        ),
        [buyer],
    )
    send(match_ix(sell, low, 1_000_000), [mkt_auth], expect_error=custom_err("trading", "PriceNotCrossed"))
    # not the market authority
    send(match_ix(sell, buy, 1_000_000, auth=buyer), [buyer], expect_error=custom_err("trading", "Unauthorized"))

    # someone else cannot cancel the seller's order; overflowing escrow is refused
    send(
        ix(
            "trading",
            "cancel_order",
            accounts={
                "owner": buyer.pubkey(),
                "market": market,
                "order": sell,
                "refund_account": ata(buyer.pubkey(), grxe),
                "vault": e_vault,
                "token_program": TOKEN,
            },
        ),
        [buyer],
        expect_error=custom_err("trading", "Unauthorized"),
    )
    send(
        ix(
            "trading",
            "create_buy_order",
            9,
            2**64 - 1,
            2**64 - 1,
            accounts={
                "owner": buyer.pubkey(),
                "market": market,
                "order": order_pda(buyer.pubkey(), 9),
                "owner_payment_account": ata(buyer.pubkey(), pm),
                "payment_vault": p_vault,
                "token_program": TOKEN,
                "system_program": SYSTEM,
            },
        ),
        [buyer],
        expect_error=custom_err("trading", "ArithmeticOverflow"),
    )

    # partial fill 1.0 GRXE, then fill the rest of the buy (0.5 GRXE) -> buy order closed
    res = send(match_ix(sell, buy, 1_000_000), [mkt_auth])
    print("trading.match_order (partial) ok:", events("trading", res), "compute units", res.compute_units_consumed())
    res = send(match_ix(sell, buy, 500_000), [mkt_auth])
    ev = events("trading", res)[0]
    print("trading.match_order (fill) ok:", ev)
    assert token_balance(ata(buyer.pubkey(), grxe)) == 1_500_000
    # payment at the sell price: 1.5 GRXE * 400 = 600; fee 25 bps = 1 (floor of 0.4 + 0.25 per fill -> 0 + 0)
    seller_pay = token_balance(ata(seller.pubkey(), pm))
    fee = token_balance(fee_acct)
    assert seller_pay + fee == 10_000 + 600, (seller_pay, fee)
    # buy order filled and closed; leftover escrow (1.5 * 500 - 600 = 150) refunded
    acct = svm.get_account(buy)
    assert acct is None or acct.lamports == 0
    assert token_balance(ata(buyer.pubkey(), pm)) == 1_000_000 - 300 - 600, token_balance(ata(buyer.pubkey(), pm))
    sell_state = fetch("trading", sell)
    assert sell_state.remaining == 500_000, sell_state
    print(
        "trading balances ok: buyer GRXE",
        token_balance(ata(buyer.pubkey(), grxe)),
        "seller paid",
        seller_pay - 10_000,
        "fee",
        fee,
    )
    print("SMOKE OK: all instructions executed in LiteSVM")


if __name__ == "__main__":
    main()

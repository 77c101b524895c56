"""Shared chain test fixtures: a bootstrapped world on the real SBF programs in LiteSVM
(directly, through ``SvmChain``) with named keys, and a balance snapshot for "changes nothing"."""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from nacl.signing import SigningKey
from solders.clock import Clock
from solders.instruction import Instruction
from solders.keypair import Keypair
from solders.pubkey import Pubkey

import gridx.chain as c
from gridx.chain._errors import chain_error
from gridx.chain._svm import SendResult, SvmChain
from gridx.errors import ChainError
from gridx.wire import ReadingChain

SOL = 10**9
T0 = 1_764_000_000 - (1_764_000_000 % 900)  # an aligned 15-minute window start
RATED_W = 5_000  # 5 kW: at most 1,250 Wh produced per 900 s window
EDGE = "edge-1"
REGISTERED_AT = T0 - 900  # the world's meters are enrolled (by the chain's clock) just before T0


def meter_pubkey(key: SigningKey) -> Pubkey:
    return Pubkey.from_bytes(key.verify_key.encode())


def register_meter_ixs(
    owner: Keypair, authority: Keypair, key: SigningKey, edge: str = EDGE, rated_w: int = RATED_W, interval_s: int = 900
) -> list[Instruction]:
    """Enrolment with the meter's proof of possession."""
    proof = c.sign_enrolment(key, owner.pubkey(), edge)
    return c.build_register_meter_ixs(
        owner.pubkey(), authority.pubkey(), meter_pubkey(key), edge.encode(), rated_w, interval_s, proof
    )


class MeterChain(ReadingChain):
    """A meter key and its hash chain (``gridx.wire.ReadingChain``), with the chain-side
    reading: signed readings, window after window."""

    def __init__(self, key: SigningKey | None = None, meter_id: str = "m-1") -> None:
        super().__init__(key or SigningKey.generate(), meter_id)

    @property
    def pubkey(self) -> Pubkey:
        return meter_pubkey(self.key)

    def reading(self, start: int, produced: int, consumed: int = 0, seconds: int = 900) -> c.SignedReading:
        return c.signed_reading(self.next(start, start + seconds, produced, consumed))


class Svm:
    """Sends through LiteSVM (no RPC); failures raise ChainError with the named code."""

    def __init__(self) -> None:
        self.chain = SvmChain()

    def funded(self, lamports: int = 100 * SOL) -> Keypair:
        kp = Keypair()
        self.chain.airdrop(kp.pubkey(), lamports)
        return kp

    def send(self, ixs: Sequence[Instruction], signers: Sequence[Keypair], at: int | None = None) -> SendResult:
        """``at``: run this transaction with the cluster clock at that unix time."""
        blockhash, _ = self.chain.latest_blockhash()
        if at is not None:
            self.chain.svm.set_clock(Clock(self.chain.slot, 0, 0, 0, at))
        tx = c.build_tx(ixs, signers, blockhash)
        res = self.chain.send(tx)
        if res.err is not None:
            programs = [tx.message.account_keys[ix.program_id_index] for ix in tx.message.instructions]
            raise chain_error(res.err, res.logs, programs)
        return res

    def data(self, addr: Pubkey) -> bytes | None:
        acct = self.chain.account(addr)
        return None if acct is None else bytes(acct.data)

    def balance(self, token_account: Pubkey) -> int:
        d = self.data(token_account)
        return 0 if d is None else c.token_account_amount(d)

    def decoded(self, program: str, addr: Pubkey) -> object:
        d = self.data(addr)
        assert d is not None, f"no account {addr}"
        return c.decode_account(program, d)


@dataclass
class World:
    svm: Svm
    authority: Keypair  # registry authority
    admin: Keypair  # energy_token admin
    gateway: Keypair  # authorised minter
    market_auth: Keypair  # market authority (matcher) and payment-mint authority
    prosumer: Keypair
    consumer: Keypair
    meter_chain: MeterChain  # registered on EDGE, owned by prosumer
    market: c.MarketKeys
    watched: list[Pubkey] = field(default_factory=list)

    @property
    def meter(self) -> Pubkey:
        return self.meter_chain.pubkey

    @property
    def grxe(self) -> Pubkey:
        return c.grxe_mint_pda()

    def mint_ixs(
        self,
        readings: Sequence[c.SignedReading],
        meter: Pubkey | None = None,
        owner: Pubkey | None = None,
        minter: Keypair | None = None,
        edge: str = EDGE,
        first_index: int = 0,
    ) -> list[Instruction]:
        return c.build_mint_readings_ixs(
            (minter or self.gateway).pubkey(),
            meter or self.meter,
            owner or self.prosumer.pubkey(),
            edge,
            readings,
            first_index,
        )

    def mint(self, start: int, produced: int, consumed: int = 0) -> list[Instruction]:
        """[Ed25519 check, mint] for the world meter's next reading."""
        return self.mint_ixs([self.meter_chain.reading(start, produced, consumed)])

    def snapshot(self) -> dict[Pubkey, int]:
        """Token balances of every watched account plus the GRXE and payment supplies."""
        out = {a: self.svm.balance(a) for a in self.watched}
        for mint in (self.grxe, self.market.payment_mint):
            d = self.svm.data(mint)
            out[mint] = int.from_bytes(d[36:44], "little") if d else 0
        return out


def build_world() -> World:
    svm = Svm()
    authority, admin, gateway, market_auth = (svm.funded() for _ in range(4))
    prosumer, consumer = svm.funded(), svm.funded()
    deployer = c.deployer_keypair()
    svm.chain.airdrop(deployer.pubkey(), 10 * SOL)
    svm.send([c.build_registry_initialize_ix(deployer.pubkey(), authority.pubkey())], [deployer])
    svm.send([c.build_register_user_ix(prosumer.pubkey(), c.PROSUMER)], [prosumer])
    svm.send([c.build_register_user_ix(consumer.pubkey(), c.CONSUMER)], [consumer])
    meter = MeterChain()
    svm.send(register_meter_ixs(prosumer, authority, meter.key), [prosumer, authority], at=REGISTERED_AT)
    svm.send([c.build_energy_token_initialize_ix(deployer.pubkey(), admin.pubkey())], [deployer])
    svm.send([c.build_add_minter_ix(admin.pubkey(), gateway.pubkey(), EDGE)], [admin])
    grxe = c.grxe_mint_pda()
    pay = Keypair()
    rent = svm.chain.svm.minimum_balance_for_rent_exemption(82)
    svm.send(c.create_mint_ixs(market_auth.pubkey(), pay.pubkey(), 6, market_auth.pubkey(), rent), [market_auth, pay])
    fee = c.ata_address(market_auth.pubkey(), pay.pubkey())
    svm.send([c.create_ata_ix(market_auth.pubkey(), market_auth.pubkey(), pay.pubkey())], [market_auth])
    market = c.MarketKeys(grxe, pay.pubkey(), fee)
    svm.send([c.build_initialize_market_ix(deployer.pubkey(), market_auth.pubkey(), market, 25)], [deployer])
    watched = [market.energy_vault, market.payment_vault, fee]
    for kp in (prosumer, consumer):
        svm.send(
            [c.create_ata_ix(kp.pubkey(), kp.pubkey(), grxe), c.create_ata_ix(kp.pubkey(), kp.pubkey(), pay.pubkey())],
            [kp],
        )
        watched += [c.ata_address(kp.pubkey(), grxe), c.ata_address(kp.pubkey(), pay.pubkey())]
    svm.send(
        [
            c.mint_to_ix(
                pay.pubkey(), c.ata_address(consumer.pubkey(), pay.pubkey()), market_auth.pubkey(), 1_000_000_000
            )
        ],
        [market_auth],
    )
    return World(svm, authority, admin, gateway, market_auth, prosumer, consumer, meter, market, watched)


@dataclass
class RpcWorld:
    """Keys of a chain bootstrapped over RPC (``gridx chain bootstrap``) plus two users and a meter."""

    dep: object
    authority: Keypair
    gateway: Keypair
    market_auth: Keypair
    prosumer: Keypair
    consumer: Keypair
    meter_chain: MeterChain
    market: c.MarketKeys

    @property
    def meter(self) -> Pubkey:
        return self.meter_chain.pubkey

    def mint_ixs(self, readings: Sequence[c.SignedReading]) -> list[Instruction]:
        return c.build_mint_readings_ixs(self.gateway.pubkey(), self.meter, self.prosumer.pubkey(), EDGE, readings)

    def mint(self, start: int, produced: int, consumed: int = 0, seconds: int = 900) -> list[Instruction]:
        return self.mint_ixs([self.meter_chain.reading(start, produced, consumed, seconds)])


async def rpc_world(client: object, keys_dir: Path, node: c.LocalNode | None = None, interval_s: int = 900) -> RpcWorld:
    """With an in-process ``node`` the meter is enrolled at REGISTERED_AT (time travel), so the
    T0 windows are mintable; otherwise it is enrolled now (use 1-second windows after it)."""
    from gridx.chain import bootstrap

    dep = await bootstrap(client, keys_dir)  # type: ignore[arg-type]
    authority = c.load_keypair(keys_dir / "registry_authority.json")
    gateway = c.load_keypair(keys_dir / "gateway_minter.json")
    market_auth = c.load_keypair(keys_dir / "market_authority.json")
    market = dep.market_keys()
    prosumer, consumer = Keypair(), Keypair()
    for kp, kind in ((prosumer, c.PROSUMER), (consumer, c.CONSUMER)):
        await c.airdrop(client, kp.pubkey(), 10 * SOL)  # type: ignore[arg-type]
        await c.send_and_confirm(
            client,  # type: ignore[arg-type]
            [
                c.build_register_user_ix(kp.pubkey(), kind),
                c.create_ata_ix(kp.pubkey(), kp.pubkey(), market.energy_mint),
                c.create_ata_ix(kp.pubkey(), kp.pubkey(), market.payment_mint),
            ],
            [kp],
        )
    await c.authorize_edge(client, EDGE, keys_dir)  # type: ignore[arg-type]
    meter = MeterChain()
    if node is not None:
        node.chain.time_travel(REGISTERED_AT)
    try:
        await c.send_and_confirm(
            client,  # type: ignore[arg-type]
            register_meter_ixs(prosumer, authority, meter.key, interval_s=interval_s),
            [prosumer, authority],
        )
    finally:
        if node is not None:
            node.chain.time_travel(int(time.time()))
    pay_to = c.ata_address(consumer.pubkey(), market.payment_mint)
    await c.send_and_confirm(
        client,  # type: ignore[arg-type]
        [c.mint_to_ix(market.payment_mint, pay_to, market_auth.pubkey(), 10_000_000)],
        [market_auth],
    )
    return RpcWorld(dep, authority, gateway, market_auth, prosumer, consumer, meter, market)


def _lamports(w: World, kp: Keypair) -> int:
    acct = w.svm.chain.account(kp.pubkey())
    return 0 if acct is None else acct.lamports


def assert_refused(w: World, code: str, ixs: list[Instruction], signers: list[Keypair]) -> None:
    """Refused with ``code``, no token balance or supply moved, and (preflight) no fee charged."""
    before, fee_payer = w.snapshot(), _lamports(w, signers[0])
    with pytest.raises(ChainError) as exc:
        w.svm.send(ixs, signers)
    assert exc.value.code == code, str(exc.value)
    assert w.snapshot() == before
    assert _lamports(w, signers[0]) == fee_payer

"""A THB-swap test stack: anvil with THBC + HTLC, the local Solana node (in process, with a
movable clock) with a market and the seed's seller and buyer, PostgreSQL with the migrations,
and the relayer's keys. Parties act through the same builders the API hands to wallets."""

from __future__ import annotations

import hashlib
import json
import os
import time
import uuid
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

from eth_account import Account
from eth_account.signers.local import LocalAccount
from solders.clock import Clock
from solders.keypair import Keypair

import gridx.chain as c
import gridx.chain._svm as svm_mod
import tests.helpers.chain as hchain
from backend.payments import (
    Evm,
    EvmSettings,
    HtlcContracts,
    RelayerSettings,
    SwapParams,
    SwapRecord,
    deploy_contracts,
    insert_swap,
    plan_swap,
)
from gridx.services import AnvilNode
from tests.helpers.chain import T0, World

ETH = 10**18
GRXE = 10**6
SEED_KWH = 15
SEED_PRICE = 3 * 10**6  # 3 GRX per GRXE
RATE = Decimal(10)  # THB per GRX
SELL_ORDER_ID = 42
# Short times so a test can move past deadlines; the rule is the same as in production.
FAST = SwapParams(sol_lead_s=60, second_lock_window_s=60, delta_override_s=120)


class MovableClock:
    """Wall clock plus an offset; the local node's Clock sysvar follows it."""

    def __init__(self) -> None:
        self.offset = 0

    def time(self) -> float:
        return time.time() + self.offset


@dataclass
class Stack:
    anvil: AnvilNode
    node: c.LocalNode
    clock: MovableClock
    world: World
    contracts: HtlcContracts
    issuer: LocalAccount
    buyer_evm: LocalAccount
    seller_evm: LocalAccount
    relayer_evm: LocalAccount
    relayer_sol: Keypair
    dsn: str

    @property
    def seller(self) -> Keypair:
        return self.world.prosumer

    @property
    def buyer(self) -> Keypair:
        return self.world.consumer

    def warp_sol(self, seconds: int) -> None:
        chain = self.node.chain
        with chain.lock:
            self.clock.offset += seconds
            chain.svm.set_clock(Clock(chain.slot, 0, 0, 0, int(self.clock.time())))

    def warp_evm(self, seconds: int) -> None:
        self.anvil.rpc("evm_increaseTime", [seconds])
        self.anvil.rpc("evm_mine")

    def grxe(self, kp: Keypair) -> int:
        return self.world.svm.balance(c.ata_address(kp.pubkey(), self.world.grxe))

    def thbc(self, acct: LocalAccount) -> int:
        return self.contracts.balance(acct.address)

    def relayer_settings(self, tmp: Path) -> RelayerSettings:
        evm_key, sol_key = tmp / "relayer_evm.key", tmp / "relayer_sol.json"
        evm_key.write_text(self.relayer_evm.key.hex())
        c.save_keypair(sol_key, self.relayer_sol)
        m = self.world.market
        return RelayerSettings(
            dsn=self.dsn,
            evm_url=self.anvil.url,
            thbc=self.contracts.thbc.address,
            htlc=self.contracts.htlc.address,
            sol_url=self.node.url,
            energy_mint=str(m.energy_mint),
            payment_mint=str(m.payment_mint),
            fee_account=str(m.fee_account),
            relayer_evm_key=evm_key,
            relayer_sol_key=sol_key,
            interval_s=0.1,
        )

    # ---------------------------------------------------------------- the parties
    def quote(self, secret: bytes, grxe: int = SEED_KWH * GRXE, p: SwapParams = FAST) -> SwapRecord:
        """What the API does when the buyer picks "pay in THB": fix the price, store the quote."""
        plan = plan_swap(grxe, SEED_PRICE, RATE, self.contracts.evm.now(), p)
        rec = SwapRecord(
            swap_id=uuid.uuid4(),
            buyer_wallet=str(self.buyer.pubkey()),
            seller_wallet=str(self.seller.pubkey()),
            buyer_evm=self.buyer_evm.address,
            seller_evm=self.seller_evm.address,
            sell_order_id=SELL_ORDER_ID,
            grxe=plan.grxe,
            grx=plan.grx,
            thb_per_grx=RATE,
            thbc=plan.thbc,
            hashlock=hashlib.sha256(secret).digest(),
            evm_deadline=plan.evm_deadline,
        )
        from gridx.db import connect

        with connect(self.dsn, autocommit=True) as conn:
            insert_swap(conn, rec)
        return rec

    def buyer_locks(self, rec: SwapRecord) -> bytes:
        assert rec.evm_deadline is not None
        self.contracts.approve(self.buyer_evm, rec.thbc)
        return self.contracts.lock(self.buyer_evm, rec.seller_evm, rec.thbc, rec.hashlock, rec.evm_deadline)

    def seller_locks(self, rec: SwapRecord, p: SwapParams = FAST) -> None:
        from solana.rpc.async_api import AsyncClient

        from backend.payments._chains import LiveChains

        async def build(client: AsyncClient) -> object:
            chains = LiveChains(self.contracts, client, self.world.market, self.relayer_evm, self.relayer_sol)
            return await chains.seller_lock_ix(rec, p)

        ix = c.run_on_chain(self.node.url, build)
        self.world.svm.send([ix], [self.seller])  # type: ignore[list-item]


def mint_windows(world: World, n: int) -> None:
    """GRXE for the world's prosumer: n full windows of 1.25 kWh (its meter's rated 5 kW), through
    the chain helper's own mint path (meter-signed readings)."""
    for i in range(n):
        world.svm.send(world.mint(T0 + 900 * i, 1_250), [world.gateway])


def build_stack(tmp: Path, dsn: str, clock: MovableClock, monkeypatch: object) -> Stack:
    from gridx.db import migrate

    migrate(dsn)
    anvil = AnvilNode(tmp / "anvil").start()
    monkeypatch.setattr(svm_mod, "time", clock)  # type: ignore[attr-defined]
    node = c.LocalNode.start(c.NodeConfig())
    # the shared chain-world helper, built on the node's own chain (so the relayer sees it over RPC)
    monkeypatch.setattr(hchain, "SvmChain", lambda: node.chain)  # type: ignore[attr-defined]
    world = hchain.build_world()
    mint_windows(world, 12)  # 12 windows x 1.25 kWh = the seed's 15 kWh
    world.svm.send(
        [
            c.build_create_sell_order_ix(
                world.prosumer.pubkey(), world.market, SELL_ORDER_ID, SEED_KWH * GRXE, SEED_PRICE
            )
        ],
        [world.prosumer],
    )
    accts = [Account.create() for _ in range(4)]
    for a in accts:
        anvil.fund(a.address, 10 * ETH)
    issuer, buyer_evm, seller_evm, relayer_evm = accts
    contracts = deploy_contracts(Evm(EvmSettings(anvil.url)), issuer, min_duration_s=30, max_duration_s=86_400)
    contracts.mint(issuer, buyer_evm.address, 450 * 10**6)
    return Stack(
        anvil, node, clock, world, contracts, issuer, buyer_evm, seller_evm, relayer_evm, world.svm.funded(), dsn
    )


def secret() -> bytes:
    return os.urandom(32)


def steps(dsn: str, rec: SwapRecord) -> list[tuple[str, dict[str, object]]]:
    from gridx.db import connect

    with connect(dsn) as conn:
        rows = conn.execute("SELECT step, detail FROM payment_swap_steps WHERE swap_id = %s ORDER BY id", [rec.swap_id])
        return [(r[0], r[1] if isinstance(r[1], dict) else json.loads(r[1])) for r in rows.fetchall()]

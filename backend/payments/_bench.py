"""``gridx bench swap``: THB swaps on the local stack, one after another, timed from the buyer's
lock to both claims confirmed (the relayer runs as its own process, as in production).

The Solana leg trades real GRXE on the bootstrapped market: the seller's GRXE is minted the
production way, from meter-signed readings verified on chain (``gridx.chain.mint_to_owner``),
before the clock starts. That mint runs at the registry's maximum rated power, so it takes about
5.4 s of wall time per 15-GRXE swap to set up (not counted in the figures).
"""

from __future__ import annotations

import asyncio
import os
import time
import uuid
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any, TypeVar

import psycopg
from eth_account import Account
from solana.rpc.async_api import AsyncClient
from solders.keypair import Keypair

import gridx.chain as c
from backend.payments._chains import LiveChains
from backend.payments._evm import Evm, EvmSettings
from backend.payments._evm_htlc import HtlcContracts, deploy_contracts
from backend.payments._relayer import RECONNECT_FIRST_S, RECONNECT_MAX_S, RelayerSettings
from backend.payments._store import SwapRecord, insert_swap, load_swap, set_buyer_secret
from backend.payments._swap import SwapParams, SwapStatus, hashlock_of, plan_swap
from gridx.db import connect, migrate
from gridx.paths import run_dir, write_private
from gridx.services import AnvilNode, LocalStack, remove_run_tree

__all__ = ["run_swap_bench"]

GRXE, PRICE, RATE, ORDER_ID = 15_000_000, 3_000_000, Decimal(10), 1
SWAP_TIMEOUT_S = 120.0  # a swap not completed by then is counted as failed, never waited for forever
T = TypeVar("T")
PARAMS = SwapParams()


async def _market(client: AsyncClient, keys: Path, n: int) -> tuple[c.MarketKeys, Keypair, Keypair, Keypair]:
    """The bootstrapped market, a registered seller holding GRXE minted from signed readings with
    one sell order for n + 1 swaps (one warm-up), a registered buyer, and the relayer's key."""
    await c.bootstrap(client, keys)
    market = c.load_deployment(keys).market_keys()
    seller, buyer, relayer_sol = Keypair(), Keypair(), Keypair()
    for kp, user_type in ((seller, 0), (buyer, 1)):
        await c.airdrop(client, kp.pubkey(), 10**10)
        await c.send_and_confirm(client, [c.build_register_user_ix(kp.pubkey(), user_type)], [kp])
        await c.send_and_confirm(client, [c.create_ata_ix(kp.pubkey(), kp.pubkey(), market.energy_mint)], [kp])
    await c.mint_to_owner(client, seller, [(n + 1) * GRXE], keys)
    order = c.build_create_sell_order_ix(seller.pubkey(), market, ORDER_ID, (n + 1) * GRXE, PRICE)
    await c.send_and_confirm(client, [order], [seller])
    return market, seller, buyer, relayer_sol


def _relayer_config(
    work: Path,
    dsn: str,
    anvil: AnvilNode,
    contracts: HtlcContracts,
    node_url: str,
    market: c.MarketKeys,
    evm_key: str,
    sol_kp: Keypair,
) -> Path:
    # the relayer's keys in a private directory of their own: making the bench's directory
    # private would lock the postgres user out of its data directory (a restart needs it)
    keys = work / "relayer"
    write_private(keys / "relayer_evm.key", evm_key.encode())
    c.save_keypair(keys / "relayer_sol.json", sol_kp)
    settings = RelayerSettings(
        dsn=dsn, evm_url=anvil.url, thbc=contracts.thbc.address, htlc=contracts.htlc.address, sol_url=node_url,
        energy_mint=str(market.energy_mint), payment_mint=str(market.payment_mint), fee_account=str(market.fee_account),
        relayer_evm_key=keys / "relayer_evm.key", relayer_sol_key=keys / "relayer_sol.json", interval_s=0.05,
    )  # fmt: skip
    path = work / "relayer.json"
    path.write_text(settings.model_dump_json())
    return path


class _Db:
    """The bench's connection, opened again (with the relayer's backoff) when PostgreSQL
    restarts; every call it retries is idempotent or checked first (``_insert``)."""

    def __init__(self, dsn: str) -> None:
        self.dsn, self.reconnects = dsn, 0
        self.conn: psycopg.Connection | None = None

    async def call(self, fn: Callable[..., T], *args: Any) -> T:
        wait_s = RECONNECT_FIRST_S
        while True:
            try:
                if self.conn is None or self.conn.closed:
                    self.conn = connect(self.dsn, autocommit=True, app="gridx-bench-swap")
                return fn(self.conn, *args)
            except psycopg.OperationalError:
                self.conn, self.reconnects = None, self.reconnects + 1
                await asyncio.sleep(wait_s)  # backoff between reconnects, not a wait for a result
                wait_s = min(wait_s * 2, RECONNECT_MAX_S)

    def close(self) -> None:
        if self.conn is not None:
            self.conn.close()


def _insert(conn: psycopg.Connection, rec: SwapRecord) -> None:
    """Insert once: a retry after a connection lost at commit finds the row already there."""
    if conn.execute("SELECT 1 FROM payment_swaps WHERE swap_id = %s", [rec.swap_id]).fetchone() is None:
        insert_swap(conn, rec)


async def _swap(ctx: dict[str, Any], i: int) -> float | None:
    contracts: HtlcContracts = ctx["contracts"]
    secret = os.urandom(32)
    plan = plan_swap(GRXE, PRICE, RATE, await asyncio.to_thread(contracts.evm.now), PARAMS)
    rec = SwapRecord(
        uuid.uuid4(), str(ctx["buyer"].pubkey()), str(ctx["seller"].pubkey()), ctx["buyer_evm"].address,
        ctx["seller_evm"].address, ORDER_ID, plan.grxe, plan.grx, RATE, plan.thbc, hashlock_of(secret),
        evm_deadline=plan.evm_deadline,
    )  # fmt: skip
    db: _Db = ctx["db"]
    await db.call(_insert, rec)
    t0 = time.monotonic()  # from the first lock ...
    await asyncio.to_thread(contracts.lock, ctx["buyer_evm"], rec.seller_evm, rec.thbc, rec.hashlock, plan.evm_deadline)
    ix = await ctx["chains"].seller_lock_ix(rec, PARAMS)
    await c.send_and_confirm(ctx["client"], [ix], [ctx["seller"]])
    if i == ctx["restart_db_at"]:
        await asyncio.to_thread(_restart_db, ctx["stack"])
    await db.call(set_buyer_secret, rec.swap_id, secret)
    while time.monotonic() - t0 < SWAP_TIMEOUT_S:  # ... to both claims confirmed (as the relayer records them)
        if (await db.call(load_swap, rec.swap_id)).status is SwapStatus.COMPLETED:
            return time.monotonic() - t0
        await asyncio.sleep(0.02)  # poll period of the figure, not a wait for a result
    return None  # not completed: counted out of ``swaps``


def _restart_db(stack: LocalStack) -> None:
    assert stack.pg is not None
    stack.pg.stop()
    stack.pg.start()


async def _run(n: int, stack: LocalStack, anvil: AnvilNode, restart_db_at: int | None) -> dict[str, Any]:
    work, dsn, node_url = stack.workdir, stack.dsn, stack.chain_url or ""
    issuer, buyer_evm, seller_evm, relayer_evm = (Account.create() for _ in range(4))
    for a in (issuer, buyer_evm, seller_evm, relayer_evm):
        anvil.fund(a.address, 10**20)
    contracts = await asyncio.to_thread(deploy_contracts, Evm(EvmSettings(anvil.url)), issuer, 60, 86_400)
    await asyncio.to_thread(contracts.mint, issuer, buyer_evm.address, (n + 1) * 450_000_000)
    await asyncio.to_thread(contracts.approve, buyer_evm, (n + 1) * 450_000_000)
    async with AsyncClient(node_url) as client:
        market, seller, buyer, relayer_sol = await _market(client, work / "chain", n)
        await c.airdrop(client, relayer_sol.pubkey(), 10**10)
        cfg = _relayer_config(work, dsn, anvil, contracts, node_url, market, relayer_evm.key.hex(), relayer_sol)
        stack.spawn("relayer", "payments", "relay", "--config", str(cfg))
        try:
            db = _Db(dsn)
            chains = LiveChains(contracts, client, market, relayer_evm, relayer_sol)
            ctx = {"contracts": contracts, "db": db, "chains": chains, "client": client, "seller": seller,
                   "buyer": buyer, "buyer_evm": buyer_evm, "seller_evm": seller_evm, "stack": stack,
                   "restart_db_at": restart_db_at}  # fmt: skip
            await _swap(ctx, -1)  # warm-up, not counted: the relayer process starts and imports
            t_start, cpu0 = time.monotonic(), time.process_time()
            results = [await _swap(ctx, i) for i in range(n)]
            elapsed, cpu = time.monotonic() - t_start, time.process_time() - cpu0
            db.close()
        finally:
            stack.stop_children()
    durations = sorted(d for d in results if d is not None)
    done = len(durations)
    p95 = durations[max(0, -(-done * 95 // 100) - 1)] if done else None
    return {"swaps": done, "failed": n - done, "swaps_per_min": round(done * 60 / elapsed, 1),
            "p95_s": round(p95, 2) if p95 is not None else None,
            "p50_s": round(durations[done // 2], 2) if done else None,
            "max_s": round(durations[-1], 2) if done else None,
            "bench_cpu_s_per_swap": round(cpu / n, 3), "db_reconnects": db.reconnects}  # fmt: skip


def run_swap_bench(n: int, restart_db_at: int | None = None) -> dict[str, Any]:
    work = run_dir() / "bench-swap"
    remove_run_tree(work)  # a relocated cluster of the last run too
    with LocalStack(work, broker=False, chain=True) as stack:
        anvil = AnvilNode(work / "anvil").start()
        try:
            migrate(stack.dsn)
            return asyncio.run(_run(n, stack, anvil, restart_db_at))
        finally:
            anvil.stop()

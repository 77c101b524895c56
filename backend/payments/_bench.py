"""``gridx bench swap``: THB swaps on the local stack, one after another, timed from the buyer's
lock to both claims confirmed (the relayer runs as its own process, as in production).

The Solana leg runs on a market of its own whose energy mint is a bench-minted 6-decimal token
standing in for GRXE: the hash-lock instructions are the same, and the bench does not have to
meter 15 kWh per swap through signed readings first."""

from __future__ import annotations

import asyncio
import os
import time
import uuid
from decimal import Decimal
from pathlib import Path
from typing import Any

from eth_account import Account
from solana.rpc.async_api import AsyncClient
from solders.keypair import Keypair

import gridx.chain as c
from backend.payments._chains import LiveChains
from backend.payments._evm import Evm, EvmSettings
from backend.payments._evm_htlc import HtlcContracts, deploy_contracts
from backend.payments._relayer import RelayerSettings
from backend.payments._store import SwapRecord, insert_swap, load_swap, set_buyer_secret
from backend.payments._swap import SwapParams, SwapStatus, hashlock_of, plan_swap
from gridx.db import connect, migrate
from gridx.paths import run_dir
from gridx.services import AnvilNode, LocalStack, remove_run_tree

__all__ = ["run_swap_bench"]

GRXE, PRICE, RATE, ORDER_ID = 15_000_000, 3_000_000, Decimal(10), 1
PARAMS = SwapParams()


async def _market(client: AsyncClient, n: int) -> tuple[c.MarketKeys, Keypair, Keypair, Keypair]:
    """A market (bench energy mint x payment mint), a seller with one sell order for n swaps, a buyer."""
    auth, seller, buyer = Keypair(), Keypair(), Keypair()
    for kp in (auth, seller, buyer):
        await c.airdrop(client, kp.pubkey(), 10**10)
    energy, pay = Keypair(), Keypair()
    rent = (await c.rpc_call(client.get_minimum_balance_for_rent_exemption(82))).value
    for m in (energy, pay):
        await c.send_and_confirm(
            client, c.create_mint_ixs(auth.pubkey(), m.pubkey(), 6, auth.pubkey(), rent), [auth, m]
        )
    market = c.MarketKeys(energy.pubkey(), pay.pubkey(), c.ata_address(auth.pubkey(), pay.pubkey()))
    await c.send_and_confirm(client, [c.create_ata_ix(auth.pubkey(), auth.pubkey(), pay.pubkey())], [auth])
    # only the compiled-in deployer creates markets (local chains: its public seed)
    deployer = c.deployer_keypair()
    await c.airdrop(client, deployer.pubkey(), 10**10)
    ix = c.build_initialize_market_ix(deployer.pubkey(), auth.pubkey(), market, 0)
    await c.send_and_confirm(client, [ix], [deployer])
    for kp in (seller, buyer):
        await c.send_and_confirm(client, [c.create_ata_ix(kp.pubkey(), kp.pubkey(), energy.pubkey())], [kp])
    seller_acct = c.ata_address(seller.pubkey(), energy.pubkey())
    mint_ix = c.mint_to_ix(energy.pubkey(), seller_acct, auth.pubkey(), (n + 1) * GRXE)
    await c.send_and_confirm(client, [mint_ix], [auth])
    await c.send_and_confirm(
        client, [c.build_create_sell_order_ix(seller.pubkey(), market, ORDER_ID, (n + 1) * GRXE, PRICE)], [seller]
    )
    return market, seller, buyer, Keypair()


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
    (work / "relayer_evm.key").write_text(evm_key)
    c.save_keypair(work / "relayer_sol.json", sol_kp)
    settings = RelayerSettings(
        dsn=dsn, evm_url=anvil.url, thbc=contracts.thbc.address, htlc=contracts.htlc.address, sol_url=node_url,
        energy_mint=str(market.energy_mint), payment_mint=str(market.payment_mint), fee_account=str(market.fee_account),
        relayer_evm_key=work / "relayer_evm.key", relayer_sol_key=work / "relayer_sol.json", interval_s=0.05,
    )  # fmt: skip
    path = work / "relayer.json"
    path.write_text(settings.model_dump_json())
    return path


async def _swap(ctx: dict[str, Any], i: int) -> float:
    contracts: HtlcContracts = ctx["contracts"]
    secret = os.urandom(32)
    plan = plan_swap(GRXE, PRICE, RATE, await asyncio.to_thread(contracts.evm.now), PARAMS)
    rec = SwapRecord(
        uuid.uuid4(), str(ctx["buyer"].pubkey()), str(ctx["seller"].pubkey()), ctx["buyer_evm"].address,
        ctx["seller_evm"].address, ORDER_ID, plan.grxe, plan.grx, RATE, plan.thbc, hashlock_of(secret),
        evm_deadline=plan.evm_deadline,
    )  # fmt: skip
    insert_swap(ctx["conn"], rec)
    t0 = time.monotonic()  # from the first lock ...
    await asyncio.to_thread(contracts.lock, ctx["buyer_evm"], rec.seller_evm, rec.thbc, rec.hashlock, plan.evm_deadline)
    ix = await ctx["chains"].seller_lock_ix(rec, PARAMS)
    await c.send_and_confirm(ctx["client"], [ix], [ctx["seller"]])
    set_buyer_secret(ctx["conn"], rec.swap_id, secret)
    while True:  # ... to both claims confirmed (as the relayer records them)
        if load_swap(ctx["conn"], rec.swap_id).status is SwapStatus.COMPLETED:
            return time.monotonic() - t0
        await asyncio.sleep(0.02)


async def _run(n: int, stack: LocalStack, anvil: AnvilNode) -> dict[str, Any]:
    work, dsn, node_url = stack.workdir, stack.dsn, stack.chain_url or ""
    issuer, buyer_evm, seller_evm, relayer_evm = (Account.create() for _ in range(4))
    for a in (issuer, buyer_evm, seller_evm, relayer_evm):
        anvil.fund(a.address, 10**20)
    contracts = await asyncio.to_thread(deploy_contracts, Evm(EvmSettings(anvil.url)), issuer, 60, 86_400)
    await asyncio.to_thread(contracts.mint, issuer, buyer_evm.address, (n + 1) * 450_000_000)
    await asyncio.to_thread(contracts.approve, buyer_evm, (n + 1) * 450_000_000)
    async with AsyncClient(node_url) as client:
        market, seller, buyer, relayer_sol = await _market(client, n)
        await c.airdrop(client, relayer_sol.pubkey(), 10**10)
        cfg = _relayer_config(work, dsn, anvil, contracts, node_url, market, relayer_evm.key.hex(), relayer_sol)
        stack.spawn("relayer", "payments", "relay", "--config", str(cfg))
        try:
            with connect(dsn, autocommit=True) as conn:
                chains = LiveChains(contracts, client, market, relayer_evm, relayer_sol)
                ctx = {"contracts": contracts, "conn": conn, "chains": chains, "client": client, "seller": seller,
                       "buyer": buyer, "buyer_evm": buyer_evm, "seller_evm": seller_evm}  # fmt: skip
                await _swap(ctx, -1)  # warm-up, not counted: the relayer process starts and imports
                t_start = time.monotonic()
                durations = [await _swap(ctx, i) for i in range(n)]
                elapsed = time.monotonic() - t_start
        finally:
            stack.stop_children()
    durations.sort()
    p95 = durations[max(0, -(-len(durations) * 95 // 100) - 1)]
    return {"swaps": n, "swaps_per_min": round(n * 60 / elapsed, 1), "p95_s": round(p95, 2),
            "p50_s": round(durations[len(durations) // 2], 2), "max_s": round(durations[-1], 2)}  # fmt: skip


def run_swap_bench(n: int) -> dict[str, Any]:
    work = run_dir() / "bench-swap"
    remove_run_tree(work)  # a relocated cluster of the last run too
    with LocalStack(work, broker=False, chain=True) as stack:
        anvil = AnvilNode(work / "anvil").start()
        try:
            migrate(stack.dsn)
            return asyncio.run(_run(n, stack, anvil))
        finally:
            anvil.stop()

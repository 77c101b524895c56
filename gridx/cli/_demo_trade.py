"""The demo's market step, every user action through the HTTP API with ``TradingClient`` signed
by the user's own keypair: prosumer A (the meter owner with the most GRXE minted from its
readings) sells half of it at 3 GRX/kWh; consumer B signs in, registers, reads the book, buys
two thirds of it paying THBC on the EVM chain (``_demo_thb``: a hash-locked swap the relayer
completes) and the rest paying GRX (the native path, settled by the matcher on chain); A then
offers what it has left at 3.5 GRX/kWh. The figures are read back from the chain (via the API's
balances), the EVM chain, the database, and both reconciliations."""

from __future__ import annotations

import json
import os
import subprocess
import time
from pathlib import Path
from typing import Any

from gridx.chain import airdrop, load_deployment, load_or_create_keypair, run_on_chain
from gridx.cli._demo_thb import ThbRails, buy_in_thb
from gridx.client import TradingClient
from gridx.services import wait_until

__all__ = ["PRICE", "a_day", "dashboard_view", "prove_one", "register_over_api", "trade_over_api", "trading_drift_of"]

UNIT = 1_000_000  # base units per GRXE (kWh) and per GRX
PRICE = 3 * UNIT  # 3 GRX per kWh, as in the seed's Flow 4
SECOND_PRICE = 3_500_000  # A's afternoon offer: 3.5 GRX per kWh
LOT = 1_000


def register_over_api(api_url: str, rpc_url: str, wallets: Path, owners: list[tuple[str, str]]) -> None:
    """06:00: each meter's owner signs in and registers through the API (user account and both
    token accounts on chain; the indexer writes the user row); ``owners`` is (meter_id, kind)."""
    keys = {meter_id: load_or_create_keypair(wallets / f"{meter_id}.json") for meter_id, _ in owners}

    async def fund(client: Any) -> None:  # fees (SOL) on a dev cluster
        for key in keys.values():
            await airdrop(client, key.pubkey(), 10**9)

    run_on_chain(rpc_url, fund)
    for meter_id, kind in owners:
        with TradingClient(api_url, keys[meter_id]) as user:
            user.login()
            if user.me()["registration"] != "registered":
                user.register(kind)


def trading_drift_of(dsn: str, rpc_url: str, keys: Path) -> int:
    from backend.reconcile import reconcile_trading
    from gridx.db import aconnect

    market = load_deployment(keys).market_keys()

    async def go(client: Any) -> int:
        async with await aconnect(dsn, autocommit=True) as conn:
            return (await reconcile_trading(client, conn, market)).drift

    return run_on_chain(rpc_url, go)


def a_day(a: TradingClient, meter: str) -> dict[str, int]:
    """A's day from its own API session: energy from the daily aggregate (database), mints
    with their signatures (database, written from the chain), balances (chain)."""
    day = a.request("GET", "/me/aggregates", params={"meter_id": meter, "bucket": "day"})
    mints = a.request("GET", "/me/mints", params={"limit": 1000})
    return {
        "a_produced_wh": sum(int(d["produced_wh"]) for d in day),
        "a_consumed_wh": sum(int(d["consumed_wh"]) for d in day),
        "a_surplus_wh": sum(int(d["surplus_wh"]) for d in day),
        "a_minted_grxe": sum(int(m["amount"]) for m in mints),
        "a_grxe": int(a.balances()["grxe"]),
        "a_grx": int(a.balances()["grx"]),
    }


def _buy_rest(a: TradingClient, b: TradingClient, order_id: int, amount: int) -> tuple[list[dict[str, Any]], float]:
    """B buys what the swap left of A's order paying GRX; returns B's trades of it once settled
    on chain, and how long the purchase took (order to settlement)."""
    started = time.monotonic()
    bought = b.buy(amount, PRICE)
    wait_until(lambda: a.get_order(order_id)["status"] == "filled", 60, "the trade matched")
    mine = lambda: [t for t in b.trades(mine=True) if t["buy_order"] == bought["order_id"]]  # noqa: E731
    settled = lambda: bool(mine()) and all(t["status"] == "confirmed" for t in mine())  # noqa: E731
    wait_until(settled, 60, "the trade settled on chain")
    return mine(), time.monotonic() - started


def _sell_and_buy(a: TradingClient, b: TradingClient, held: int, rails: ThbRails, keys: Path, console: Any) -> Any:
    """A sells half of ``held`` at 3 GRX/kWh; B pays two thirds of it in THB, the rest in GRX."""
    amount = held // 2 // LOT * LOT
    in_grx = amount // 3 // LOT * LOT
    order_id = int(a.sell(amount, PRICE)["order_id"])
    wait_until(lambda: a.get_order(order_id)["status"] == "open", 30, "A's order open")
    console.print(f"A ({a.wallet[:8]}…) holds {held / UNIT:,.6f} GRXE; sells {amount / UNIT:,.6f} at 3 GRX/kWh")
    console.print(f"B ({b.wallet[:8]}…) reads the book: asks {b.book()['asks']}")
    thb = buy_in_thb(a, b, order_id, amount - in_grx, rails, keys / "wallets", console)
    trades: list[dict[str, Any]] = []
    took = []
    if in_grx:
        # the lock took its part out of the order; the matcher puts the rest back in the book
        wait_until(lambda: a.get_order(order_id)["remaining"] == in_grx, 30, "A's order back with what remains")
        b.faucet(in_grx * PRICE // UNIT)
        grx_before = int(b.balances()["grx"])
        trades, secs = _buy_rest(a, b, order_id, in_grx)
        took.append(round(secs, 3))
        thb["buyer_grx_spent"] = grx_before - int(b.balances()["grx"])
        console.print(f"B bought the remaining {in_grx / UNIT:,.6f} GRXE paying GRX, settled in {secs:.2f} s")
    return amount - in_grx, thb, trades, took


def trade_over_api(
    api_url: str, rpc_url: str, dsn: str, keys: Path, seller_meter: str, rails: ThbRails, console: Any
) -> dict[str, Any]:
    """A sells half its GRXE to B (paid in THB and GRX), then offers the rest at 3.5 GRX/kWh;
    returns the market figures of the summary with A's day."""
    a = TradingClient(api_url, keys / "wallets" / f"{seller_meter}.json")
    b_key = load_or_create_keypair(keys / "wallets" / "consumer-b.json")
    run_on_chain(rpc_url, lambda c: airdrop(c, b_key.pubkey(), 10**9))  # fees (SOL) on a dev cluster
    b = TradingClient(api_url, b_key)
    with a, b:
        a.login()
        b.login()
        if b.me()["registration"] != "registered":
            b.register("consumer")
        held = int(a.balances()["grxe"])
        in_thb, thb, trades, took = _sell_and_buy(a, b, held, rails, keys, console)
        grx_sold = sum(t["amount"] for t in trades)
        rest = (held - in_thb - grx_sold) // LOT * LOT
        thb_quote = 0
        if rest:
            offer = a.sell(rest, SECOND_PRICE)
            wait_until(lambda: a.get_order(offer["order_id"])["status"] == "open", 30, "A's second offer open")
            thb_quote = int(b.thb_quote(int(offer["order_id"]))["thbc"])  # what B would pay in THB for it
            console.print(
                f"A offers its remaining {rest / UNIT:,.6f} GRXE at 3.5 GRX/kWh; in THB: {thb_quote / UNIT:,.6f} THBC"
            )
        result = {
            "sold_grxe": in_thb + grx_sold,
            "sold_thb_grxe": in_thb,
            "sold_grx_grxe": grx_sold,
            "trades": 1 + len(trades),  # the swap and the GRX trade(s)
            "grx_paid": sum(t["payment"] for t in trades),
            "buyer_grx_spent": 0,
            **thb,
            "trade_seconds": [thb["thb_seconds"], *took],
            "open_offer_grxe": rest,
            "open_offer_thbc_quote": thb_quote,
            "seller_held_grxe": held,  # = A's minted GRXE unless --load traded some of it
            "buyer_grxe": int(b.balances()["grxe"]),
            **a_day(a, seller_meter),
        }
    result["trading_drift"] = trading_drift_of(dsn, rpc_url, keys / "chain")
    return result


def dashboard_view(api_url: str, signature: str | None) -> dict[str, Any]:
    """What the dashboard shows at the end of the day (its overview and one mint's proof), read
    the way the page reads it."""
    import httpx

    with httpx.Client(base_url=api_url, timeout=120) as http:
        o = http.get("/dashboard/overview").raise_for_status().json()
        proof = http.get(f"/dashboard/proofs/{signature}").raise_for_status().json() if signature else {}
    return {
        "dashboard_accepted": int(o["gateway"]["accepted"]),
        "dashboard_meters": len(o["meters"]),
        "dashboard_mints": len(o["mints"]),
        "dashboard_proof_verified": bool(proof.get("verified")),
    }


def prove_one(dsn: str, rpc_url: str, seller_meter: str) -> tuple[bool, list[str], str | None]:
    """``gridx prove`` (the operator's command, as its own process) for A's first mint:
    (verified, the lines it printed)."""
    from gridx.db import connect
    from gridx.services import gridx_command

    with connect(dsn) as conn:
        row = conn.execute(
            "SELECT tx_signature FROM token_mints WHERE meter_id = %s ORDER BY window_start LIMIT 1", (seller_meter,)
        ).fetchone()
    if row is None:
        return False, ["no mint of A to prove"], None
    env = {"GRIDX_MINT_DSN": dsn, "GRIDX_MINT_RPC_URL": rpc_url}
    out = subprocess.run(gridx_command("prove", str(row[0])), env={**os.environ, **env}, capture_output=True, text=True)
    lines = out.stdout.strip().splitlines()
    verified = out.returncode == 0 and bool(lines) and json.loads(lines[-1]).get("verified") is True
    return verified, lines or out.stderr.strip().splitlines()[-5:], str(row[0])

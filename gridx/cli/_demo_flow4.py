"""``gridx demo --flow4``: the user's Flow 4 with its exact figures. Prosumer A's meter is
scripted (``gridx sim meters --script``): its morning windows carry 2, 8 and 13 kWh of surplus
(23 GRXE minted), then, after a pause, 10, 7 and 2 (19 more). Once the morning is minted, A
sells 15 GRXE at 3 GRX/kWh (8 kept) and B buys all of it paying 450 THBC on the EVM chain; once
the afternoon is minted, A offers 12 GRXE at 3.5 GRX/kWh and B takes a smaller 2 GRXE of it
paying 7 GRX (the native path). Every user step goes through the HTTP API (``_demo_thb``,
``_demo_trade``)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from gridx.chain import airdrop, load_or_create_keypair, run_on_chain
from gridx.cli._demo_thb import ThbRails, buy_in_thb
from gridx.client import TradingClient
from gridx.services import wait_until

__all__ = ["AFTERNOON", "MORNING", "RATED_W", "afternoon", "morning", "script_spec", "wait_minted"]

UNIT = 1_000_000
MORNING = [2_000, 8_000, 13_000]  # Wh of surplus per window
AFTERNOON = [10_000, 7_000, 2_000]
GAP = 3  # empty windows between them, while A sells and B pays in THB
# what A's meter is enrolled with: 13 kWh in one 10 s window of a x60 simulation is 4.68 MW
# of wall-clock power (78 kW simulated); the registry's ceiling (10 MW) admits it
RATED_W = 10_000_000
SELL, PRICE = 15 * UNIT, 3 * UNIT
OFFER, SECOND_PRICE, SMALL = 12 * UNIT, 3_500_000, 2 * UNIT


def script_spec(index: int, interval_s: int) -> str:
    surplus = MORNING + [0] * GAP + AFTERNOON
    return f"{index}={interval_s}:" + ",".join(str(wh) for wh in surplus)


def minted(dsn: str, meter: str) -> int:
    from gridx.db import connect

    with connect(dsn) as conn:
        row = conn.execute("SELECT coalesce(sum(amount), 0)::bigint FROM token_mints WHERE meter_id = %s", (meter,))
        return int(row.fetchone()[0])  # type: ignore[index]


def wait_minted(stack: Any, meter: str, amount: int, console: Any, timeout_s: float = 300) -> None:
    """Until A's mints add up to ``amount`` (progress every few seconds); a part that died or a
    total past ``amount`` stops the demo."""
    deadline = time.monotonic() + timeout_s
    while (got := minted(stack.dsn, meter)) < amount:
        stack.check_alive()
        if time.monotonic() > deadline:
            raise TimeoutError(f"demo: A minted {got} of {amount} GRXE base units in {timeout_s:g} s")
        console.print(f"A's meter {meter}: {got / UNIT:,.6f} of {amount / UNIT:,.6f} GRXE minted")
        time.sleep(2.0)
    if got != amount:
        raise RuntimeError(f"demo: A minted {got}, the script plays {amount}")


def _parties(api_url: str, rpc_url: str, keys: Path, meter: str) -> tuple[TradingClient, TradingClient]:
    a = TradingClient(api_url, keys / "wallets" / f"{meter}.json")
    b_key = load_or_create_keypair(keys / "wallets" / "consumer-b.json")
    run_on_chain(rpc_url, lambda c: airdrop(c, b_key.pubkey(), 10**9))  # fees (SOL) on a dev cluster
    b = TradingClient(api_url, b_key)
    a.login()
    b.login()
    if b.me()["registration"] != "registered":
        b.register("consumer")
    return a, b


def morning(api_url: str, rpc_url: str, keys: Path, meter: str, rails: ThbRails, console: Any) -> dict[str, Any]:
    """12:30 A sells 15 GRXE at 3 GRX/kWh; 13:00 B reads the book; 13:05 B pays 450 THBC."""
    a, b = _parties(api_url, rpc_url, keys, meter)
    with a, b:
        held = int(a.balances()["grxe"])
        order_id = int(a.sell(SELL, PRICE)["order_id"])
        wait_until(lambda: a.get_order(order_id)["status"] == "open", 30, "A's order open")
        kept = int(a.balances()["grxe"])
        console.print(f"12:30 A holds {held / UNIT:g} GRXE, sells 15 at 3 GRX/kWh ({kept / UNIT:g} kept)")
        console.print(f"13:00 B reads the book: asks {b.book()['asks']}")
        thb = buy_in_thb(a, b, order_id, SELL, rails, keys / "wallets", console)
        wait_until(lambda: a.get_order(order_id)["status"] == "filled", 30, "A's order taken by the swap")
        return {"a_held_at_sale": held, "a_kept_at_sale": kept, "sold_thb_grxe": SELL, **thb}


def afternoon(api_url: str, rpc_url: str, keys: Path, meter: str, console: Any) -> dict[str, Any]:
    """A offers 12 GRXE at 3.5 GRX/kWh; B buys 2 of it paying GRX; the rest's THB quote."""
    a, b = _parties(api_url, rpc_url, keys, meter)
    with a, b:
        order_id = int(a.sell(OFFER, SECOND_PRICE)["order_id"])
        wait_until(lambda: a.get_order(order_id)["status"] == "open", 30, "A's offer open")
        console.print(f"A offers 12 GRXE at 3.5 GRX/kWh (holds {int(a.balances()['grxe']) / UNIT:g} besides)")
        b.faucet(SMALL * SECOND_PRICE // UNIT)
        grx0 = int(b.balances()["grx"])
        started = time.monotonic()
        bought = int(b.buy(SMALL, SECOND_PRICE)["order_id"])
        mine = lambda: [t for t in b.trades(mine=True) if t["buy_order"] == bought]  # noqa: E731
        settled = lambda: bool(mine()) and all(t["status"] == "confirmed" for t in mine())  # noqa: E731
        wait_until(settled, 60, "B's GRX trade settled")
        took = time.monotonic() - started
        trades = mine()
        quote = int(b.thb_quote(order_id)["thbc"])
        console.print(f"B bought 2 GRXE paying {sum(t['payment'] for t in trades) / UNIT:g} GRX ({took:.2f} s)")
        return {
            "sold_grx_grxe": sum(t["amount"] for t in trades),
            "grx_paid": sum(t["payment"] for t in trades),
            "buyer_grx_spent": grx0 - int(b.balances()["grx"]),
            "grx_seconds": round(took, 3),
            "grx_trades": len(trades),
            "open_offer_grxe": int(a.get_order(order_id)["remaining"]),
            "open_offer_thbc_quote": quote,
            "a_grxe": int(a.balances()["grxe"]),
            "a_grx": int(a.balances()["grx"]),
            "buyer_grxe": int(b.balances()["grxe"]),
        }


def day_summary(
    api_url: str, dsn: str, rpc_url: str, keys: Path, meter: str, am: dict[str, Any], pm: dict[str, Any]
) -> Any:
    """The market figures of the summary: both purchases, A's day from its own API session."""
    from gridx.cli._demo_trade import a_day, trading_drift_of

    with TradingClient(api_url, keys / "wallets" / f"{meter}.json") as a:
        a.login()
        day = a_day(a, meter)
        mints = sorted(a.request("GET", "/me/mints", params={"limit": 1000}), key=lambda m: m["window_start"])
    return {
        "a_mints_grxe": [int(m["amount"]) for m in mints],  # one per window with surplus, in order
        **am,
        **pm,
        **day,
        "sold_grxe": am["sold_thb_grxe"] + pm["sold_grx_grxe"],
        "trades": 1 + pm["grx_trades"],
        "trade_seconds": [am["thb_seconds"], pm["grx_seconds"]],
        "seller_held_grxe": day["a_minted_grxe"],
        "trading_drift": trading_drift_of(dsn, rpc_url, keys / "chain"),
    }

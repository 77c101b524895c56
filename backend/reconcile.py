"""Chain versus database for trading: users, orders, escrow and trades. The chain wins; the
report names every disagreement and ``drift`` counts them (0 after every test)."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from solders.pubkey import Pubkey

from gridx.chain import MarketKeys, ata_address, fetch_decoded, order_pda, token_balance, user_pda

if TYPE_CHECKING:
    import psycopg
    from solana.rpc.async_api import AsyncClient

__all__ = ["TradingReconciliation", "reconcile_trading"]

_LIVE = ("open", "cancelling", "removed", "filled")


@dataclass
class TradingReconciliation:
    users_missing_on_chain: list[str] = field(default_factory=list)
    order_mismatch: list[str] = field(default_factory=list)  # "id: chain X, db Y"
    escrow: dict[str, tuple[int, int]] = field(default_factory=dict)  # vault -> (chain, db)
    trades: tuple[int, int] = (0, 0)  # (market trade_count on chain, confirmed in db)
    volume: tuple[int, int] = (0, 0)
    # wallet -> (GRXE held on chain, what mints and trades leave it), only where they differ
    owner_grxe: dict[str, tuple[int, int]] = field(default_factory=dict)

    @property
    def drift(self) -> int:
        return (
            len(self.users_missing_on_chain)
            + len(self.order_mismatch)
            + sum(c != d for c, d in self.escrow.values())
            + (self.trades[0] != self.trades[1])
            + (self.volume[0] != self.volume[1])
            + len(self.owner_grxe)
        )


async def _db(
    conn: psycopg.AsyncConnection, market: str
) -> tuple[list[str], list[tuple[int, str, str, int, str]], dict[int, int], tuple[int, int]]:
    users = [r[0] for r in await (await conn.execute("SELECT wallet FROM users ORDER BY wallet")).fetchall()]
    orders = await (
        await conn.execute(
            "SELECT id, owner, side, remaining, status FROM orders WHERE market = %s AND status <> 'prepared'",
            (market,),
        )
    ).fetchall()
    unsettled: dict[int, int] = defaultdict(int)
    for sell, buy, amount in await (
        await conn.execute(
            "SELECT sell_order, buy_order, amount FROM trades WHERE market = %s AND status IN ('pending', 'sent')",
            (market,),
        )
    ).fetchall():
        unsettled[sell] += amount
        unsettled[buy] += amount
    row = await (
        await conn.execute(
            "SELECT count(*), coalesce(sum(amount), 0)::bigint FROM trades WHERE market = %s AND status = 'confirmed'",
            (market,),
        )
    ).fetchone()
    assert row is not None
    return users, orders, unsettled, (int(row[0]), int(row[1]))


# What an owner's GRXE wallet must hold: minted to it, plus confirmed buys, minus everything its
# sell orders took out (see _returned for what came back). Every owner who was minted to or
# traded (this replaces the mint area's minted-only check).
_OWNER_GRXE = """
WITH minted AS (SELECT m.owner_wallet AS wallet, sum(t.amount)::bigint AS n
                  FROM token_mints t JOIN meters m USING (meter_id) GROUP BY 1),
     bought AS (SELECT buyer AS wallet, sum(amount)::bigint AS n FROM trades
                 WHERE market = %(m)s AND status = 'confirmed' GROUP BY 1),
     sold AS (SELECT owner AS wallet, sum(amount)::bigint AS n FROM orders
               WHERE market = %(m)s AND side = 'sell'
                 AND status NOT IN ('prepared', 'failed') GROUP BY 1)
SELECT w.wallet, coalesce(minted.n, 0) + coalesce(bought.n, 0) - coalesce(sold.n, 0)
  FROM (SELECT wallet FROM minted UNION SELECT wallet FROM bought UNION SELECT wallet FROM sold) w
  LEFT JOIN minted USING (wallet) LEFT JOIN bought USING (wallet) LEFT JOIN sold USING (wallet)
"""

# GRXE that came back to a wallet from the trading program, from its indexed events: a sell
# order's escrow refunded at a cancel or release, a hash lock claimed by its buyer (a THB
# swap) or refunded to its seller
_RETURNED = """
SELECT name, data->>'owner', data->>'order', data->>'buyer', data->>'seller', data->>'refunded', data->>'amount'
  FROM chain_events WHERE name IN ('OrderCancelled', 'HashClaimed', 'HashRefunded')
"""


async def _returned(conn: psycopg.AsyncConnection, market: str) -> dict[str, int]:
    sells = await (
        await conn.execute(
            "SELECT id, owner FROM orders WHERE market = %s AND side = 'sell' AND status NOT IN ('prepared', 'failed')",
            (market,),
        )
    ).fetchall()
    sell_pdas = {str(order_pda(Pubkey.from_string(owner), oid)) for oid, owner in sells}
    back: dict[str, int] = defaultdict(int)
    for name, owner, order, buyer, seller, refunded, amount in await (await conn.execute(_RETURNED)).fetchall():
        if name == "OrderCancelled" and order in sell_pdas:  # a buy order's refund is GRX
            back[owner] += int(refunded)
        elif name == "HashClaimed":
            back[buyer] += int(amount)
        elif name == "HashRefunded":
            back[seller] += int(amount)
    return back


async def _owner_grxe(
    client: AsyncClient, conn: psycopg.AsyncConnection, keys: MarketKeys
) -> dict[str, tuple[int, int]]:
    out: dict[str, tuple[int, int]] = {}
    back = await _returned(conn, str(keys.address))
    wants = {w: int(n) for w, n in await (await conn.execute(_OWNER_GRXE, {"m": str(keys.address)})).fetchall()}
    for wallet in wants.keys() | back.keys():
        want = wants.get(wallet, 0) + back.get(wallet, 0)
        held = await token_balance(client, ata_address(Pubkey.from_string(wallet), keys.energy_mint))
        if held != want:
            out[wallet] = (held, want)
    return out


async def reconcile_trading(
    client: AsyncClient, conn: psycopg.AsyncConnection, keys: MarketKeys, strict_balances: bool = True
) -> TradingReconciliation:
    """``strict_balances``: every trader's GRXE wallet holds exactly what mints and trades
    leave it (off where GRXE also moves by plain transfers)."""
    rep = TradingReconciliation()
    users, orders, unsettled, (n_trades, volume) = await _db(conn, str(keys.address))
    for w in users:
        if await fetch_decoded(client, "registry", user_pda(Pubkey.from_string(w))) is None:
            rep.users_missing_on_chain.append(w)
    escrow = {"energy": 0, "payment": 0}
    for oid, owner, side, remaining, status in orders:
        acct = await fetch_decoded(client, "trading", order_pda(Pubkey.from_string(owner), oid))
        # what the chain must still hold: the book's remainder plus fills not settled yet
        want = remaining + unsettled.get(oid, 0) if status in _LIVE else 0
        got = 0 if acct is None else int(acct.remaining)
        if got != want:
            rep.order_mismatch.append(f"{oid}: chain {got}, db {want} ({status})")
        if acct is not None:
            escrow["energy" if side == "sell" else "payment"] += int(acct.escrow_remaining)
    rep.escrow = {
        "energy": (await token_balance(client, keys.energy_vault), escrow["energy"]),
        "payment": (await token_balance(client, keys.payment_vault), escrow["payment"]),
    }
    market = await fetch_decoded(client, "trading", keys.address)
    rep.trades = (int(market.trade_count) if market else 0, n_trades)
    rep.volume = (int(market.volume) if market else 0, volume)
    if strict_balances:
        rep.owner_grxe = await _owner_grxe(client, conn, keys)
    return rep

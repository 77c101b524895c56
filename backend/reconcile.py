"""Chain versus database for trading: users, orders, escrow and trades. The chain wins; the
report names every disagreement and ``drift`` counts them (0 after every test)."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from solders.pubkey import Pubkey

from gridx.chain import MarketKeys, fetch_decoded, order_pda, token_balance, user_pda

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

    @property
    def drift(self) -> int:
        return (
            len(self.users_missing_on_chain)
            + len(self.order_mismatch)
            + sum(c != d for c, d in self.escrow.values())
            + (self.trades[0] != self.trades[1])
            + (self.volume[0] != self.volume[1])
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


async def reconcile_trading(
    client: AsyncClient, conn: psycopg.AsyncConnection, keys: MarketKeys
) -> TradingReconciliation:
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
    return rep

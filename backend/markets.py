"""``/markets``: the market's rules, the order book and trades (public); ``/trades/mine``."""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Controller, get
from litestar.params import Parameter
from pydantic import BaseModel

from ._state import Services

__all__ = ["MarketController", "book_snapshot"]


class MarketView(BaseModel):
    id: str
    energy_mint: str
    payment_mint: str
    fee_bps: int
    price_tick: int
    lot: int


class LevelView(BaseModel):
    price: int
    amount: int
    orders: int


class BookView(BaseModel):
    market: str
    seq: int  # the live feed's sequence number this snapshot is at
    bids: list[LevelView]
    asks: list[LevelView]
    best_bid: int | None
    best_ask: int | None
    spread: int | None


class TradeView(BaseModel):
    trade_id: int
    market: str
    seq: int
    sell_order: int
    buy_order: int
    seller: str
    buyer: str
    amount: int
    price: int
    payment: int
    fee: int
    status: str
    reason: str | None
    tx_signature: str | None
    slot: int | None


_TRADE_COLS = (
    "id, market, market_seq, sell_order, buy_order, seller, buyer, amount, price, payment, fee, status, reason, "
    "CASE WHEN status = 'confirmed' THEN tx_signature END, slot"
)


def _trade(row: Any) -> TradeView:
    return TradeView(**dict(zip(TradeView.model_fields, row, strict=True)))


async def book_snapshot(conn: Any, market: str, depth: int | None) -> BookView:
    """Levels of the orders in the engine with the engine's seq, in one statement, so one
    snapshot (the matcher writes both in one transaction) and one round trip. A sell order
    whose hash lock is on its way counts with what the matcher did not hold back (sql/101)."""
    rows = await (
        await conn.execute(
            """SELECT s.seq, l.side, l.price, l.amount, l.n
                 FROM (SELECT coalesce((SELECT seq FROM market_state WHERE market = %s), 0) AS seq) s
                 LEFT JOIN LATERAL (
                      SELECT side, price, sum(remaining - held)::bigint AS amount, count(*) AS n FROM orders
                       WHERE market = %s AND in_engine AND remaining - held > 0
                         AND (status = 'open' OR (status = 'swap_locking' AND held > 0))
                       GROUP BY side, price) l ON true""",
            (market, market),
        )
    ).fetchall()
    seq = int(rows[0][0]) if rows else 0
    rows = [r[1:] for r in rows if r[1] is not None]
    bids = sorted(
        (LevelView(price=p, amount=a, orders=n) for s, p, a, n in rows if s == "buy"), key=lambda lv: -lv.price
    )
    asks = sorted(
        (LevelView(price=p, amount=a, orders=n) for s, p, a, n in rows if s == "sell"), key=lambda lv: lv.price
    )
    bids, asks = bids[:depth], asks[:depth]
    bb, ba = (bids[0].price if bids else None), (asks[0].price if asks else None)
    return BookView(
        market=market,
        seq=seq,
        bids=bids,
        asks=asks,
        best_bid=bb,
        best_ask=ba,
        spread=None if bb is None or ba is None else ba - bb,
    )


class MarketController(Controller):
    tags = ["markets"]

    @get("/markets", operation_id="listMarkets")
    async def markets(self, services: Services) -> list[MarketView]:
        m = services.market
        return [
            MarketView(
                id=m.id,
                energy_mint=str(m.keys.energy_mint),
                payment_mint=str(m.keys.payment_mint),
                fee_bps=m.fee_bps,
                price_tick=m.price_tick,
                lot=m.lot,
            )
        ]

    @get("/markets/{market_id:str}/book", operation_id="getBook")
    async def book(
        self, services: Services, market_id: str, depth: Annotated[int, Parameter(ge=1, le=1000)] = 50
    ) -> BookView:
        market = services.market_by_id(market_id)
        version = services.feed.version(market.id)  # read before the query: a later event invalidates
        hit = services.book_cache.get((market.id, depth))
        if version is not None and hit is not None and hit[0] == version:
            return hit[1]
        async with services.pool.connection() as conn:
            book = await book_snapshot(conn, market.id, depth)
        if version is not None:
            services.book_cache[(market.id, depth)] = (version, book)
        return book

    @get("/markets/{market_id:str}/trades", operation_id="listMarketTrades")
    async def trades(
        self, services: Services, market_id: str, limit: Annotated[int, Parameter(ge=1, le=500)] = 100
    ) -> list[TradeView]:
        market = services.market_by_id(market_id)
        async with services.pool.connection() as conn:
            rows = await (
                await conn.execute(
                    f"SELECT {_TRADE_COLS} FROM trades WHERE market = %s ORDER BY id DESC LIMIT %s",  # noqa: S608
                    (market.id, limit),
                )
            ).fetchall()
        return [_trade(r) for r in rows]

    @get("/trades/mine", operation_id="listMyTrades")
    async def my_trades(
        self, services: Services, wallet: str, limit: Annotated[int, Parameter(ge=1, le=500)] = 100
    ) -> list[TradeView]:
        async with services.pool.connection() as conn:
            rows = await (
                await conn.execute(
                    f"""SELECT {_TRADE_COLS} FROM trades WHERE seller = %s OR buyer = %s
                        ORDER BY id DESC LIMIT %s""",  # noqa: S608
                    (wallet, wallet, limit),
                )
            ).fetchall()
        return [_trade(r) for r in rows]

"""The matcher: the only writer of a market's book. It holds a session advisory lock for the
market (a second instance waits), feeds the engine the orders the chain confirmed (and the
cancels users submitted), and writes each trade as a settlement row in the same transaction
as the engine's sequence number and the book's new amounts. The feed's events go out with
that commit (NOTIFY is transactional)."""

from __future__ import annotations

import asyncio
import json
import time
from typing import TYPE_CHECKING, Any

import structlog

from backend._state import MarketInfo
from backend.market import (
    Amend,
    Cancel,
    Cancelled,
    CancelReason,
    Engine,
    Event,
    MarketSpec,
    NewOrder,
    Rejected,
    RestingOrder,
    Side,
    StpMode,
    TimeInForce,
    Trade,
)
from backend.orders import MAX_AMOUNT, MAX_PRICE
from gridx.db import aconnect

if TYPE_CHECKING:
    import psycopg
    from psycopg_pool import AsyncConnectionPool

__all__ = ["FEED_CHANNEL", "MATCH_BATCH", "WAKE_CHANNEL", "Matcher", "engine_spec", "event_dict"]

log = structlog.get_logger("backend.matcher")
FEED_CHANNEL = "gridx_feed"
# an order or cancel confirmed by an API process without the matcher: the engine matches now
WAKE_CHANNEL = "gridx_match_wake"
_NOTIFY_MAX = 7000  # PostgreSQL's NOTIFY payload limit is 8000 bytes
# new orders a round takes: a round's trades reach the settler when it commits, so small rounds
# let the settler work on the first trades while the matcher matches the next orders (a full
# book of 600 orders went in 2 rounds of ~0.4 s before; now ~120 orders a round, back to back)
MATCH_BATCH = 120


def engine_spec(m: MarketInfo) -> MarketSpec:
    return MarketSpec(m.id, tick=m.price_tick, lot=m.lot, max_price=MAX_PRICE, max_amount=MAX_AMOUNT, fee_bps=m.fee_bps)


def event_dict(ev: Event) -> dict[str, Any]:
    d: dict[str, Any] = {"event": type(ev).__name__}
    for k, v in ev._asdict().items():
        d[k] = v.name.lower() if isinstance(v, Side) else v
    return d


class Matcher:
    def __init__(self, dsn: str, pool: AsyncConnectionPool, market: MarketInfo) -> None:
        self.dsn, self.pool, self.market = dsn, pool, market
        self.engine = Engine(engine_spec(market))
        self.locked = asyncio.Event()  # set once this instance is the market's writer
        self._stale = False  # a round rolled back: rebuild the engine before the next one
        self.traded = asyncio.Event()  # set when a round committed trades: the settler's wake-up
        self.more = False  # the last round took a full batch of new orders: match again at once

    async def _restore(self, conn: psycopg.AsyncConnection) -> None:
        row = await (await conn.execute("SELECT seq FROM market_state WHERE market = %s", (self.market.id,))).fetchone()
        rows = await (
            await conn.execute(
                """SELECT id, owner, side, price, remaining - held FROM orders
                    WHERE market = %s AND in_engine AND remaining - held > 0
                      AND (status = 'open' OR (status = 'swap_locking' AND held > 0))
                    ORDER BY side DESC, CASE WHEN side = 'sell' THEN price ELSE -price END, book_seq""",
                (self.market.id,),
            )
        ).fetchall()
        resting = [RestingOrder(i, o, Side.SELL if s == "sell" else Side.BUY, p, r) for i, o, s, p, r in rows]
        self.engine = Engine.restore(engine_spec(self.market), row[0] if row else 0, resting)

    async def _commands(self, conn: psycopg.AsyncConnection) -> list[Cancel | NewOrder | Amend]:
        m = self.market.id
        cmds: list[Cancel | NewOrder | Amend] = []
        removed: set[int] = set()
        # out of the engine: cancels under way or done (also those made on chain outside the API,
        # which the indexer marks cancelled), orders a failed settlement changed (requeue: an open
        # one enters again below, with the amount the chain still holds), and sell orders a THB
        # swap's hash lock takes from (see sql/075); one whose lock already landed ('swap_locked')
        # reopens with what remains, and is fed to the engine again next round, not in the batch
        # that removes it. A partial lock keeps the order's place instead when the engine can
        # amend it down (sql/101)
        for oid, owner, status, remaining, locking in await (
            await conn.execute(
                """SELECT id, owner, status, remaining,
                          (SELECT max(p.amount) FROM prepared_txs p WHERE p.order_id = orders.id
                              AND p.kind = 'swap_lock' AND p.status = 'submitted')
                     FROM orders WHERE market = %s AND in_engine
                      AND (status IN ('cancelling', 'cancelled', 'swap_locked') OR requeue
                           OR (status = 'swap_locking' AND held = 0))
                    ORDER BY id""",
                (m,),
            )
        ).fetchall():
            if await self._keep_place(conn, cmds, oid, owner, status, remaining, locking):
                continue
            if self.engine.order(oid) is not None:
                cmds.append(Cancel(oid, owner))
            removed.add(oid)
            await conn.execute(
                """UPDATE orders SET in_engine = false, requeue = false,
                          status = CASE WHEN status <> 'swap_locked' THEN status
                                        WHEN remaining = 0 THEN 'filled' ELSE 'open' END
                    WHERE id = %s""",
                (oid,),
            )
        new = await (
            await conn.execute(
                """SELECT id, owner, side, price, remaining, time_in_force, stp_mode FROM orders
                    WHERE market = %s AND status = 'open' AND NOT in_engine ORDER BY book_seq LIMIT %s""",
                (m, MATCH_BATCH),
            )
        ).fetchall()
        self.more = len(new) == MATCH_BATCH
        for oid, owner, side, price, remaining, tif, stp in new:
            if oid in removed:
                continue
            s = Side.SELL if side == "sell" else Side.BUY
            mode = None if stp == "market" else StpMode(stp)
            cmds.append(NewOrder(oid, owner, s, price, remaining, TimeInForce(tif), mode))
            await conn.execute("UPDATE orders SET in_engine = true WHERE id = %s", (oid,))
        return cmds

    async def _keep_place(
        self,
        conn: psycopg.AsyncConnection,
        cmds: list[Cancel | NewOrder | Amend],
        oid: int,
        owner: str,
        status: str,
        remaining: int,
        locking: int | None,
    ) -> bool:
        """A sell order a hash lock takes part of stays in the book at its place: amended down by
        the lock's amount while the lock is on its way ('held'), or to what remains once it
        landed. False when the engine cannot (the order is gone, the lock takes all of it, or the
        result is not whole lots): the caller takes it out and reopens it as before."""
        live = self.engine.order(oid)
        if live is None or status not in ("swap_locking", "swap_locked"):
            return False
        if status == "swap_locking":
            if not locking:  # a lock prepared before sql/101 carries no amount
                return False
            new = live.remaining - locking
        else:  # 'swap_locked': the lock landed, ``remaining`` is what the order has left
            new = remaining
        if not (0 < new <= live.remaining) or new % self.market.lot:
            return False
        if new < live.remaining:
            cmds.append(Amend(oid, owner, new))
        if status == "swap_locking":
            await conn.execute("UPDATE orders SET held = %s WHERE id = %s", (live.remaining - new, oid))
        else:
            await conn.execute("UPDATE orders SET status = 'open', held = 0 WHERE id = %s", (oid,))
        return True

    async def _record(self, conn: psycopg.AsyncConnection, ev: Event) -> None:
        if isinstance(ev, Trade):
            await conn.execute(
                """INSERT INTO trades (market, market_seq, sell_order, buy_order, seller, buyer,
                                     amount, price, payment, fee)
                   VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s)""",
                (
                    self.market.id,
                    ev.seq,
                    ev.sell_order_id,
                    ev.buy_order_id,
                    ev.seller,
                    ev.buyer,
                    ev.amount,
                    ev.price,
                    ev.payment,
                    ev.fee,
                ),
            )
            await conn.execute(
                """UPDATE orders SET remaining = remaining - %s, updated_at = now(),
                          status = CASE WHEN remaining = %s THEN 'filled' ELSE status END
                    WHERE id IN (%s, %s)""",
                (ev.amount, ev.amount, ev.sell_order_id, ev.buy_order_id),
            )
        elif (isinstance(ev, Cancelled) and ev.reason != CancelReason.USER) or isinstance(ev, Rejected):
            # out of the book, but its escrow is on chain until the owner signs a cancel
            await conn.execute(
                "UPDATE orders SET status = 'removed', reason = %s, in_engine = false WHERE id = %s",
                (str(ev.reason), ev.order_id),
            )

    async def round(self) -> list[Event]:
        """One matching round in one transaction; returns the engine's events."""
        if self._stale:
            async with self.pool.connection() as conn:
                await self._restore(conn)
            self._stale = False
        try:
            # pipeline mode: the round's writes (an order into the engine, a trade row, the two
            # orders' new amounts) go out without waiting for each reply; only the reads wait
            async with self.pool.connection() as conn, conn.transaction(), conn.pipeline():
                await conn.execute("SELECT pg_advisory_xact_lock(hashtext('gridx-match:' || %s))", (self.market.id,))
                events: list[Event] = []
                for cmd in await self._commands(conn):
                    for ev in self.engine.apply(cmd):
                        await self._record(conn, ev)
                        events.append(ev)
                if events:
                    await conn.execute(
                        """INSERT INTO market_state (market, seq) VALUES (%s, %s)
                           ON CONFLICT (market) DO UPDATE SET seq = excluded.seq, updated_at = now()""",
                        (self.market.id, self.engine.seq),
                    )
                    await self._notify(conn, events)
                return events
        except BaseException:
            # the transaction rolled back: the engine in memory is ahead of the database, so it
            # is rebuilt from the database before the next round (not here: with the database
            # gone that would wait for a connection, and a cancelled matcher would not stop)
            self._stale = True
            raise

    async def _notify(self, conn: psycopg.AsyncConnection, events: list[Event]) -> None:
        chunk: list[dict[str, Any]] = []
        size = 0
        for ev in events:
            d = event_dict(ev)
            n = len(json.dumps(d)) + 2
            if chunk and size + n > _NOTIFY_MAX:
                await self._send(conn, chunk)
                chunk, size = [], 0
            chunk.append(d)
            size += n
        if chunk:
            await self._send(conn, chunk)

    async def _send(self, conn: psycopg.AsyncConnection, chunk: list[dict[str, Any]]) -> None:
        # ts: when the matcher committed these events (unix ms), for the feed's latency figure
        payload = json.dumps(
            {"market": self.market.id, "ts": round(time.time() * 1000, 3), "events": chunk}, separators=(",", ":")
        )
        await conn.execute("SELECT pg_notify(%s, %s)", (FEED_CHANNEL, payload))

    async def run(self, stop: asyncio.Event, wake: asyncio.Event, period_s: float = 0.2) -> None:
        """Wait to become the market's single writer, then match until ``stop``."""
        async with await aconnect(self.dsn, autocommit=True, app="gridx-matcher") as lock_conn:
            key = f"gridx-matcher:{self.market.id}"
            while not stop.is_set():
                row = await (await lock_conn.execute("SELECT pg_try_advisory_lock(hashtext(%s))", (key,))).fetchone()
                if row and row[0]:
                    break
                await _wait(stop, 0.5)  # another matcher is the writer; take over when it is gone
            if stop.is_set():
                return
            self.locked.set()
            async with self.pool.connection() as conn:
                await self._restore(conn)
            log.info("matcher_started", market=self.market.id, seq=self.engine.seq)
            while not stop.is_set():
                wake.clear()
                try:
                    t0 = time.perf_counter()
                    trades = sum(isinstance(ev, Trade) for ev in await self.round())
                    if trades:
                        self.traded.set()
                        log.info("match_round", trades=trades, seconds=round(time.perf_counter() - t0, 3))
                except Exception:
                    log.exception("matcher_round_failed")
                    self.more = False
                if self.more:
                    await asyncio.sleep(0)  # let the settler and the API run between rounds
                else:
                    await _wait(wake, period_s, stop)


async def _wait(ev: asyncio.Event, wait_s: float, stop: asyncio.Event | None = None) -> None:
    waits = [asyncio.ensure_future(ev.wait())]
    if stop is not None:
        waits.append(asyncio.ensure_future(stop.wait()))
    _done, pending = await asyncio.wait(waits, timeout=wait_s, return_when=asyncio.FIRST_COMPLETED)
    for t in pending:
        t.cancel()

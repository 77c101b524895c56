"""One confirmed transaction's program events → rows. Idempotent: each (signature, index) is
applied once (``chain_events`` primary key), so the submit path, the settler and the indexer
may all apply the same transaction and the database ends the same."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import psycopg
from psycopg.types.json import Jsonb
from solders.pubkey import Pubkey

from gridx.chain import Event, fetch_decoded, order_pda
from gridx.errors import ChainError

if TYPE_CHECKING:
    from solana.rpc.async_api import AsyncClient

__all__ = ["EXTERNAL_ORDER_IDS", "ExternalOrderRefused", "apply_tx_events", "event_json"]

_USER_TYPES = {0: "prosumer", 1: "consumer"}
_SIDES = {0: "sell", 1: "buy"}  # the trading program's SIDE_SELL / SIDE_BUY
# ids an order placed outside the API is booked under: above the API's own (sql/095), within bigint
EXTERNAL_ORDER_IDS = range(1 << 40, 1 << 63)


class ExternalOrderRefused(ValueError):
    """An order created on chain outside the API that cannot be booked; the message starts
    with the reason's name (kept in chain_events.apply_error, counted). Its escrow stays on
    chain until its owner cancels it there, and reconcile reports that escrow as drift."""


def _plain(v: Any) -> Any:
    if isinstance(v, Pubkey):
        return str(v)
    if isinstance(v, bytes | bytearray):
        return v.hex()
    if isinstance(v, str):
        # jsonb holds neither NUL (stored as U+FFFD) nor lone surrogates (stored as "?")
        return v.encode("utf-8", "replace").decode("utf-8").replace("\x00", "\ufffd")
    if isinstance(v, list | tuple):
        return [_plain(x) for x in v]
    return v


def event_json(ev: Event) -> dict[str, Any]:
    return {k: _plain(v) for k, v in vars(ev.data).items() if not k.startswith("_")}


async def _order_by_pda(conn: psycopg.AsyncConnection, owner: str, pda: str) -> int | None:
    rows = await (
        await conn.execute("SELECT id FROM orders WHERE owner = %s AND status NOT IN ('cancelled', 'failed')", (owner,))
    ).fetchall()
    for (oid,) in rows:
        if str(order_pda(Pubkey.from_string(owner), oid)) == pda:
            return int(oid)
    return None


async def _hash_locked(conn: psycopg.AsyncConnection, d: dict[str, Any]) -> None:
    """Part of a sell order moved into a hash lock (a THB swap's seller lock): lower what
    remains. An order the matcher still holds becomes 'swap_locked' (the matcher takes it out
    and reopens it with the new remaining); otherwise it is back in the book, or filled."""
    oid = await _order_by_pda(conn, d["seller"], d["sell_order"])
    if oid is None:
        return
    await conn.execute(
        """UPDATE orders SET remaining = greatest(remaining - %(amount)s, 0), updated_at = now(),
                  status = CASE WHEN status NOT IN ('open', 'swap_locking', 'swap_locked') THEN status
                                WHEN in_engine THEN 'swap_locked'
                                WHEN remaining <= %(amount)s THEN 'filled' ELSE 'open' END
            WHERE id = %(oid)s""",
        {"amount": d["amount"], "oid": oid},
    )


async def _book_external(conn: psycopg.AsyncConnection, chain: AsyncClient | None, sig: str, d: dict[str, Any]) -> None:
    """An OrderCreated the API did not prepare: book it like an API order (good till
    cancelled, the market's self-trade mode). The event does not name the market; the order
    account does. An order already closed on chain (cancelled before this was indexed) has
    nothing left to book."""
    oid, owner = int(d["order_id"]), d["owner"]
    if not 0 <= oid <= EXTERNAL_ORDER_IDS[-1]:
        raise ExternalOrderRefused(f"order_id_out_of_range: {oid} does not fit the database's order ids")
    row = await (await conn.execute("SELECT owner FROM orders WHERE id = %s", (oid,))).fetchone()
    if row is not None:
        if row[0] != owner:
            raise ExternalOrderRefused(f"order_id_taken: order id {oid} is another order's")
        return  # this owner's order (an API order already past 'prepared'): nothing new
    if oid not in EXTERNAL_ORDER_IDS:
        raise ExternalOrderRefused(f"order_id_in_api_range: {oid} is not in [2^40, 2^63)")
    if chain is None:
        raise ExternalOrderRefused("no_chain: cannot read the order account for its market")
    acct = await fetch_decoded(chain, "trading", Pubkey.from_string(d["order"]))
    if acct is None:
        return
    await conn.execute(
        """INSERT INTO orders (id, market, owner, side, price, amount, remaining, escrow, time_in_force, stp_mode,
                              status, tx_signature, book_seq)
           VALUES (%s, %s, %s, %s, %s, %s, %s, %s, 'gtc', 'market', 'open', %s, nextval('order_book_seq'))""",
        (oid, str(acct.market), owner, _SIDES[d["side"]], d["price"], d["amount"], d["amount"], d["escrow"], sig),
    )


async def _apply(
    conn: psycopg.AsyncConnection, chain: AsyncClient | None, sig: str, slot: int, name: str, d: dict[str, Any]
) -> None:
    if name == "UserRegistered":
        await conn.execute(
            "INSERT INTO users (wallet, user_type) VALUES (%s, %s) ON CONFLICT (wallet) DO NOTHING",
            (d["wallet"], _USER_TYPES.get(d["user_type"], "consumer")),
        )
    elif name == "OrderCreated":
        cur = await conn.execute(
            """UPDATE orders SET status = 'open', book_seq = nextval('order_book_seq'), tx_signature = %s,
                                 updated_at = now()
                WHERE id = %s AND owner = %s AND status = 'prepared'""",
            (sig, d["order_id"], d["owner"]),
        )
        if cur.rowcount == 0:
            await _book_external(conn, chain, sig, d)
    elif name == "OrderCancelled":
        oid = await _order_by_pda(conn, d["owner"], d["order"])
        if oid is not None:
            await conn.execute(
                "UPDATE orders SET status = 'cancelled', remaining = 0, updated_at = now() WHERE id = %s", (oid,)
            )
    elif name == "TokensMinted":
        # a mint the gateway's worker did not record (or not yet): the chain is the truth
        await conn.execute(
            """INSERT INTO token_mints (meter_id, window_start, window_end, amount, surplus_wh, tx_signature, slot)
               SELECT meter_id, to_timestamp(%s), to_timestamp(%s), %s, %s / 1000, %s, %s
                 FROM meters WHERE pubkey = %s AND %s %% 1000 = 0
               ON CONFLICT (meter_id, window_start) DO NOTHING""",
            (
                d["window_start"],
                d["window_end"],
                d["amount"],
                d["amount"],
                sig,
                slot,
                Pubkey.from_string(d["meter"]).__bytes__().hex(),
                d["amount"],
            ),
        )
    elif name == "MeterRegistered":
        from backend.meters import apply_meter_registered  # here: backend.meters imports the submit path

        await apply_meter_registered(conn, sig, d)
    elif name == "HashLocked":
        await _hash_locked(conn, d)
    elif name == "TradeExecuted":
        await conn.execute(
            """UPDATE trades SET status = 'confirmed', reason = NULL, confirmed_at = coalesce(confirmed_at, now())
                WHERE tx_signature = %s AND status <> 'confirmed'""",
            (sig,),
        )


async def apply_tx_events(
    conn: psycopg.AsyncConnection, sig: str, slot: int, events: list[Event], chain: AsyncClient | None = None
) -> int:
    """Apply what is new of one transaction's events (in the caller's transaction); returns
    how many were new. ``chain``: to book orders created outside the API (the indexer's)."""
    from backend._metrics import INDEXED

    new = 0
    for idx, ev in enumerate(events):
        data = event_json(ev)
        cur = await conn.execute(
            """INSERT INTO chain_events (signature, idx, slot, program, name, data)
               VALUES (%s, %s, %s, %s, %s, %s) ON CONFLICT DO NOTHING""",
            (sig, idx, slot, ev.program, ev.name, Jsonb(data)),
        )
        if cur.rowcount == 1:
            if await _apply_isolated(conn, chain, sig, idx, slot, ev.name, data):
                INDEXED.labels(ev.name).inc()
                new += 1
    return new


async def _apply_isolated(
    conn: psycopg.AsyncConnection, chain: AsyncClient | None, sig: str, idx: int, slot: int, name: str, data: Any
) -> bool:
    """Apply one event in a savepoint. An event that cannot be applied (fields a program upgrade
    changed, a bug) is kept with its error and skipped, so it never stalls the ones after it;
    a lost connection to the database or the chain still propagates (the transaction and the
    cursor are retried whole)."""
    from backend._metrics import INDEX_REJECTED

    try:
        async with conn.transaction():
            await _apply(conn, chain, sig, slot, name, data)
        return True
    except (psycopg.OperationalError, ChainError):
        raise  # an outage, not a verdict on the event: the whole transaction and cursor retry
    except Exception as exc:
        INDEX_REJECTED.labels(name).inc()
        error = f"{type(exc).__name__}: {exc}"[:2000].replace("\x00", "")
        await conn.execute(
            "UPDATE chain_events SET apply_error = %s WHERE signature = %s AND idx = %s", (error, sig, idx)
        )
        return False

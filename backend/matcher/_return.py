"""What a failed settlement gives back. A ``match_order`` that failed moved nothing on chain,
so each of its two orders still has there what it had before the trade: its database
remainder is set to the chain's (less the fills still settling), and an order with
something left goes back into the book. Which side caused the failure does not need
guessing: an order whose account is gone (cancelled on chain) ends cancelled; one whose
trades failed ``MAX_FAILURES`` times leaves the book ('removed', its escrow refundable by
a signed cancel); the counterparty gets its amount back."""

from __future__ import annotations

from typing import TYPE_CHECKING

from solders.pubkey import Pubkey

from gridx.chain import fetch_decoded, order_pda

if TYPE_CHECKING:
    import psycopg
    from solana.rpc.async_api import AsyncClient

__all__ = ["MAX_FAILURES", "chain_remaining", "return_failed"]

MAX_FAILURES = 3
_BOOKED = ("open", "filled")  # states in which a failed fill goes back into the book


async def chain_remaining(chain: AsyncClient, orders: set[tuple[int, str]]) -> dict[int, int | None]:
    """Each order's remaining amount on chain; None where its account is gone."""
    out: dict[int, int | None] = {}
    for oid, owner in sorted(orders):
        acct = await fetch_decoded(chain, "trading", order_pda(Pubkey.from_string(owner), oid))
        out[oid] = None if acct is None else int(acct.remaining)
    return out


async def return_failed(conn: psycopg.AsyncConnection, market: str, on_chain: dict[int, int | None]) -> None:
    """In the caller's transaction, after the failed trades are marked failed: under the
    market's matching lock (the matcher's engine and these rows move together)."""
    await conn.execute("SELECT pg_advisory_xact_lock(hashtext('gridx-match:' || %s))", (market,))
    for oid, remaining in on_chain.items():
        row = await (await conn.execute("SELECT status, settle_failures FROM orders WHERE id = %s", (oid,))).fetchone()
        if row is None:
            continue
        status, failures = str(row[0]), int(row[1]) + 1
        if remaining is None:  # closed on chain: nothing left to give back
            await conn.execute(
                """UPDATE orders SET status = 'cancelled', remaining = 0, requeue = in_engine,
                          settle_failures = %s, updated_at = now() WHERE id = %s""",
                (failures, oid),
            )
            continue
        unsettled = await (
            await conn.execute(
                """SELECT coalesce(sum(amount), 0)::bigint FROM trades
                    WHERE (sell_order = %s OR buy_order = %s) AND status IN ('pending', 'sent')""",
                (oid, oid),
            )
        ).fetchone()
        left = max(0, remaining - int(unsettled[0] if unsettled else 0))
        if status not in _BOOKED:  # removed / cancelling / cancelled: the amount, not the book
            await conn.execute(
                "UPDATE orders SET remaining = %s, settle_failures = %s, updated_at = now() WHERE id = %s",
                (left, failures, oid),
            )
        elif left > 0 and failures < MAX_FAILURES:
            await conn.execute(
                """UPDATE orders SET status = 'open', remaining = %s, requeue = in_engine, settle_failures = %s,
                          book_seq = nextval('order_book_seq'),
                          updated_at = now() WHERE id = %s""",
                (left, failures, oid),
            )
        else:
            await conn.execute(
                """UPDATE orders SET status = CASE WHEN %s > 0 THEN 'removed' ELSE status END,
                          reason = CASE WHEN %s > 0 THEN 'settlement_failed' ELSE reason END,
                          remaining = %s, requeue = in_engine, settle_failures = %s, updated_at = now()
                    WHERE id = %s""",
                (left, left, left, failures, oid),
            )

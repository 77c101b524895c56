"""The non-custodial path for every state change a user makes: the API builds the message and
stores its exact bytes, the wallet signs, the API checks it is exactly that message with valid
signatures, submits, waits for confirmation and applies the transaction's events."""

from __future__ import annotations

import base64
from collections.abc import Sequence

from pydantic import BaseModel
from solders.instruction import Instruction
from solders.pubkey import Pubkey

from gridx.chain import (
    blockhash_valid,
    check_signed_tx,
    confirm_statuses,
    send_tx,
    transaction_events,
    unsigned_tx,
)
from gridx.errors import ChainError

from ._errors import ApiError, Problem
from ._metrics import TX_SUBMITTED
from ._state import Services
from .indexer import apply_tx_events
from .matcher import WAKE_CHANNEL

__all__ = [
    "PreparedTx",
    "SubmitResult",
    "begin_cancel",
    "begin_swap_lock",
    "build_unsigned",
    "prepare_tx",
    "prepared",
    "submit_tx",
]

_CHECKS = {"TxMalformed": Problem.TX_MALFORMED, "TxAltered": Problem.TX_ALTERED}


class PreparedTx(BaseModel):
    tx_id: int
    transaction: str  # base64 wire transaction with empty signature slots
    last_valid_block_height: int


class SubmitResult(BaseModel):
    tx_id: int
    kind: str
    signature: str
    status: str  # confirmed | failed
    slot: int | None = None
    reason: str | None = None
    order_id: int | None = None


async def build_unsigned(services: Services, wallet: str, ixs: Sequence[Instruction]) -> tuple[bytes, bytes, int]:
    """(wire transaction with empty signature slots, its message, last valid block height)."""
    blockhash, height = await services.blockhash()
    wire, message = unsigned_tx(ixs, Pubkey.from_string(wallet), blockhash)
    return wire, message, height


def prepared(tx_id: int, wire: bytes, height: int) -> PreparedTx:
    return PreparedTx(tx_id=tx_id, transaction=base64.b64encode(wire).decode(), last_valid_block_height=height)


async def prepare_tx(
    services: Services, conn: object, wallet: str, kind: str, ixs: Sequence[Instruction], order_id: int | None = None
) -> PreparedTx:
    import psycopg

    assert isinstance(conn, psycopg.AsyncConnection)
    wire, message, height = await build_unsigned(services, wallet, ixs)
    row = await (
        await conn.execute(
            """INSERT INTO prepared_txs (wallet, kind, order_id, message, last_valid_height)
               VALUES (%s, %s, %s, %s, %s) RETURNING id""",
            (wallet, kind, order_id, message, height),
        )
    ).fetchone()
    assert row is not None
    return prepared(row[0], wire, height)


async def _claim(services: Services, wallet: str, tx_id: int, signed_b64: str) -> tuple[str, bytes, str, int | None]:
    """Check and mark the prepared transaction submitted (once); returns (kind, wire, signature, order_id)."""
    async with services.pool.connection() as conn, conn.transaction():
        row = await (
            await conn.execute(
                """SELECT kind, message, status, order_id, tx_signature, last_valid_height FROM prepared_txs
                    WHERE id = %s AND wallet = %s FOR UPDATE""",
                (tx_id, wallet),
            )
        ).fetchone()
        if row is None:
            raise ApiError(Problem.NOT_FOUND, f"no prepared transaction {tx_id} for this wallet")
        kind, message, status, order_id, row_sig, last_valid = row
        try:
            tx = check_signed_tx(signed_b64, bytes(message))
        except ChainError as exc:
            raise ApiError(_CHECKS.get(exc.code or "", Problem.TX_SIGNATURE_INVALID), str(exc)) from exc
        sig = str(tx.signatures[0])
        # the same signed bytes again after an outage are a retry, not a second submission
        if status != "prepared" and not (status == "submitted" and row_sig == sig):
            raise ApiError(Problem.TX_ALREADY_SUBMITTED, f"transaction {tx_id} is {status}")
        if not await blockhash_valid(services.chain, last_valid):
            raise ApiError(Problem.TX_EXPIRED, "its blockhash expired: prepare it again")
        if kind == "cancel" and order_id is not None:
            await begin_cancel(conn, order_id)
        elif kind == "swap_lock" and order_id is not None:
            await begin_swap_lock(conn, order_id)
        await conn.execute(
            "UPDATE prepared_txs SET status = 'submitted', tx_signature = %s, updated_at = now() WHERE id = %s",
            (sig, tx_id),
        )
    return kind, bytes(tx), sig, order_id


async def _hold_order(conn: object, order_id: int) -> str:
    """Under the market's matching lock (the matcher holds it while it matches): refuse if a
    trade on the order is not settled yet; returns the order's status."""
    import psycopg

    assert isinstance(conn, psycopg.AsyncConnection)
    row = await (await conn.execute("SELECT market FROM orders WHERE id = %s", (order_id,))).fetchone()
    if row is None:
        raise ApiError(Problem.NOT_FOUND, f"no order {order_id}")
    await conn.execute("SELECT pg_advisory_xact_lock(hashtext('gridx-match:' || %s))", (row[0],))
    busy = await (
        await conn.execute(
            """SELECT count(*) FROM trades WHERE (sell_order = %s OR buy_order = %s)
                 AND status IN ('pending', 'sent')""",
            (order_id, order_id),
        )
    ).fetchone()
    if busy is not None and busy[0]:
        raise ApiError(Problem.SETTLEMENT_PENDING, "a trade on this order is settling; try again after it confirms")
    status = await (await conn.execute("SELECT status FROM orders WHERE id = %s", (order_id,))).fetchone()
    return str(status[0]) if status else ""


async def begin_swap_lock(conn: object, order_id: int) -> None:
    """Take a sell order out of matching before the seller's hash lock can land, so no trade
    takes the GRXE the lock moves: 'swap_locking' until the lock's HashLocked event (or its
    failure) puts it back. The lock is refused on chain if it exceeds what remains."""
    import psycopg

    assert isinstance(conn, psycopg.AsyncConnection)
    status = await _hold_order(conn, order_id)
    if status != "open":
        raise ApiError(Problem.ORDER_NOT_OPEN, f"order {order_id} is {status}")
    await conn.execute("UPDATE orders SET status = 'swap_locking', updated_at = now() WHERE id = %s", (order_id,))


async def begin_cancel(conn: object, order_id: int) -> None:
    """Take the order out of matching before its cancel can land: refuse if a trade on it is
    not settled yet, else mark it 'cancelling' (the matcher removes it from the engine first
    thing next round)."""
    import psycopg

    assert isinstance(conn, psycopg.AsyncConnection)
    status = await _hold_order(conn, order_id)
    if status not in ("open", "removed", "cancelling"):
        raise ApiError(Problem.ORDER_NOT_OPEN, f"order {order_id} is {status}")
    await conn.execute("UPDATE orders SET status = 'cancelling', updated_at = now() WHERE id = %s", (order_id,))


async def _fail(services: Services, tx_id: int, kind: str, order_id: int | None, reason: str) -> None:
    async with services.pool.connection() as conn, conn.transaction():
        await conn.execute(
            "UPDATE prepared_txs SET status = 'failed', reason = %s, updated_at = now() WHERE id = %s", (reason, tx_id)
        )
        if kind == "order" and order_id is not None:
            await conn.execute(
                "UPDATE orders SET status = 'failed', reason = %s WHERE id = %s AND status = 'prepared'",
                (reason, order_id),
            )
        elif kind == "swap_lock" and order_id is not None:
            # the lock did not land: the order goes back to the book as it was
            await conn.execute(
                "UPDATE orders SET status = 'open', updated_at = now() WHERE id = %s AND status = 'swap_locking'",
                (order_id,),
            )


async def submit_tx(services: Services, wallet: str, tx_id: int, signed_b64: str) -> SubmitResult:
    from solders.transaction import Transaction

    kind, wire, sig, order_id = await _claim(services, wallet, tx_id, signed_b64)
    TX_SUBMITTED.labels(kind).inc()
    tx = Transaction.from_bytes(wire)
    try:
        await send_tx(services.chain, tx)
    except ChainError as exc:
        if exc.code == "Unreachable":
            raise  # stays 'submitted': the same signed bytes may be submitted again
        await _fail(services, tx_id, kind, order_id, exc.code or "refused")
        raise ApiError(Problem.TX_REFUSED, f"the chain refused the transaction: {exc}", chain_code=exc.code) from exc
    err, slot = (await confirm_statuses(services.chain, [tx.signatures[0]]))[tx.signatures[0]]
    if err is not None:
        await _fail(services, tx_id, kind, order_id, str(err))
        return SubmitResult(tx_id=tx_id, kind=kind, signature=sig, status="failed", reason=str(err), order_id=order_id)
    events = await transaction_events(services.chain, tx.signatures[0])
    async with services.pool.connection() as conn, conn.transaction():
        await apply_tx_events(conn, sig, slot, events)
        await conn.execute(
            "UPDATE prepared_txs SET status = 'confirmed', slot = %s, updated_at = now() WHERE id = %s", (slot, tx_id)
        )
        if not services.settings.matcher:  # the matcher runs in another process (`gridx api engine`)
            await conn.execute("SELECT pg_notify(%s, %s)", (WAKE_CHANNEL, services.market.id))
    services.matcher_wake.set()
    return SubmitResult(tx_id=tx_id, kind=kind, signature=sig, status="confirmed", slot=slot, order_id=order_id)

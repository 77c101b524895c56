"""The non-custodial path for every state change a user makes: the API builds the message and
stores its exact bytes, the wallet signs, the API checks it is exactly that message with valid
signatures, submits, waits for confirmation and applies the transaction's events."""

from __future__ import annotations

import asyncio
import base64
from collections.abc import Sequence

import structlog
from pydantic import BaseModel
from solders.instruction import Instruction
from solders.pubkey import Pubkey
from solders.signature import Signature

from gridx.chain import (
    blockhash_valid,
    check_signed_tx,
    confirm_statuses,
    cosign_prepared_tx,
    err_to_json,
    rpc_call,
    send_tx,
    transaction_events,
    unsigned_tx,
)
from gridx.errors import ChainError

from ._errors import ApiError, Problem
from ._metrics import TX_EXPIRED, TX_SUBMITTED
from ._state import Services
from .indexer import apply_tx_events
from .matcher import WAKE_CHANNEL

__all__ = [
    "PreparedTx",
    "SubmitResult",
    "begin_cancel",
    "begin_swap_lock",
    "build_unsigned",
    "expire_stale_txs",
    "prepare_tx",
    "prepared",
    "run_tx_expiry",
    "submit_tx",
]

log = structlog.get_logger("backend.txflow")
# the statuses an order is in while a cancel or a seller's hash lock is on its way; if that
# transaction never lands, the order goes back to the status it had (sql/100)
_IN_FLIGHT = ("cancelling", "swap_locking")

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
        if kind == "enrol":
            signed_b64 = _approve_enrolment(services, bytes(message), signed_b64)
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
        before = None
        if kind == "cancel" and order_id is not None:
            before = await begin_cancel(conn, order_id)
        elif kind == "swap_lock" and order_id is not None:
            before = await begin_swap_lock(conn, order_id)
        await conn.execute(
            """UPDATE prepared_txs SET status = 'submitted', tx_signature = %s, updated_at = now(),
                      order_status_before = coalesce(order_status_before, %s) WHERE id = %s""",
            (sig, before, tx_id),
        )
    return kind, bytes(tx), sig, order_id


def _approve_enrolment(services: Services, message: bytes, signed_b64: str) -> str:
    """The registry authority co-signs an enrolment (the program requires its signature) only
    on the exact message the API built after its checks; the wallet's own signature is then
    verified with every other one."""
    if services.registry_authority is None:
        raise ApiError(Problem.ENROLMENT_UNAVAILABLE, "this deployment does not approve enrolments")
    return cosign_prepared_tx(signed_b64, message, services.registry_authority)


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


async def begin_swap_lock(conn: object, order_id: int) -> str:
    """Take a sell order out of matching before the seller's hash lock can land, so no trade
    takes the GRXE the lock moves: 'swap_locking' until the lock's HashLocked event (or its
    failure, or its expiry: ``expire_stale_txs``) puts it back. The lock is refused on chain if
    it exceeds what remains. Returns the order's status before."""
    import psycopg

    assert isinstance(conn, psycopg.AsyncConnection)
    status = await _hold_order(conn, order_id)
    if status != "open":
        raise ApiError(Problem.ORDER_NOT_OPEN, f"order {order_id} is {status}")
    await conn.execute("UPDATE orders SET status = 'swap_locking', updated_at = now() WHERE id = %s", (order_id,))
    return status


async def begin_cancel(conn: object, order_id: int) -> str:
    """Take the order out of matching before its cancel can land: refuse if a trade on it is
    not settled yet, else mark it 'cancelling' (the matcher removes it from the engine first
    thing next round). Returns the order's status before."""
    import psycopg

    assert isinstance(conn, psycopg.AsyncConnection)
    status = await _hold_order(conn, order_id)
    if status not in ("open", "removed", "cancelling"):
        raise ApiError(Problem.ORDER_NOT_OPEN, f"order {order_id} is {status}")
    await conn.execute("UPDATE orders SET status = 'cancelling', updated_at = now() WHERE id = %s", (order_id,))
    return status


async def _fail(services: Services, tx_id: int, kind: str, order_id: int | None, reason: str) -> bool:
    """Mark a submitted transaction failed (once: False if it was not 'submitted') and undo what
    submitting it did to its order."""
    async with services.pool.connection() as conn, conn.transaction():
        row = await (
            await conn.execute(
                """UPDATE prepared_txs SET status = 'failed', reason = %s, updated_at = now()
                    WHERE id = %s AND status = 'submitted' RETURNING order_status_before""",
                (reason, tx_id),
            )
        ).fetchone()
        if row is None:
            return False
        if kind == "order" and order_id is not None:
            await conn.execute(
                "UPDATE orders SET status = 'failed', reason = %s WHERE id = %s AND status = 'prepared'",
                (reason, order_id),
            )
        elif kind in ("cancel", "swap_lock") and order_id is not None:
            await _restore_order(conn, tx_id, order_id, row[0])
        if kind == "swap_lock":
            # the swap's record says why its seller lock did not land; the seller may prepare it again
            await conn.execute(
                """INSERT INTO payment_swap_steps (swap_id, step, detail)
                   SELECT swap_id, 'seller_lock_failed', jsonb_build_object('tx_id', %s::bigint, 'reason', %s::text)
                     FROM payment_swap_steps WHERE step = 'seller_lock_prepared' AND detail->>'tx_id' = %s::text""",
                (tx_id, reason, str(tx_id)),
            )
    return True


async def _restore_order(conn: object, tx_id: int, order_id: int, before: str | None) -> None:
    """The cancel or lock did not land: the order goes back to the status it had (the book, or
    'removed'), unless another cancel or lock of it is still on its way."""
    import psycopg

    assert isinstance(conn, psycopg.AsyncConnection)
    status = "open" if before is None or before in _IN_FLIGHT else before
    # an order the matcher amended down for the lock ('held') is 'swap_locked': the matcher takes
    # it out and reopens it with all it has (the engine amends down only)
    await conn.execute(
        """UPDATE orders SET status = CASE WHEN held > 0 AND in_engine THEN 'swap_locked' ELSE %s END,
                  held = 0, updated_at = now()
            WHERE id = %s AND status IN ('cancelling', 'swap_locking')
              AND NOT EXISTS (SELECT 1 FROM prepared_txs WHERE order_id = %s AND id <> %s AND status = 'submitted'
                                 AND kind IN ('cancel', 'swap_lock'))""",
        (status, order_id, order_id, tx_id),
    )


async def expire_stale_txs(services: Services, limit: int = 100) -> int:
    """Settle submitted transactions whose blockhash has expired (block height past their last
    valid height): one whose signature the chain does not know never will land, so it fails
    with reason 'expired' and its order goes back (``_fail``); one that landed after all is
    applied as ``submit_tx`` would have. Returns how many expired."""
    height = int((await rpc_call(services.chain.get_block_height())).value)
    async with services.pool.connection() as conn:
        rows = await (
            await conn.execute(
                """SELECT id, kind, order_id, tx_signature FROM prepared_txs
                    WHERE status = 'submitted' AND last_valid_height < %s ORDER BY id LIMIT %s""",
                (height, limit),
            )
        ).fetchall()
    if not rows:
        return 0
    sigs = [Signature.from_string(r[3]) for r in rows]
    statuses = (await rpc_call(services.chain.get_signature_statuses(sigs, search_transaction_history=True))).value
    expired = 0
    for (tx_id, kind, order_id, sig), st in zip(rows, statuses, strict=True):
        if st is None:
            if await _fail(services, tx_id, kind, order_id, "expired"):
                TX_EXPIRED.labels(kind).inc()
                expired += 1
                log.info("tx_expired", tx_id=tx_id, kind=kind, order_id=order_id)
        elif st.err is not None:
            await _fail(services, tx_id, kind, order_id, str(err_to_json(st.err)))
        else:
            events = await transaction_events(services.chain, Signature.from_string(sig))
            async with services.pool.connection() as conn, conn.transaction():
                await apply_tx_events(conn, sig, st.slot, events)
                await conn.execute(
                    """UPDATE prepared_txs SET status = 'confirmed', slot = %s, updated_at = now()
                        WHERE id = %s AND status = 'submitted'""",
                    (st.slot, tx_id),
                )
    services.matcher_wake.set()  # an order may be back in the book
    return expired


async def run_tx_expiry(services: Services, stop: asyncio.Event, period_s: float = 2.0) -> None:
    """``expire_stale_txs`` every ``period_s`` until ``stop`` (a blockhash lasts about a minute,
    so an order stuck behind a lost transaction is back within a minute and a period)."""
    while not stop.is_set():
        try:
            await expire_stale_txs(services)
        except Exception as exc:  # the chain or the database is away: try again next period
            log.warning("tx_expiry_failed", error=str(exc))
        try:
            await asyncio.wait_for(stop.wait(), period_s)
        except TimeoutError:
            pass


async def submit_tx(services: Services, wallet: str, tx_id: int, signed_b64: str) -> SubmitResult:
    from solders.transaction import Transaction

    kind, wire, sig, order_id = await _claim(services, wallet, tx_id, signed_b64)
    if services.settings.failpoint == "submit_before_send":  # tests: the API dies with it marked submitted
        import os
        import signal

        os.kill(os.getpid(), signal.SIGKILL)
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

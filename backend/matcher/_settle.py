"""The settler: trades → ``match_order`` transactions signed by the market authority, with the
mint worker's discipline. A claimed row is leased; the signed transaction (so its signature)
is stored before it is sent; a row that comes back (lease expired after a crash or an outage)
is first looked up on chain by that signature, resent as the same bytes while its blockhash
is valid, and only rebuilt once it provably cannot land. So nothing settles twice and
nothing is lost."""

from __future__ import annotations

import asyncio
import os
import signal
from dataclasses import dataclass
from typing import TYPE_CHECKING

import structlog
from solders.keypair import Keypair
from solders.pubkey import Pubkey
from solders.signature import Signature
from solders.transaction import Transaction

from backend._metrics import TRADES
from backend._state import MarketInfo
from backend.indexer import apply_tx_events
from gridx.chain import (
    blockhash_valid,
    blockhash_with_height,
    build_match_order_ix,
    build_tx,
    confirm_statuses,
    err_to_json,
    rpc_call,
    send_tx,
    transaction_events,
)
from gridx.errors import ChainError

if TYPE_CHECKING:
    from psycopg_pool import AsyncConnectionPool
    from solana.rpc.async_api import AsyncClient

__all__ = ["Settler"]

log = structlog.get_logger("backend.settler")
_BATCH = 128


@dataclass(frozen=True)
class _Row:
    id: int
    sell_order: int
    buy_order: int
    seller: str
    buyer: str
    amount: int
    signed_tx: bytes | None
    last_valid_height: int | None


class Settler:
    def __init__(
        self,
        pool: AsyncConnectionPool,
        chain: AsyncClient,
        market: MarketInfo,
        authority: Keypair,
        lease_s: float = 30.0,
        failpoint: str | None = None,
    ) -> None:
        self.pool, self.chain, self.market, self.authority, self.lease_s = pool, chain, market, authority, lease_s
        self.failpoint = failpoint

    async def _claim(self) -> list[_Row]:
        async with self.pool.connection() as conn:
            rows = await (
                await conn.execute(
                    """UPDATE trades SET status = 'sent', attempts = attempts + 1,
                              lease_until = now() + make_interval(secs => %s)
                        WHERE id IN (SELECT id FROM trades
                                      WHERE market = %s
                                        AND (status = 'pending' OR (status = 'sent' AND lease_until < now()))
                                      ORDER BY id LIMIT %s FOR UPDATE SKIP LOCKED)
                    RETURNING id, sell_order, buy_order, seller, buyer, amount, signed_tx, last_valid_height""",
                    (self.lease_s, self.market.id, _BATCH),
                )
            ).fetchall()
        return sorted((_Row(*r) for r in rows), key=lambda r: r.id)

    async def _build(self, row: _Row) -> Transaction:
        blockhash, height = await blockhash_with_height(self.chain)
        ix = build_match_order_ix(
            self.authority.pubkey(),
            self.market.keys,
            Pubkey.from_string(row.seller),
            row.sell_order,
            Pubkey.from_string(row.buyer),
            row.buy_order,
            row.amount,
        )
        tx = build_tx([ix], [self.authority], blockhash)
        async with self.pool.connection() as conn:  # stored before it is sent: a crash after the send is found again
            await conn.execute(
                "UPDATE trades SET signed_tx = %s, tx_signature = %s, last_valid_height = %s WHERE id = %s",
                (bytes(tx), str(tx.signatures[0]), height, row.id),
            )
        return tx

    async def _record(self, row_id: int, sig: Signature, err: object, slot: int) -> None:
        async with self.pool.connection() as conn, conn.transaction():
            if err is None:
                events = await transaction_events(self.chain, sig)
                await conn.execute(
                    """UPDATE trades SET status = 'confirmed', slot = %s, reason = NULL, lease_until = NULL,
                              confirmed_at = coalesce(confirmed_at, now()) WHERE id = %s""",
                    (slot, row_id),
                )
                await apply_tx_events(conn, str(sig), slot, events)
            else:
                await conn.execute(
                    "UPDATE trades SET status = 'failed', reason = %s, slot = %s, lease_until = NULL WHERE id = %s",
                    (str(err), slot, row_id),
                )
        TRADES.labels("confirmed" if err is None else "failed").inc()

    async def _prior(self, rows: list[_Row]) -> tuple[dict[int, Transaction], set[int]]:
        """Rows sent before (a crash or outage interrupted them): settle from the chain what
        landed; keep for resending what may still land; rebuild the rest."""
        seen = [(r, Transaction.from_bytes(r.signed_tx)) for r in rows if r.signed_tx is not None]
        if not seen:
            return {}, set()
        sigs = [tx.signatures[0] for _, tx in seen]
        statuses = (await rpc_call(self.chain.get_signature_statuses(sigs))).value
        again: dict[int, Transaction] = {}
        done: set[int] = set()
        for (row, tx), st in zip(seen, statuses, strict=True):
            if st is not None:
                await self._record(row.id, tx.signatures[0], err_to_json(st.err), st.slot)
                done.add(row.id)
            elif await blockhash_valid(self.chain, row.last_valid_height or 0):
                again[row.id] = tx  # the same bytes: if the first send landed after all, the chain dedups it
        return again, done

    async def round(self) -> int:
        """Settle what is due; returns how many trades reached an outcome."""
        rows = await self._claim()
        if not rows:
            return 0
        again, done = await self._prior(rows)
        sent: dict[Signature, int] = {}
        for row in rows:
            if row.id in done:
                continue
            tx = again.get(row.id) or await self._build(row)
            try:
                await send_tx(self.chain, tx)
            except ChainError as exc:
                if exc.code == "Unreachable":
                    raise  # the lease expires and the row comes back, checked on chain first
                # a resend refused because the first send landed meanwhile is not a failure
                st = (await rpc_call(self.chain.get_signature_statuses([tx.signatures[0]]))).value[0]
                if st is not None:
                    await self._record(row.id, tx.signatures[0], err_to_json(st.err), st.slot)
                else:
                    await self._record(row.id, tx.signatures[0], exc.code or str(exc), 0)
                continue
            sent[tx.signatures[0]] = row.id
        if sent:
            outcomes = await confirm_statuses(self.chain, list(sent))
            if self.failpoint == "settle_after_send":
                os.kill(os.getpid(), signal.SIGKILL)
            for sig, (err, slot) in outcomes.items():
                await self._record(sent[sig], sig, err, slot)
        return len(rows)

    async def run(self, stop: asyncio.Event, wake: asyncio.Event, period_s: float = 0.2) -> None:
        while not stop.is_set():
            wake.clear()
            try:
                n = await self.round()
            except ChainError as exc:
                log.warning("settle_chain_unavailable", error=str(exc))
                n = 0
            except Exception:
                log.exception("settle_round_failed")
                n = 0
            if n == 0:
                from backend.matcher._service import _wait

                await _wait(wake, period_s, stop)

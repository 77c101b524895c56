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
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

import structlog
from solders.keypair import Keypair
from solders.pubkey import Pubkey
from solders.signature import Signature
from solders.transaction import Transaction

from backend._metrics import TRADES
from backend._state import MarketInfo
from gridx.chain import (
    blockhash_valid,
    blockhash_with_height,
    build_match_order_ix,
    build_tx,
    confirm_statuses,
    err_to_json,
    rpc_call,
    send_tx,
    send_txs,
)
from gridx.errors import ChainError

from ._release import release_removed
from ._return import chain_remaining, return_failed

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
        rpc_url: str | None = None,  # given: sends go out as one JSON-RPC batch per round
    ) -> None:
        self.pool, self.chain, self.market, self.authority, self.lease_s = pool, chain, market, authority, lease_s
        self.failpoint, self.rpc_url = failpoint, rpc_url

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

    async def _build(self, rows: list[_Row]) -> dict[int, Transaction]:
        """Signed match_order transactions, stored before any is sent: a crash after a send
        finds the signature again."""
        if not rows:
            return {}
        blockhash, height = await blockhash_with_height(self.chain)
        out: dict[int, Transaction] = {}
        for row in rows:
            ix = build_match_order_ix(
                self.authority.pubkey(),
                self.market.keys,
                Pubkey.from_string(row.seller),
                row.sell_order,
                Pubkey.from_string(row.buyer),
                row.buy_order,
                row.amount,
            )
            out[row.id] = build_tx([ix], [self.authority], blockhash)
        async with self.pool.connection() as conn, conn.cursor() as cur:
            await cur.executemany(
                "UPDATE trades SET signed_tx = %s, tx_signature = %s, last_valid_height = %s WHERE id = %s",
                [(bytes(tx), str(tx.signatures[0]), height, rid) for rid, tx in out.items()],
            )
        return out

    async def _record(self, row_id: int, sig: Signature, err: object, slot: int) -> None:
        await self._record_many([(row_id, sig, err, slot)])

    async def _record_many(self, outcomes: list[tuple[int, Signature, object, int]]) -> None:
        """Outcomes in one transaction. The TradeExecuted events themselves reach chain_events
        through the indexer (the settler does not fetch every transaction back)."""
        ok = [(slot, rid) for rid, _sig, err, slot in outcomes if err is None]
        bad = [(str(err), slot, rid) for rid, _sig, err, slot in outcomes if err is not None]
        on_chain = await self._failed_orders([rid for _e, _s, rid in bad]) if bad else {}
        async with self.pool.connection() as conn, conn.transaction(), conn.cursor() as cur:
            if ok:
                await cur.executemany(
                    """UPDATE trades SET status = 'confirmed', slot = %s, reason = NULL, lease_until = NULL,
                              confirmed_at = coalesce(confirmed_at, now()) WHERE id = %s""",
                    ok,
                )
            if bad:
                await cur.executemany(
                    "UPDATE trades SET status = 'failed', reason = %s, slot = %s, lease_until = NULL WHERE id = %s", bad
                )
                await return_failed(conn, self.market.id, on_chain)
        TRADES.labels("confirmed").inc(len(ok))
        TRADES.labels("failed").inc(len(bad))

    async def _failed_orders(self, trade_ids: list[int]) -> dict[int, int | None]:
        """The chain's remaining amount of both orders of each failed trade."""
        async with self.pool.connection() as conn:
            rows = await (
                await conn.execute(
                    "SELECT sell_order, seller, buy_order, buyer FROM trades WHERE id = ANY(%s)", (trade_ids,)
                )
            ).fetchall()
        orders = {(int(r[0]), str(r[1])) for r in rows} | {(int(r[2]), str(r[3])) for r in rows}
        return await chain_remaining(self.chain, orders)

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
        txs = {**again, **await self._build([r for r in rows if r.id not in done and r.id not in again])}
        results = await self._send_all(txs)
        sent = {tx.signatures[0]: rid for (rid, tx), ok in zip(txs.items(), results, strict=True) if ok}
        if sent:
            outcomes = await confirm_statuses(self.chain, list(sent))
            if self.failpoint == "settle_after_send":
                os.kill(os.getpid(), signal.SIGKILL)
            await self._record_many([(sent[sig], sig, err, slot) for sig, (err, slot) in outcomes.items()])
        return len(rows)

    async def _send_all(self, txs: dict[int, Transaction]) -> list[bool]:
        """All in one JSON-RPC batch request (one HTTP round trip instead of one per trade);
        True where sent. A refusal is recorded (unless the first send landed meanwhile)."""
        if self.rpc_url is None:
            return list(await asyncio.gather(*(self._send(rid, tx) for rid, tx in txs.items())))
        results = await send_txs(self.rpc_url, list(txs.values()))
        for r in results:
            if isinstance(r, ChainError) and r.code == "Unreachable":
                raise r  # the lease expires and the rows come back, checked on chain first
        out = []
        for (rid, tx), r in zip(txs.items(), results, strict=True):
            if isinstance(r, ChainError):
                await self._refused(rid, tx, r)
            out.append(not isinstance(r, ChainError))
        return out

    async def _send(self, row_id: int, tx: Transaction) -> bool:
        try:
            await send_tx(self.chain, tx)
            return True
        except ChainError as exc:
            if exc.code == "Unreachable":
                raise
            await self._refused(row_id, tx, exc)
            return False

    async def _refused(self, row_id: int, tx: Transaction, exc: ChainError) -> None:
        st = (await rpc_call(self.chain.get_signature_statuses([tx.signatures[0]]))).value[0]
        if st is not None:
            await self._record(row_id, tx.signatures[0], err_to_json(st.err), st.slot)
        else:
            await self._record(row_id, tx.signatures[0], exc.code or str(exc), 0)

    async def run(self, stop: asyncio.Event, wake: asyncio.Event, period_s: float = 0.2) -> None:
        while not stop.is_set():
            wake.clear()
            try:
                t0 = time.perf_counter()
                n = await self.round()
                if self.rpc_url is not None:  # then the escrow of orders the engine removed
                    n += await release_removed(self.pool, self.chain, self.rpc_url, self.market, self.authority)
                if n:
                    log.info("settle_round", trades=n, seconds=round(time.perf_counter() - t0, 3))
            except ChainError as exc:
                log.warning("settle_chain_unavailable", error=str(exc))
                n = 0
            except Exception:
                log.exception("settle_round_failed")
                n = 0
            if n == 0:
                from backend.matcher._service import _wait

                await _wait(wake, period_s, stop)

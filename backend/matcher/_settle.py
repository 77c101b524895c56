"""The settler: trades → ``match_order`` transactions signed by the market authority (several
trades per transaction, as many as fit), with the mint worker's discipline. A claimed row is
leased; the signed transaction (so its signature) is stored before it is sent; a row that
comes back (lease expired after a crash or an outage) is first looked up on chain by that
signature, resent as the same bytes while its blockhash is valid, and only rebuilt once it
provably cannot land. So nothing settles twice and nothing is lost. A pack that fails as a
whole moved nothing: its trades are sent again one per transaction, so the chain names the
bad one and the others settle."""

from __future__ import annotations

import asyncio
import os
import signal
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

import structlog
from solders.instruction import Instruction
from solders.keypair import Keypair
from solders.pubkey import Pubkey
from solders.signature import Signature
from solders.transaction import Transaction

from backend._metrics import SETTLE_PENDING, SETTLE_SECONDS, TRADES
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

from ._pack import MAX_PER_TX, pack
from ._release import release_removed
from ._return import chain_remaining, return_failed

if TYPE_CHECKING:
    from psycopg_pool import AsyncConnectionPool
    from solana.rpc.async_api import AsyncClient

__all__ = ["Settler"]

log = structlog.get_logger("backend.settler")
# trades claimed at a time (~15-20 transactions in one JSON-RPC batch): small enough that the
# next chunk is signed and sent while this one confirms, large enough that a batch is worth
# its round trip
_CHUNK = 60


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
    solo: bool  # its pack failed as a whole: sent alone from now on


# signature -> (the transaction, the ids of the claimed trades it settles)
_Txs = dict[Signature, tuple[Transaction, list[int]]]


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
        max_per_tx: int = MAX_PER_TX,  # match_order instructions per transaction (1: no packing)
    ) -> None:
        self.pool, self.chain, self.market, self.authority, self.lease_s = pool, chain, market, authority, lease_s
        self.failpoint, self.rpc_url, self.max_per_tx = failpoint, rpc_url, max_per_tx

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
                    RETURNING id, sell_order, buy_order, seller, buyer, amount, signed_tx, last_valid_height, solo""",
                    (self.lease_s, self.market.id, _CHUNK),
                )
            ).fetchall()
        return sorted((_Row(*r) for r in rows), key=lambda r: r.id)

    def _ix(self, row: _Row) -> Instruction:
        return build_match_order_ix(
            self.authority.pubkey(),
            self.market.keys,
            Pubkey.from_string(row.seller),
            row.sell_order,
            Pubkey.from_string(row.buyer),
            row.buy_order,
            row.amount,
        )

    async def _build(self, rows: list[_Row]) -> _Txs:
        """Signed transactions (several trades each, a solo row alone), stored before any is
        sent: a crash after a send finds the signature again."""
        if not rows:
            return {}
        blockhash, height = await blockhash_with_height(self.chain)
        payer = self.authority.pubkey()
        packs = [[(r, self._ix(r))] for r in rows if r.solo]
        packs += pack([(r, self._ix(r)) for r in rows if not r.solo], payer, blockhash, self.max_per_tx, _orders)
        out: _Txs = {}
        for p in packs:
            tx = build_tx([ix for _, ix in p], [self.authority], blockhash)
            out[tx.signatures[0]] = (tx, [r.id for r, _ in p])
        async with self.pool.connection() as conn, conn.cursor() as cur:
            await cur.executemany(
                "UPDATE trades SET signed_tx = %s, tx_signature = %s, last_valid_height = %s WHERE id = %s",
                [(bytes(tx), str(sig), height, rid) for sig, (tx, ids) in out.items() for rid in ids],
            )
        return out

    async def _outcome(self, ids: list[int], err: object, slot: int) -> list[tuple[int, object, int]]:
        """What to record for a transaction's trades: a pack that failed as a whole moved
        nothing, so its trades go back to be sent alone (recorded: nothing)."""
        if err is not None and len(ids) > 1:
            await self._split(ids, err)
            return []
        return [(rid, err, slot) for rid in ids]

    async def _split(self, ids: list[int], err: object) -> None:
        async with self.pool.connection() as conn:
            await conn.execute(
                """UPDATE trades SET status = 'pending', solo = true, signed_tx = NULL, tx_signature = NULL,
                          last_valid_height = NULL, lease_until = NULL
                    WHERE id = ANY(%s) AND status = 'sent'""",
                (ids,),
            )
        TRADES.labels("split").inc(len(ids))
        log.info("settle_pack_split", trades=len(ids), error=str(err))

    async def _record_many(self, outcomes: list[tuple[int, object, int]]) -> None:
        """Outcomes in one transaction. The TradeExecuted events themselves reach chain_events
        through the indexer (the settler does not fetch every transaction back)."""
        ok = [(slot, rid) for rid, err, slot in outcomes if err is None]
        bad = [(str(err), slot, rid) for rid, err, slot in outcomes if err is not None]
        if not ok and not bad:
            return
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

    async def _prior(self, rows: list[_Row]) -> tuple[_Txs, set[int]]:
        """Rows sent before (a crash or outage interrupted them): settle from the chain what
        landed; keep for resending what may still land; rebuild the rest. A pack's rows share
        one transaction (a pack-mate not claimed this round is settled when it is)."""
        seen: _Txs = {}
        for r in rows:
            if r.signed_tx is not None:
                tx = Transaction.from_bytes(r.signed_tx)
                seen.setdefault(tx.signatures[0], (tx, []))[1].append(r.id)
        if not seen:
            return {}, set()
        statuses = (await rpc_call(self.chain.get_signature_statuses(list(seen)))).value
        again: _Txs = {}
        done: set[int] = set()
        outcomes: list[tuple[int, object, int]] = []
        for (sig, (tx, ids)), st in zip(seen.items(), statuses, strict=True):
            if st is not None:
                outcomes += await self._outcome(ids, err_to_json(st.err), st.slot)
                done.update(ids)
            elif await blockhash_valid(self.chain, rows_height(rows, ids)):
                again[sig] = (tx, ids)  # the same bytes: if the first send landed after all, the chain dedups it
        await self._record_many(outcomes)
        return again, done

    async def round(self) -> int:
        """Settle what is due, a chunk at a time, in two stages that overlap: while one chunk
        is sent, confirmed and recorded, the next is claimed and its transactions built and
        stored. One chunk is sent at a time, in claim order (the engine's), so an order's
        fills go out in sequence. Returns how many trades reached an outcome (or were split)."""
        total = 0
        delivering: asyncio.Task[None] | None = None
        try:
            while True:
                rows = await self._claim()
                txs = await self._prepare(rows) if rows else None
                if delivering is not None:
                    await delivering
                    delivering = None
                if txs is None:
                    return total
                total += len(rows)
                delivering = asyncio.create_task(self._deliver(txs))
                if len(rows) < _CHUNK:  # nothing more due now: finish this chunk and return
                    await delivering
                    delivering = None
                    return total
        finally:
            # an error or a stop with a chunk under way: its rows keep their lease and come
            # back when it expires, looked up on chain by their stored signature first
            if delivering is not None:
                delivering.cancel()
                await asyncio.gather(delivering, return_exceptions=True)

    async def _prepare(self, rows: list[_Row]) -> _Txs:
        """The chunk's transactions: stored ones still able to land (as they are), the rest
        built, signed and stored before any is sent."""
        again, done = await self._prior(rows)
        return {**again, **await self._build([r for r in rows if r.id not in done and r.id not in again_ids(again)])}

    async def _deliver(self, txs: _Txs) -> None:
        t0 = time.perf_counter()
        sent_ok, outcomes = await self._send_all(txs)
        sent = [sig for sig, ok in zip(txs, sent_ok, strict=True) if ok]
        if sent:
            statuses = await confirm_statuses(self.chain, sent)
            elapsed = time.perf_counter() - t0  # the chunk is sent and confirmed together
            for _ in statuses:
                SETTLE_SECONDS.observe(elapsed)
            if self.failpoint == "settle_after_send":
                os.kill(os.getpid(), signal.SIGKILL)
            for sig, (err, slot) in statuses.items():
                outcomes += await self._outcome(txs[sig][1], err, slot)
        await self._record_many(outcomes)

    async def _send_all(self, txs: _Txs) -> tuple[list[bool], list[tuple[int, object, int]]]:
        """All in one JSON-RPC batch request (one HTTP round trip instead of one per
        transaction); True where sent, and the outcomes of the refused ones."""
        refused: list[tuple[int, object, int]] = []
        if self.rpc_url is None:
            results: list[Signature | ChainError] = []
            for tx, _ids in txs.values():
                try:
                    results.append(await send_tx(self.chain, tx))
                except ChainError as exc:
                    results.append(exc)
        else:
            results = await send_txs(self.rpc_url, [tx for tx, _ in txs.values()])
        for r in results:
            if isinstance(r, ChainError) and r.code == "Unreachable":
                raise r  # the lease expires and the rows come back, checked on chain first
        for (tx, ids), r in zip(txs.values(), results, strict=True):
            if isinstance(r, ChainError):
                refused += await self._refused(ids, tx, r)
        return [not isinstance(r, ChainError) for r in results], refused

    async def _refused(self, ids: list[int], tx: Transaction, exc: ChainError) -> list[tuple[int, object, int]]:
        """A refused send: what landed meanwhile counts; else a pack is split, a lone trade fails."""
        st = (await rpc_call(self.chain.get_signature_statuses([tx.signatures[0]]))).value[0]
        if st is not None:
            return await self._outcome(ids, err_to_json(st.err), st.slot)
        return await self._outcome(ids, exc.code or str(exc), 0)

    async def _open_trades(self) -> int:
        """Every market's (the gauge has no label: each settler sets the same figure)."""
        async with self.pool.connection() as conn:
            row = await (
                await conn.execute("SELECT count(*) FROM trades WHERE status IN ('pending', 'sent')")
            ).fetchone()
        return int(row[0]) if row else 0

    async def run(self, stop: asyncio.Event, wake: asyncio.Event, period_s: float = 0.2) -> None:
        open_trades = 1  # unknown at start: counted after the first round
        while not stop.is_set():
            wake.clear()
            try:
                t0 = time.perf_counter()
                n = await self.round()
                if self.rpc_url is not None:  # then the escrow of orders the engine removed
                    n += await release_removed(self.pool, self.chain, self.rpc_url, self.market, self.authority)
                if n:
                    log.info("settle_round", trades=n, seconds=round(time.perf_counter() - t0, 3))
                if n or open_trades:
                    open_trades = await self._open_trades()
                    SETTLE_PENDING.set(open_trades)
            except ChainError as exc:
                log.warning("settle_chain_unavailable", error=str(exc))
                n = 0
            except Exception:
                log.exception("settle_round_failed")
                n = 0
            if n == 0:
                from backend.matcher._service import _wait

                await _wait(wake, period_s, stop)


def _orders(r: _Row) -> tuple[tuple[str, int], tuple[str, int]]:
    """A trade's two orders (an order's PDA is its owner's wallet and id): packing keeps each
    order's fills in the engine's order."""
    return (r.seller, r.sell_order), (r.buyer, r.buy_order)


def again_ids(again: _Txs) -> set[int]:
    return {rid for _tx, ids in again.values() for rid in ids}


def rows_height(rows: list[_Row], ids: list[int]) -> int:
    """The last valid block height of a stored transaction (its rows share it)."""
    return next((r.last_valid_height or 0 for r in rows if r.id == ids[0]), 0)

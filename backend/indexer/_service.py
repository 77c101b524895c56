"""The indexer loop: follow each program's transactions from a cursor and apply their events.

The source is an interface so the live path (logsSubscribe + slot-cursor catch-up, a
``gridx.chain`` helper in progress) can replace polling without touching the rest:
``PollingSource`` pages ``getSignaturesForAddress`` back to the last applied signature."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import TYPE_CHECKING, Protocol

import structlog
from solders.pubkey import Pubkey
from solders.signature import Signature

from gridx.chain import Event, decode_events, fetch_events, follow_logs, program_ids
from gridx.errors import ChainError

from ._apply import apply_tx_events

if TYPE_CHECKING:
    from psycopg_pool import AsyncConnectionPool
    from solana.rpc.async_api import AsyncClient

__all__ = ["EventSource", "Indexer", "PollingSource"]

log = structlog.get_logger("backend.indexer")
Batch = list[tuple[Signature, int, list[Event]]]


class EventSource(Protocol):
    async def after(self, address: Pubkey, cursor: Signature | None) -> Batch:
        """Successful transactions touching ``address`` after ``cursor``, oldest first."""
        ...


class PollingSource:
    def __init__(self, client: AsyncClient) -> None:
        self.client = client

    async def after(self, address: Pubkey, cursor: Signature | None) -> Batch:
        return await fetch_events(self.client, address, until=cursor)


class Indexer:
    """Applies events of the registry and trading programs; ``run_once`` returns how many
    events were new. Cursor and events commit together, so a restart resumes exactly."""

    def __init__(
        self,
        pool: AsyncConnectionPool,
        source: EventSource,
        programs: Sequence[str] = ("registry", "trading"),
        chain: AsyncClient | None = None,
    ):
        """``chain``: reads the account of an order created outside the API (its market), so
        the indexer books it; without it such an order is refused by name (``no_chain``)."""
        self.pool = pool
        self.source = source
        self.programs = tuple(programs)
        self.chain = chain

    async def run_once(self) -> int:
        total = 0
        for name in self.programs:
            total += await self._follow(name, program_ids().by_name(name))
        return total

    async def _follow(self, name: str, address: Pubkey) -> int:
        async with self.pool.connection() as conn:
            row = await (
                await conn.execute("SELECT last_signature FROM chain_cursor WHERE name = %s", (name,))
            ).fetchone()
        cursor = Signature.from_string(row[0]) if row and row[0] else None
        batch = await self.source.after(address, cursor)
        new = 0
        for sig, slot, events in batch:
            async with self.pool.connection() as conn, conn.transaction():
                new += await apply_tx_events(conn, str(sig), slot, events, self.chain)
                await conn.execute(
                    """INSERT INTO chain_cursor (name, last_signature, slot) VALUES (%s, %s, %s)
                       ON CONFLICT (name) DO UPDATE SET last_signature = excluded.last_signature,
                              slot = excluded.slot, updated_at = now()""",
                    (name, str(sig), slot),
                )
        return new

    async def follow(self, rpc_url: str, ws_url: str) -> None:
        """The live path: ``gridx.chain.follow_logs`` (logsSubscribe, caught up from the slot
        cursor after every reconnect). Runs until cancelled; cursor and events commit together."""
        async with self.pool.connection() as conn:
            row = await (await conn.execute("SELECT slot FROM chain_cursor WHERE name = 'live'")).fetchone()
            slot = int(row[0]) if row else 0
            seen = [
                r[0]
                for r in await (
                    await conn.execute("SELECT DISTINCT signature FROM chain_events WHERE slot = %s", (slot,))
                ).fetchall()
            ]
        programs = [program_ids().by_name(n) for n in self.programs]
        async for ev in follow_logs(rpc_url, ws_url, programs, slot, seen=seen, commitment="confirmed"):
            async with self.pool.connection() as conn, conn.transaction():
                await apply_tx_events(conn, ev.signature, ev.slot, decode_events(ev.logs), self.chain)
                await conn.execute(
                    """INSERT INTO chain_cursor (name, last_signature, slot) VALUES ('live', %s, %s)
                       ON CONFLICT (name) DO UPDATE SET last_signature = excluded.last_signature,
                              slot = excluded.slot, updated_at = now()""",
                    (ev.signature, ev.slot),
                )

    async def run(self, period_s: float, stop: asyncio.Event) -> None:
        while not stop.is_set():
            try:
                await self.run_once()
            except ChainError as exc:
                log.warning("indexer_chain_unavailable", error=str(exc))
            except Exception:
                log.exception("indexer_failed")
            try:
                await asyncio.wait_for(stop.wait(), period_s)
            except TimeoutError:
                pass

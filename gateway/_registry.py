"""Meter registry cache: the database is read once per meter, then kept in memory.

Invalidation is pushed: a trigger on ``meters`` NOTIFYs ``gridx_meters`` with the meter id and
the listener drops that entry, so a revocation applies to the next message. A TTL is the
backstop for a missed notification; while the listener is down nothing is cached at all.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable, Iterable

import psycopg
import structlog

from gateway._checks import RegistryEntry
from gridx.db import aconnect

__all__ = ["CHANNEL", "PROGRESS_CHANNEL", "Registry"]

CHANNEL = "gridx_meters"
# a gateway that committed readings says so; another one holding parked readings retries at once
PROGRESS_CHANNEL = "gridx_progress"
UNKNOWN_MAX = 10_000
log = structlog.get_logger("gateway.registry")


class Registry:
    def __init__(self, dsn: str, ttl_s: float = 5.0, on_progress: Callable[[], None] | None = None) -> None:
        self._dsn = dsn
        self._on_progress = on_progress
        self._ttl = ttl_s
        self._cache: dict[str, tuple[float, RegistryEntry]] = {}
        # ids that are not enrolled, kept apart and bounded: an edge may send any number of
        # made-up meter ids, and each must not cost memory for ever
        self._unknown: dict[str, float] = {}
        self._listening = False
        self._conn: psycopg.AsyncConnection | None = None
        self._task: asyncio.Task[None] | None = None
        self.invalidations = 0

    async def start(self) -> None:
        self._task = asyncio.create_task(self._listen(), name="registry-listen")

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        if self._conn is not None:
            await self._conn.close()

    @property
    def listening(self) -> bool:
        return self._listening

    def invalidate(self, meter_id: str | None = None) -> None:
        self.invalidations += 1
        if meter_id is None:
            self._cache.clear()
            self._unknown.clear()
        else:
            self._cache.pop(meter_id, None)
            self._unknown.pop(meter_id, None)

    async def get_many(self, meter_ids: Iterable[str]) -> dict[str, RegistryEntry | None]:
        """Entries for the ids; None for a meter that is not enrolled (cached as well).
        Raises psycopg.OperationalError when the database cannot be reached."""
        now = time.monotonic()
        out: dict[str, RegistryEntry | None] = {}
        missing: list[str] = []
        for mid in set(meter_ids):
            hit = self._cache.get(mid)
            if hit is not None and hit[0] > now:
                out[mid] = hit[1]
            elif self._unknown.get(mid, 0.0) > now:
                out[mid] = None
            else:
                missing.append(mid)
        if missing:
            fetched = await self._fetch(missing)
            expires = now + self._ttl if self._listening else now
            for mid in missing:
                entry = out[mid] = fetched.get(mid)
                if entry is not None:
                    self._cache[mid] = (expires, entry)
                    continue
                self._unknown.pop(mid, None)
                self._unknown[mid] = expires
                while len(self._unknown) > UNKNOWN_MAX:  # oldest first (insertion order)
                    del self._unknown[next(iter(self._unknown))]
        return out

    @property
    def unknown_cached(self) -> int:
        return len(self._unknown)

    async def _fetch(self, meter_ids: list[str]) -> dict[str, RegistryEntry]:
        if self._conn is None or self._conn.closed:
            self._conn = await aconnect(self._dsn, autocommit=True, app="gridx-gateway-registry")
        try:
            cur = await self._conn.execute(
                "SELECT meter_id, pubkey, owner_wallet, edge_id, rated_power_w, status = 'active', interval_s,"
                " extract(epoch FROM created_at)::bigint FROM meters WHERE meter_id = ANY(%s)",
                (meter_ids,),
            )
            return {row[0]: RegistryEntry(*row) for row in await cur.fetchall()}
        except psycopg.OperationalError:
            await self._conn.close()
            raise

    async def _listen(self) -> None:
        while True:
            try:
                async with await aconnect(self._dsn, autocommit=True, app="gridx-gateway-listen") as conn:
                    await conn.execute(f"LISTEN {CHANNEL}")
                    await conn.execute(f"LISTEN {PROGRESS_CHANNEL}")
                    # entries cached while not listening may have missed a change
                    self.invalidate()
                    self._listening = True
                    async for note in conn.notifies():
                        if note.channel == PROGRESS_CHANNEL:
                            if self._on_progress is not None:
                                self._on_progress()
                        else:
                            self.invalidate(note.payload)
            except psycopg.OperationalError as exc:
                log.warning("registry_listen_lost", error=str(exc).strip()[:200])
            finally:
                self._listening = False
                self.invalidate()
            await asyncio.sleep(1.0)

"""The mint worker: a thin async loop around claim → check → pack → send → record.

Exactly once per (meter, window) rests on three things: the outbox row is written in the
reading's own transaction; a row is marked 'sent' (with a lease) before its transaction
leaves; and a row that may have left before is checked on chain before it is sent again. The
program's per-window record PDA is the final guard: a duplicate that slips through is refused
and recorded as already done.
"""

from __future__ import annotations

import asyncio
import os
import signal
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import psycopg
import structlog
from prometheus_client import Counter, Gauge, Histogram

from gateway.mint._limits import MintLimits, RateLimiter
from gateway.mint._plan import Outcome, pack
from gateway.mint._store import MintRecorded, claim_jobs, record_verdicts

if TYPE_CHECKING:
    from solana.rpc.async_api import AsyncClient
    from solders.keypair import Keypair

__all__ = ["MINTS", "MintWorker", "MintWorkerConfig"]

log = structlog.get_logger("gridx.mint")

MINTS_PENDING = Gauge("gridx_mints_pending", "Mint outbox rows not yet confirmed or refused")
MINTS = Counter("gridx_mints_total", "Mint outcomes", ["outcome", "reason"])
MINT_LATENCY = Histogram(
    "gridx_mint_latency_seconds",
    "Reading accepted to mint confirmed",
    buckets=(0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60),
)


@dataclass(frozen=True)
class MintWorkerConfig:
    dsn: str
    rpc_url: str
    minter_keypair: Path
    per_tx: int = 4  # mint_for_reading instructions per transaction (what fits in 1232 bytes)
    claim_batch: int = 400
    lease_s: float = 30.0
    confirm_s: float = 30.0
    retry_after_s: float = 0.5
    idle_s: float = 0.05
    limits: MintLimits = field(default_factory=MintLimits)
    failpoint: str | None = None  # "after_send": die between send and record (tests)


class MintWorker:
    def __init__(self, cfg: MintWorkerConfig) -> None:
        self.cfg = cfg
        self.limiter = RateLimiter(cfg.limits)
        self._stop = asyncio.Event()
        self._pending_at = float("-inf")

    def stop(self) -> None:
        self._stop.set()

    async def run(self) -> None:
        from solana.rpc.async_api import AsyncClient

        from gridx.chain import load_keypair
        from gridx.db import connect

        minter = load_keypair(self.cfg.minter_keypair)
        conn = await asyncio.to_thread(connect, self.cfg.dsn, app="gridx-mint")
        client = AsyncClient(self.cfg.rpc_url, timeout=30)
        backoff = self.cfg.retry_after_s
        try:
            while not self._stop.is_set():
                try:
                    busy = await self.run_once(conn, client, minter)
                    backoff = self.cfg.retry_after_s
                except Exception as exc:
                    # an outage of the chain or the DB: rows stay queued (or leased), nothing is lost
                    log.warning("mint_pass_failed", error=str(exc), retry_in_s=backoff)
                    busy = False
                    await asyncio.sleep(backoff)
                    backoff = min(backoff * 2, 10.0)
                    if conn.closed or conn.broken:
                        conn = await asyncio.to_thread(connect, self.cfg.dsn, app="gridx-mint")
                if not busy:
                    try:
                        await asyncio.wait_for(self._stop.wait(), self.cfg.idle_s)
                    except TimeoutError:
                        pass
        finally:
            await client.close()
            conn.close()

    async def run_once(self, conn: psycopg.Connection, client: AsyncClient, minter: Keypair) -> bool:
        """One pass; returns whether there was work (so the loop does not idle under load)."""
        from gateway.mint._chain import check_on_chain, send_packed

        now = time.monotonic()
        jobs = await asyncio.to_thread(
            claim_jobs,
            conn,
            self.cfg.claim_batch,
            self.cfg.lease_s,
            lambda meter_id: self.limiter.allow(meter_id, now),
        )
        if not jobs:
            # an idle worker polls every idle_s; the gauge needs no more than one count a second
            if now - self._pending_at >= 1.0:
                self._pending_at = now
                await self._refresh_pending(conn)
            return False
        maybe_sent = [j for j in jobs if j.attempts > 0]
        fresh = [j for j in jobs if j.attempts == 0]
        results: list[MintRecorded] = []
        if maybe_sent:
            done, resend = await check_on_chain(client, maybe_sent)
            results += done
            fresh += resend
        if fresh:
            results += await send_packed(client, minter, pack(fresh, self.cfg.per_tx), self.cfg.confirm_s)
        if self.cfg.failpoint == "after_send":
            os.kill(os.getpid(), signal.SIGKILL)
        await asyncio.to_thread(record_verdicts, conn, results, self.cfg.retry_after_s)
        self._observe(results)
        return True

    async def _refresh_pending(self, conn: psycopg.Connection) -> None:
        def count() -> int:
            with conn.transaction():
                row = conn.execute("SELECT count(*) FROM mint_outbox WHERE status IN ('pending', 'sent')").fetchone()
            return int(row[0]) if row else 0

        MINTS_PENDING.set(await asyncio.to_thread(count))

    @staticmethod
    def _observe(results: list[MintRecorded]) -> None:
        wall = time.time()
        for res in results:
            v = res.verdict
            MINTS.labels(v.outcome.value, v.reason).inc()
            if v.outcome in (Outcome.CONFIRMED, Outcome.ALREADY_DONE) and v.job.accepted_at:
                MINT_LATENCY.observe(max(0.0, wall - v.job.accepted_at))
            if v.outcome is not Outcome.CONFIRMED:
                log.info(
                    "mint_outcome",
                    meter=v.job.meter_id,
                    window=v.job.window_start,
                    outcome=v.outcome.value,
                    reason=v.reason,
                )

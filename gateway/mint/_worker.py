"""The mint worker: a thin async loop around claim → settle → send → record.

Exactly once per (meter, window) rests on: the outbox row is written in the reading's own
transaction; a row is marked 'sent' (with a lease) and the signature of the transaction that
carries it is noted before it leaves; a row sent before is settled by asking the chain about
those signatures. The program's per-meter high-water mark is the final guard: a window can be
minted once, in time order, so each meter has one transaction in flight with its oldest windows.
A row that cannot be packed, or is still unsent after ``max_attempts``, is marked 'failed'
alone; nothing blocks the rows behind it. A never-sent row before its meter's on-chain
high-water mark (a late backfill after later windows were minted) can never be minted: it is
closed as 'behind_chain' without a transaction (unless a mint event commits to its reading).
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import signal
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import psycopg
import structlog
from solders.pubkey import Pubkey

from gateway.mint._limits import MintLimits, RateLimiter
from gateway.mint._metrics import MintMetrics
from gateway.mint._plan import MintJob, Outcome, Verdict, group_by_meter, job_reading, split_behind
from gateway.mint._store import MintRecorded, claim_jobs, note_signatures, record_verdicts

if TYPE_CHECKING:
    from gateway.mint._chain import SentGroups
from gridx.chain import SignedReading

if TYPE_CHECKING:
    from solana.rpc.async_api import AsyncClient
    from solders.keypair import Keypair

__all__ = ["MintWorker", "MintWorkerConfig"]

log = structlog.get_logger("gridx.mint")


@dataclass(frozen=True)
class MintWorkerConfig:
    dsn: str
    rpc_url: str
    minter_keypair: Path
    per_tx: int = 4  # at most this many windows of one meter per transaction (and what fits)
    claim_batch: int = 2000
    lease_s: float = 30.0
    confirm_s: float = 30.0
    retry_after_s: float = 0.5
    idle_s: float = 0.05
    max_attempts: int = 20  # sends of one row before it is marked 'failed' for the operator
    limits: MintLimits = field(default_factory=MintLimits)
    # tests: "after_send" dies between send and record; "after_send_overlapped" too, once the
    # next pass is claimed, signed and noted (two passes in flight when it dies)
    failpoint: str | None = None
    # passes between claim and record at once: while the chain executes one pass's
    # transactions, the next is claimed, packed, signed and noted (1: one pass at a time)
    pipeline: int = 2


@dataclass
class _Plan:
    """What ``_choose`` made of one claim: transactions to send, rows that fail, packed readings."""

    groups: list[list[MintJob]] = field(default_factory=list)
    failed: list[MintRecorded] = field(default_factory=list)
    signed: dict[int, SignedReading] = field(default_factory=dict)


@dataclass
class _Pass:
    """A claimed pass between prepare and record: rows judged already, transactions to send."""

    results: list[MintRecorded]
    sent: SentGroups | None


class MintWorker:
    """One claim → send → record loop whose passes overlap (``pipeline``): while the chain
    executes one pass, the next is claimed and signed. Several may run side by side
    (``run_mint_service`` with ``workers`` > 1, or several processes): the claim never hands one
    row or one meter to two of them. Workers of one process share ``limiter``, ``solo`` and
    ``metrics``."""

    def __init__(
        self,
        cfg: MintWorkerConfig,
        limiter: RateLimiter | None = None,
        solo: set[int] | None = None,
        metrics: MintMetrics | None = None,
    ) -> None:
        self.cfg = cfg
        self.limiter = RateLimiter(cfg.limits) if limiter is None else limiter
        self.metrics = MintMetrics() if metrics is None else metrics
        self.metrics_port: int | None = None  # set by run_mint_service once /metrics is served
        self._stop = asyncio.Event()
        self._pending_at = float("-inf")
        self._solo: set[int] = set() if solo is None else solo  # rows of a refused multi-window mint: next time alone
        self._record_lock = asyncio.Lock()  # passes in flight share one connection for their records
        self._send_lock = asyncio.Lock()  # passes reach the chain one after the other (submit_mints)
        self._overlapped = asyncio.Event()  # a pass was prepared while another was in flight
        # meter pubkey -> a high-water mark its chain state has reached (read once, then raised
        # by our own mints): never above the real one, so "behind" is never said wrongly
        self._marks: dict[bytes, int] = {}

    def stop(self) -> None:
        self._stop.set()

    async def run(self) -> None:
        from solana.rpc.async_api import AsyncClient

        from gridx.chain import load_keypair
        from gridx.db import connect

        minter = load_keypair(self.cfg.minter_keypair)
        # claims and notes on one connection, records on another: a pass records while the
        # next one is claimed (one psycopg connection runs one transaction at a time)
        conns = [await asyncio.to_thread(connect, self.cfg.dsn, app="gridx-mint") for _ in range(2)]
        client = AsyncClient(self.cfg.rpc_url, timeout=30)
        inflight: set[asyncio.Task[None]] = set()
        backoff = self.cfg.retry_after_s
        try:
            while not self._stop.is_set():
                try:
                    todo = await self._prepare(conns[0], client, minter)
                    backoff = self.cfg.retry_after_s
                except Exception as exc:
                    # an outage of the chain or the DB: rows stay queued (or leased), nothing is lost
                    log.warning("mint_pass_failed", error=str(exc), retry_in_s=backoff)
                    todo = None
                    await asyncio.sleep(backoff)
                    backoff = min(backoff * 2, 10.0)
                    await self._reconnect(conns, 0)
                if todo is not None:
                    if inflight:
                        self._overlapped.set()
                    task = asyncio.create_task(self._finish_logged(conns, client, todo))
                    inflight.add(task)
                    task.add_done_callback(inflight.discard)
                    while len(inflight) >= max(1, self.cfg.pipeline):
                        await asyncio.wait(inflight, return_when=asyncio.FIRST_COMPLETED)
                    continue
                try:
                    await asyncio.wait_for(self._stop.wait(), self.cfg.idle_s)
                except TimeoutError:
                    pass
        finally:
            # passes already sent record their outcome before the worker goes
            await asyncio.gather(*inflight, return_exceptions=True)
            await client.close()
            for conn in conns:
                conn.close()

    async def _reconnect(self, conns: list[psycopg.Connection], i: int) -> None:
        from gridx.db import connect

        if conns[i].closed or conns[i].broken:
            try:
                conns[i] = await asyncio.to_thread(connect, self.cfg.dsn, app="gridx-mint")
            except Exception as again:  # still down: the next pass tries again
                log.warning("mint_reconnect_failed", error=str(again))

    async def _finish_logged(self, conns: list[psycopg.Connection], client: AsyncClient, todo: _Pass) -> None:
        try:
            await self._finish(conns[1], client, todo)
        except Exception as exc:
            # its rows stay leased: after the lease the chain is asked about their signatures
            log.warning("mint_pass_failed", error=str(exc), stage="record")
            await self._reconnect(conns, 1)

    def _choose(
        self, jobs: list[MintJob], minter: Pubkey, now: float, solo: frozenset[int], plan: _Plan
    ) -> list[MintJob]:
        """Pick this pass's transactions from the claimed candidates (see claim_jobs) into ``plan``."""
        from gridx.chain import MeterMint, mintable_prefix

        ok = []
        for job in jobs:
            try:
                plan.signed[job.outbox_id] = job_reading(job)
            except ValueError as exc:
                plan.failed.append(MintRecorded(Verdict(job, Outcome.FAILED, str(exc))))
                continue
            if job.attempts >= self.cfg.max_attempts:
                plan.failed.append(MintRecorded(Verdict(job, Outcome.FAILED, f"{job.attempts} attempts")))
            else:
                ok.append(job)

        def fits(group: list[MintJob]) -> int:
            head = group[: self.cfg.per_tx]
            m = MeterMint(
                Pubkey.from_bytes(head[0].meter_pubkey),
                Pubkey.from_string(head[0].owner_wallet),
                head[0].edge_id,
                tuple(plan.signed[j.outbox_id] for j in head),
            )
            return mintable_prefix(minter, m)

        groups = group_by_meter(ok, fits, solo)
        plan.groups = [g for g in groups if self.limiter.allow(g[0].meter_id, now)]
        return [j for g in plan.groups for j in g] + [r.verdict.job for r in plan.failed]

    async def run_once(self, conn: psycopg.Connection, client: AsyncClient, minter: Keypair) -> bool:
        """One pass, claim to record; returns whether there was work (so the loop does not idle
        under load). ``run`` does the same with passes overlapping (``pipeline``)."""
        todo = await self._prepare(conn, client, minter)
        if todo is None:
            return False
        await self._finish(conn, client, todo)
        return True

    async def _prepare(self, conn: psycopg.Connection, client: AsyncClient, minter: Keypair) -> _Pass | None:
        """Claim rows (marked 'sent' with a lease), judge what needs no transaction, sign one
        transaction per meter and note its signature on every row it carries. None: no work.
        The claim skips meters with a live lease, so a meter in a pass still in flight is in no
        other: it has one transaction in flight at most."""
        from gateway.mint._chain import prepare_groups, settle_earlier

        now = time.monotonic()
        solo = frozenset(self._solo)  # here, on the loop: another worker of this process may change it
        plan = _Plan()
        jobs = await asyncio.to_thread(
            claim_jobs,
            conn,
            self.cfg.claim_batch,
            self.cfg.lease_s,
            lambda js: self._choose(js, minter.pubkey(), now, solo, plan),
            self.cfg.per_tx,
        )
        if not jobs:
            # an idle worker polls every idle_s; the gauge needs no more than one count a second
            if now - self._pending_at >= 1.0:
                self._pending_at = now
                await self._refresh_pending(conn)
            return None
        results = list(plan.failed) + await self._behind_chain(client, plan)
        done, _ = await settle_earlier(client, [j for g in plan.groups for j in g if j.sent_signatures])
        results += done
        settled = {r.verdict.job.outbox_id for r in done}
        groups = [[j for j in g if j.outbox_id not in settled] for g in plan.groups]
        groups = [g for g in groups if g]
        if not groups:
            return _Pass(results, None)

        async def note(sigs: dict[int, str]) -> None:
            await asyncio.to_thread(note_signatures, conn, sigs)

        return _Pass(results, await prepare_groups(client, minter, groups, plan.signed, note))

    async def _finish(self, conn: psycopg.Connection, client: AsyncClient, todo: _Pass) -> None:
        """Send a prepared pass, confirm it, record every row's outcome in one transaction."""
        from gateway.mint._chain import finish_groups

        results = list(todo.results)
        if todo.sent is not None:
            # stamped as each record is made: dataclasses.replace per row cost more than the record
            results += await finish_groups(
                client, self.cfg.rpc_url, todo.sent, self.cfg.confirm_s, self._send_lock, sent_at=time.time()
            )
        if self.cfg.failpoint == "after_send_overlapped":
            await self._overlapped.wait()
        if self.cfg.failpoint in ("after_send", "after_send_overlapped"):
            os.kill(os.getpid(), signal.SIGKILL)
        async with self._record_lock:
            await asyncio.to_thread(record_verdicts, conn, results, self.cfg.retry_after_s)
        for res in results:
            job_id = res.verdict.job.outbox_id
            if res.verdict.reason.startswith("split:"):
                self._solo.add(job_id)
            elif res.verdict.outcome is not Outcome.RETRY:
                self._solo.discard(job_id)
        self._learn_marks(results)
        self._observe(results)

    async def _behind_chain(self, client: AsyncClient, plan: _Plan) -> list[MintRecorded]:
        """Never-sent rows before their meter's on-chain high-water mark (a late backfill after
        later windows were minted) leave this pass's groups as BEHIND_CHAIN: no transaction."""
        from gridx.chain import find_mint, next_window_starts

        unknown = list({g[0].meter_pubkey for g in plan.groups if g[0].meter_pubkey not in self._marks})
        if unknown:
            marks = await next_window_starts(client, [Pubkey.from_bytes(k) for k in unknown])
            for key, mark in marks.items():
                self._marks[bytes(key)] = max(mark, self._marks.get(bytes(key), 0))
        plan.groups, behind = split_behind(plan.groups, self._marks)
        out = []
        for v in behind:
            # minted by someone else with this very reading (its event commits to it): done
            digest = hashlib.sha256(plan.signed[v.job.outbox_id].canonical).hexdigest()
            found = await find_mint(client, Pubkey.from_bytes(v.job.meter_pubkey), digest)
            if found is not None:
                done = Verdict(v.job, Outcome.ALREADY_DONE, "found_on_chain")
                out.append(MintRecorded(done, str(found.signature), found.slot, digest))
                continue
            log.warning("mint_behind_chain", meter=v.job.meter_id, window=v.job.window_start)
            out.append(MintRecorded(v))
        return out

    def _learn_marks(self, results: list[MintRecorded]) -> None:
        for res in results:
            v = res.verdict
            key = v.job.meter_pubkey
            if v.outcome in (Outcome.CONFIRMED, Outcome.ALREADY_DONE):
                self._marks[key] = max(self._marks.get(key, 0), v.job.window_end)
            elif v.reason.endswith("WindowAlreadyMinted"):
                self._marks.pop(key, None)  # someone else minted past our mark: read it again

    async def _refresh_pending(self, conn: psycopg.Connection) -> None:
        def count() -> int:
            with conn.transaction():
                row = conn.execute("SELECT count(*) FROM mint_outbox WHERE status IN ('pending', 'sent')").fetchone()
            return int(row[0]) if row else 0

        self.metrics.pending.set(await asyncio.to_thread(count))

    def _observe(self, results: list[MintRecorded]) -> None:
        wall = time.time()
        for res in results:
            v = res.verdict
            self.metrics.outcomes.labels(v.outcome.value, v.reason).inc()
            if v.outcome in (Outcome.CONFIRMED, Outcome.ALREADY_DONE) and v.job.accepted_at:
                self.metrics.latency.observe(max(0.0, wall - v.job.accepted_at))
            if v.outcome is not Outcome.CONFIRMED:
                log.info(
                    "mint_outcome",
                    meter=v.job.meter_id,
                    window=v.job.reading.get("window_start"),
                    outcome=v.outcome.value,
                    reason=v.reason,
                )

"""The gateway service: a thin async loop around the pure checks and the flush transaction.

paho's network thread hands each MQTT message to the event loop. The intake task parses it,
looks the meters up and verifies signatures in a thread pool (PyNaCl releases the GIL); the
flusher task commits batches. A message is acknowledged (PUBACK) only once every reading in it
is committed or quarantined: with the database down nothing is acknowledged, the broker stops
sending after ``receive_max`` messages, and on recovery the same in-memory work is retried.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import psycopg
import structlog
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from gateway._budget import QuarantineBudget
from gateway._checks import RegistryEntry
from gateway._config import GatewayConfig
from gateway._intake import Msg, count_down, readmit, take_in, unexpected
from gateway._judge import Candidate, Rejection
from gateway._metrics import Metrics
from gateway._mqtt_side import MqttSide
from gateway._parking import Parking
from gateway._quarantine import due_holes, prune_quarantine, stalled_meters
from gateway._registry import Registry
from gateway._store import FlushOutcome, flush, flush_one_by_one, is_outage
from gridx.db import aconnect
from gridx.errors import Reason

__all__ = ["Gateway"]

log = structlog.get_logger("gateway")


class Gateway(MqttSide):
    """``await Gateway(cfg).run(stop_event)``; :meth:`stop` (same loop) ends it gracefully."""

    def __init__(self, cfg: GatewayConfig) -> None:
        self.cfg = cfg
        self.metrics = Metrics()
        self.metrics_port: int | None = None
        self.accepted = 0
        self.disconnects = 0
        self.retiring = False  # set before stop(): leave and drop the broker session
        self._last_message = time.monotonic()
        self._next_stall_check = 0.0
        self._next_prune = 0.0
        self._budget = QuarantineBudget(cfg.quarantine_per_edge_per_s, cfg.quarantine_burst)
        self.rejected: dict[Reason, int] = dict.fromkeys(Reason, 0)
        self._queue: asyncio.Queue[Msg] = asyncio.Queue()
        self._cands: list[Candidate[Msg]] = []
        self._rejs: list[Rejection[Msg]] = []
        self._readmitting: set[int] = set()  # quarantine ids being judged again
        self._wake = asyncio.Event()
        self._stopping = asyncio.Event()
        self._connected = threading.Event()
        self._subscribed = threading.Event()
        self._subacks: set[int] = set()  # SUBACKed mids (set.add is atomic under the GIL)
        self._gen_lock = threading.Lock()
        self._generation = 0
        self._loop: asyncio.AbstractEventLoop | None = None
        self._pool = ThreadPoolExecutor(cfg.verify_threads, thread_name_prefix="verify")
        self._parking: Parking[Msg] = Parking(cfg.park_s, max(1, cfg.receive_max // 4))
        self._registry = Registry(cfg.dsn, cfg.registry_ttl_s, on_progress=lambda: self._release(None))
        self._client = self._make_client()
        self._latency_fh = cfg.latency_log.open("a", buffering=1) if cfg.latency_log else None

    # -- lifecycle --------------------------------------------------------------------------
    async def run(self, stop: asyncio.Event | None = None) -> None:
        """Serve until ``stop`` is set (or :meth:`stop` is called), then flush and leave."""
        self._loop = asyncio.get_running_loop()
        server = None
        if self.cfg.metrics_port is not None:
            server = self.metrics.serve(self.cfg.metrics_host, self.cfg.metrics_port)
            self.metrics_port = server.port
        await self._registry.start()
        props = Properties(PacketTypes.CONNECT)
        props.SessionExpiryInterval = self.cfg.session_expiry_s
        props.ReceiveMaximum = self.cfg.receive_max
        self._client.connect_async(self.cfg.mqtt_host, self.cfg.mqtt_port, clean_start=False, properties=props)
        self._client.loop_start()
        intake = asyncio.create_task(self._intake(), name="gateway-intake")
        flusher = asyncio.create_task(self._flusher(), name="gateway-flusher")
        waiters = [asyncio.create_task(self._stopping.wait())]
        if stop is not None:
            waiters.append(asyncio.create_task(stop.wait()))
        try:
            done, _ = await asyncio.wait([intake, flusher, *waiters], return_when=asyncio.FIRST_COMPLETED)
            for t in done & {intake, flusher}:
                t.result()  # a crashed task ends the gateway, with its error
            self._stopping.set()
            intake.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await intake
            self._wake.set()
            await flusher  # drains what was taken in, then returns
        finally:
            for t in (intake, flusher, *waiters):
                t.cancel()
            await asyncio.get_running_loop().run_in_executor(None, self._sync_acks, 5.0)
            # PUBACKs and then DISCONNECT leave in queue order; stopping the network thread
            # before on_disconnect would drop acknowledgements of committed readings
            self._client.disconnect(properties=self._disconnect_props())
            await asyncio.get_running_loop().run_in_executor(None, self._wait_disconnected, 10.0)
            self._client.loop_stop()
            await self._registry.close()
            self._pool.shutdown(wait=False, cancel_futures=True)
            if server is not None:
                server.close()
            if self._latency_fh is not None:
                self._latency_fh.close()
            log.info("gateway_stopped", accepted=self.accepted)

    @property
    def idle_s(self) -> float:
        """Seconds since the last message arrived (or since the gateway started)."""
        return time.monotonic() - self._last_message

    def stop(self) -> None:
        """Ask :meth:`run` to finish (safe from a signal handler on the loop)."""
        self._stopping.set()

    @property
    def connected(self) -> bool:
        return self._connected.is_set()

    @property
    def subscribed(self) -> bool:
        """Subscribed on the current connection: messages published from now on reach us."""
        return self._subscribed.is_set()

    # -- intake: parse, authority, signature ------------------------------------------------
    async def _intake(self) -> None:
        while True:
            msgs = [await self._queue.get()]
            # a few messages per round: readings reach the flusher while later ones are verified
            while not self._queue.empty() and len(msgs) < 4:
                msgs.append(self._queue.get_nowait())
            try:
                await self._take_in(msgs)
            except Exception as exc:  # the catch-all: no message may stop the intake
                log.exception("intake_unexpected", messages=len(msgs))
                self._rejs += [unexpected(m, exc) for m in msgs]
            # no queue limit here: the broker sends at most receive_max unacknowledged messages
            self._wake.set()

    async def _take_in(self, msgs: list[Msg]) -> None:
        cands, rejs = await take_in(msgs, self._lookup, self._pool, self.cfg.verify_threads)
        taken = int(time.time() * 1000)
        for m in msgs:
            m.taken_ms = taken
        self._rejs += rejs
        self._cands += cands
        for m in msgs:
            if m.outstanding == 0:  # an empty batch: nothing to store
                self._ack(m)

    async def _readmit(self, rows: list[tuple[int, str, str]], *, skip_hole: bool = False) -> None:
        """Held chain_gap rows of meters whose chain advanced (or, ``skip_hole``, whose hole
        outlived the grace): judge them again; authority and signature are checked anew."""
        cands, rejs = await readmit(rows, self._readmitting, self._lookup, self._pool, skip_hole=skip_hole)
        self._readmitting.update(c.quarantine_id for c in cands if c.quarantine_id is not None)
        self._cands += cands
        self._rejs += rejs
        if cands:
            log.info("readmitting", readings=len(cands), skip_hole=skip_hole)

    async def _lookup(self, meter_ids: set[str]) -> dict[str, RegistryEntry | None]:
        delay = 0.1
        while True:
            try:
                return await self._registry.get_many(meter_ids)
            except psycopg.OperationalError as exc:
                self.metrics.db_errors.inc()
                log.warning("registry_unavailable", error=str(exc).strip()[:200], retry_in_s=delay)
                await asyncio.sleep(delay)
                delay = min(self.cfg.db_retry_max_s, delay * 2)

    # -- flusher: one transaction per batch --------------------------------------------------
    async def _flusher(self) -> None:
        conn: psycopg.AsyncConnection | None = None
        delay = 0.1
        sweep_every = max(0.25, self.cfg.gap_grace_s / 4)
        next_sweep = time.monotonic() + sweep_every
        try:
            while True:
                self._release(set(), closing=self._stopping.is_set())  # parked too long, or stopping
                if not (self._cands or self._rejs):
                    if self._stopping.is_set():
                        return
                    await self._idle(next_sweep)
                if time.monotonic() >= next_sweep and not self._stopping.is_set():
                    next_sweep = time.monotonic() + sweep_every
                    conn = await self._sweep(conn)
                if not (self._cands or self._rejs):
                    continue
                cands, rejs = await self._next_batch()
                t0 = time.perf_counter()
                started = time.time()
                try:
                    if conn is None or conn.closed:
                        conn = await aconnect(self.cfg.dsn, app=f"gridx-gateway-{self.cfg.client_id}")
                    out = await self._commit(conn, cands, rejs)
                except psycopg.Error as exc:  # an outage (_commit isolates what is refused)
                    await self._put_back(exc, conn, cands, rejs, delay)
                    conn = None
                    if self._stopping.is_set():
                        # leaving with the database down: unacknowledged messages are redelivered
                        log.warning("stopping_with_uncommitted", readings=len(self._cands), rejected=len(self._rejs))
                        return
                    await asyncio.sleep(delay)
                    delay = min(self.cfg.db_retry_max_s, delay * 2)
                    continue
                delay = 0.1
                self.metrics.flush_seconds.observe(time.perf_counter() - t0)
                self._settle(out.judgement.accepted, out.judgement.rejected, out.committed_at, started)
                self._release(set(out.judgement.states) | out.judgement.backfilled)  # parked before this flush
                self._parking.hold(out.judgement.parked, time.monotonic())
                if out.readmit:
                    await self._readmit(out.readmit)
        finally:
            if conn is not None:
                await conn.close()

    async def _idle(self, next_sweep: float) -> None:
        """Nothing to flush: wait for the intake's wake-up, at most until the next sweep."""
        self._wake.clear()
        with contextlib.suppress(TimeoutError):
            until = min(next_sweep, self._parking.next_due() or next_sweep)  # or a parked reading's time
            await asyncio.wait_for(self._wake.wait(), max(0.0, until - time.monotonic()))

    def _release(self, meters: set[str] | None, *, closing: bool = False) -> None:
        """Parked readings to judge again, first: those of ``meters`` (None: all, another gateway
        committed) and those whose time is up; ``closing``: every one, none parked again."""
        back = self._parking.close() if closing else self._parking.release(meters, time.monotonic())
        self._cands[:0] = back
        self.metrics.parked.set(len(self._parking))
        if back:
            self._wake.set()

    async def _next_batch(self) -> tuple[list[Candidate[Msg]], list[Rejection[Msg]]]:
        """Take up to one batch (after lingering for a fuller one) and every pending rejection."""
        if len(self._cands) < self.cfg.batch_size and self.cfg.linger_ms and not self._stopping.is_set():
            await asyncio.sleep(self.cfg.linger_ms / 1000)
        cands, rejs = self._cands[: self.cfg.batch_size], self._rejs
        self._cands, self._rejs = self._cands[self.cfg.batch_size :], []
        return cands, rejs

    async def _put_back(
        self,
        exc: psycopg.Error,
        conn: psycopg.AsyncConnection | None,
        cands: list[Candidate[Msg]],
        rejs: list[Rejection[Msg]],
        delay: float,
    ) -> None:
        """Nothing was committed: put everything back for a retry, acknowledging nothing."""
        self._cands, self._rejs = cands + self._cands, rejs + self._rejs
        self.metrics.db_errors.inc()
        log.warning("db_unavailable", error=str(exc).strip()[:200], retry_in_s=delay)
        if conn is not None:
            await conn.close()

    async def _commit(
        self, conn: psycopg.AsyncConnection, cands: list[Candidate[Msg]], rejs: list[Rejection[Msg]]
    ) -> FlushOutcome[Msg]:
        """One transaction; when the database refuses something in it (not an outage),
        retrying the same batch would loop forever, so the offender is isolated instead."""
        policy = self.cfg.policy
        try:
            return await flush(conn, cands, rejs, policy=policy, budget=self._budget, parking=self._parking)
        except Exception as exc:
            if isinstance(exc, psycopg.Error) and is_outage(exc, conn):
                raise
            log.error("db_refused_batch", error=f"{type(exc).__name__}: {exc}"[:300])
        return await flush_one_by_one(conn, cands, rejs, policy=policy, budget=self._budget)

    async def _sweep(self, conn: psycopg.AsyncConnection | None) -> psycopg.AsyncConnection | None:
        """Holes that outlived the gap grace: their held readings are judged again with the
        hole skipped (recorded in chain_holes), so a lost reading never strands its meter."""
        try:
            if conn is None or conn.closed:
                conn = await aconnect(self.cfg.dsn, app=f"gridx-gateway-{self.cfg.client_id}")
            rows = await due_holes(conn, self.cfg.gap_grace_s)
        except psycopg.Error as exc:
            log.warning("gap_sweep_failed", error=str(exc).strip()[:200])
            return None if conn is None or conn.broken or conn.closed else conn
        if rows:
            await self._readmit(rows, skip_hole=True)
        if time.monotonic() >= self._next_prune:
            self._next_prune = time.monotonic() + 3600.0
            with contextlib.suppress(psycopg.Error):
                pruned = await prune_quarantine(conn, self.cfg.quarantine_retention_days)
                if pruned:
                    log.info("quarantine_pruned", rows=pruned)
        if time.monotonic() >= self._next_stall_check:
            self._next_stall_check = time.monotonic() + 10.0
            with contextlib.suppress(psycopg.Error):
                stalled = await stalled_meters(conn)
                self.metrics.stalled.clear()
                for meter_id, age in stalled:
                    self.metrics.stalled.labels(meter_id).set(age)
        return conn

    def _settle(
        self,
        accepted: list[Candidate[Any]],
        rejected: list[Rejection[Any]],
        committed_at: float,
        flush_started: float = 0.0,
    ) -> None:
        # re-admitted quarantine rows belong to no MQTT message: nothing to acknowledge, and a
        # renewed rejection was counted the first time
        for qid in [c.quarantine_id for c in accepted] + [q.quarantine_id for q in rejected]:
            if qid is not None:
                self._readmitting.discard(qid)
        rejected = [q for q in rejected if q.quarantine_id is None]
        for q in rejected:
            self.rejected[q.reason] += 1
            self.metrics.rejected.labels(q.reason.value).inc()
        done = count_down(accepted, rejected)
        self.accepted += len(accepted)
        self.metrics.accepted.inc(len(accepted))
        if accepted:
            self.metrics.batch_size.observe(len(accepted))
        for m in done:
            self._ack(m)
            if m.accepted:
                self.metrics.observe_latency(m, committed_at, flush_started, self._latency_fh)

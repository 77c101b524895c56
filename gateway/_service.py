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
import ssl
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import paho.mqtt.client as mqtt
import psycopg
import structlog
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from gateway._checks import RegistryEntry, check_authority, parse_item, parse_message, topic_edge
from gateway._config import GatewayConfig
from gateway._judge import Candidate, Rejection
from gateway._metrics import Metrics
from gateway._registry import Registry
from gateway._store import flush, flush_one_by_one
from gateway._verify import verify_chunk
from gridx.db import aconnect
from gridx.errors import ReadingRejected, Reason
from gridx.wire import Reading

__all__ = ["Gateway"]

log = structlog.get_logger("gateway")
READINGS_FILTER = "gridtokenx/edge/+/readings"


@dataclass(eq=False, slots=True)
class _Msg:
    mid: int
    generation: int
    topic: str
    payload: bytes
    outstanding: int = 0
    accepted: int = 0
    sent_at_ms: int = 0


class Gateway:
    """``await Gateway(cfg).run(stop_event)``; or ``start()`` / ``stop()`` from a test."""

    def __init__(self, cfg: GatewayConfig) -> None:
        self.cfg = cfg
        self.metrics = Metrics()
        self.metrics_port: int | None = None
        self.accepted = 0
        self.rejected: dict[Reason, int] = dict.fromkeys(Reason, 0)
        self._queue: asyncio.Queue[_Msg] = asyncio.Queue()
        self._cands: list[Candidate[_Msg]] = []
        self._rejs: list[Rejection[_Msg]] = []
        self._parked: list[Candidate[_Msg]] = []
        self._wake = asyncio.Event()
        self._stopping = asyncio.Event()
        self._connected = threading.Event()
        self._subscribed = threading.Event()
        self._subacks: set[int] = set()  # SUBACKed mids (set.add is atomic under the GIL)
        self._gen_lock = threading.Lock()
        self._generation = 0
        self._loop: asyncio.AbstractEventLoop | None = None
        self._pool = ThreadPoolExecutor(cfg.verify_threads, thread_name_prefix="verify")
        self._registry = Registry(cfg.dsn, cfg.registry_ttl_s, on_progress=self._on_progress)
        self._client = self._make_client()
        self._latency_fh = cfg.latency_log.open("a", buffering=1) if cfg.latency_log else None

    # -- MQTT (paho network thread) -------------------------------------------------------
    def _make_client(self) -> mqtt.Client:
        cfg = self.cfg
        c = mqtt.Client(
            mqtt.CallbackAPIVersion.VERSION2, client_id=cfg.client_id, protocol=mqtt.MQTTv5, manual_ack=True
        )
        c.username_pw_set(cfg.mqtt_username, cfg.mqtt_password.get_secret_value())
        c.tls_set(ca_certs=str(cfg.mqtt_ca_file) if cfg.mqtt_ca_file else None, tls_version=ssl.PROTOCOL_TLS_CLIENT)
        c.reconnect_delay_set(1, 2)
        c.on_connect = self._on_connect
        c.on_disconnect = self._on_disconnect
        c.on_message = self._on_message
        c.on_subscribe = self._on_subscribe
        return c

    def _on_connect(self, c: mqtt.Client, _u: Any, _f: Any, rc: Any, _p: Any) -> None:
        if rc.is_failure:
            log.error("mqtt_connect_refused", reason=str(rc))
            return
        with self._gen_lock:
            self._generation += 1
        self._connected.set()
        c.subscribe(f"$share/{self.cfg.share_group}/{READINGS_FILTER}", qos=1)
        log.info("mqtt_connected", client_id=self.cfg.client_id, generation=self._generation)

    def _on_subscribe(self, _c: mqtt.Client, _u: Any, mid: int, rcs: list[Any], _p: Any) -> None:
        self._subacks.add(mid)
        if all(not rc.is_failure for rc in rcs):
            self._subscribed.set()
            self.metrics.subscribed.set(1)
        else:
            log.error("mqtt_subscribe_refused", reasons=[str(rc) for rc in rcs])

    def _on_disconnect(self, _c: mqtt.Client, _u: Any, _f: Any, rc: Any, _p: Any) -> None:
        self._connected.clear()
        self._subscribed.clear()
        self.metrics.subscribed.set(0)
        log.warning("mqtt_disconnected", reason=str(rc))

    def _on_message(self, _c: mqtt.Client, _u: Any, msg: mqtt.MQTTMessage) -> None:
        item = _Msg(msg.mid, self._generation, msg.topic, bytes(msg.payload))
        assert self._loop is not None
        self._loop.call_soon_threadsafe(self._queue.put_nowait, item)

    def _ack(self, m: _Msg) -> None:
        # a message received before a reconnect is redelivered by the broker on the new
        # connection; acknowledging the stale packet id could hit another message
        with self._gen_lock:
            if m.generation == self._generation:
                self._client.ack(m.mid, 1)
                self.metrics.messages.inc()

    # -- lifecycle --------------------------------------------------------------------------
    async def run(self, stop: asyncio.Event | None = None) -> None:
        """Serve until ``stop`` is set (or :meth:`stop` is called), then flush and leave."""
        self._loop = asyncio.get_running_loop()
        server = None
        if self.cfg.metrics_port is not None:
            server = self.metrics.serve(self.cfg.metrics_host, self.cfg.metrics_port)
            self.metrics_port = int(server.server_port)
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
            self._client.disconnect()
            await asyncio.get_running_loop().run_in_executor(None, self._wait_disconnected, 10.0)
            self._client.loop_stop()
            await self._registry.close()
            self._pool.shutdown(wait=False, cancel_futures=True)
            if server is not None:
                server.shutdown()
            if self._latency_fh is not None:
                self._latency_fh.close()
            log.info("gateway_stopped", accepted=self.accepted)

    def _on_progress(self) -> None:
        if self._parked:
            self._wake.set()

    def _sync_acks(self, timeout: float) -> None:
        """Make sure the broker has *processed* our PUBACKs before we close the socket.

        Closing a TCP socket that still holds unread incoming data sends a RST, and a RST can
        make the broker drop what it had received but not yet read, PUBACKs included (seen
        in tests: committed readings redelivered). The broker handles a connection's packets
        in order, so once it answers a SUBSCRIBE sent after the PUBACKs, they are applied.
        Re-subscribing the same filter is idempotent."""
        if not self._connected.is_set():
            return
        rc, mid = self._client.subscribe(f"$share/{self.cfg.share_group}/{READINGS_FILTER}", qos=1)
        if rc != mqtt.MQTT_ERR_SUCCESS or mid is None:
            return
        deadline = time.monotonic() + timeout
        while mid not in self._subacks and time.monotonic() < deadline:
            time.sleep(0.01)

    def _wait_disconnected(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while self._connected.is_set() and time.monotonic() < deadline:
            time.sleep(0.01)

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
            await self._take_in(msgs)
            # no queue limit here: the broker sends at most receive_max unacknowledged messages
            self._wake.set()

    async def _take_in(self, msgs: list[_Msg]) -> None:
        # results are handed to the flusher only at the end, with no await after: a shutdown
        # that cancels this half-way leaves no message half taken in (it is simply redelivered)
        rejs: list[Rejection[_Msg]] = []
        cands: list[Candidate[_Msg]] = []
        readings: list[tuple[_Msg, Reading]] = []
        for m in msgs:
            try:
                edge = topic_edge(m.topic)
                batch = parse_message(m.payload, edge)
            except ReadingRejected as exc:
                m.outstanding = 1
                rejs.append(Rejection(m, exc.reason, exc.detail, _edge_of(m.topic), _text(m.payload)))
                continue
            m.sent_at_ms = batch.sent_at_ms
            m.outstanding = len(batch.readings)
            for item in batch.readings:
                try:
                    readings.append((m, parse_item(item)))
                except ReadingRejected as exc:
                    meter = item.get("meter_id") if isinstance(item, dict) else None
                    rejs.append(
                        Rejection(
                            m, exc.reason, exc.detail, edge, _json(item), meter if isinstance(meter, str) else None
                        )
                    )
        checked: list[tuple[_Msg, Reading, RegistryEntry]] = []
        if readings:
            entries = await self._lookup({r.meter_id for _, r in readings})
            for m, r in readings:
                try:
                    checked.append((m, r, check_authority(r, _edge_of(m.topic), entries.get(r.meter_id))))
                except ReadingRejected as exc:
                    rejs.append(_reading_rejection(m, r, exc))
        if checked:
            n = -(-len(checked) // self.cfg.verify_threads)
            loop = asyncio.get_running_loop()
            chunks = [checked[i : i + n] for i in range(0, len(checked), n)]
            results = await asyncio.gather(*(loop.run_in_executor(self._pool, verify_chunk, ch) for ch in chunks))
            now = time.monotonic()
            for chunk, hashes in zip(chunks, results, strict=True):
                for (m, r, entry), h in zip(chunk, hashes, strict=True):
                    if h is None:
                        bad = ReadingRejected(Reason.BAD_SIGNATURE, "signature does not verify with the enrolled key")
                        rejs.append(_reading_rejection(m, r, bad))
                    else:
                        cands.append(Candidate(m, r, entry, h, now, m.sent_at_ms))
        self._rejs += rejs
        self._cands += cands
        for m in msgs:
            if m.outstanding == 0:  # an empty batch: nothing to store
                self._ack(m)

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
        linger = self.cfg.linger_ms / 1000
        try:
            while True:
                if not (self._cands or self._rejs):
                    if self._stopping.is_set():
                        return
                    self._wake.clear()
                    # parked readings are retried a few times a second, whatever arrives
                    timeout = 0.25 if self._parked else None
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(self._wake.wait(), timeout)
                    if not (self._cands or self._rejs or self._parked):
                        continue
                if len(self._cands) < self.cfg.batch_size and linger and not self._stopping.is_set():
                    await asyncio.sleep(linger)
                cands = self._parked + self._cands[: self.cfg.batch_size]
                rejs = self._rejs
                self._parked, self._cands, self._rejs = [], self._cands[self.cfg.batch_size :], []
                try:
                    if conn is None or conn.closed:
                        conn = await aconnect(self.cfg.dsn, app=f"gridx-gateway-{self.cfg.client_id}")
                    t0 = time.perf_counter()
                    try:
                        out = await flush(conn, cands, rejs, policy=self.cfg.policy, grace_s=self.cfg.gap_grace_s)
                    except psycopg.OperationalError:
                        raise
                    except psycopg.Error as exc:
                        # the database refused something (not an outage): retrying the same
                        # batch would loop forever, so isolate the offender instead
                        log.error("db_refused_batch", error=str(exc).strip()[:300])
                        out = await flush_one_by_one(
                            conn, cands, rejs, policy=self.cfg.policy, grace_s=self.cfg.gap_grace_s
                        )
                except psycopg.OperationalError as exc:
                    # nothing was committed: put everything back and retry, acknowledging nothing
                    self._parked, self._cands, self._rejs = [], cands + self._cands, rejs + self._rejs
                    self.metrics.db_errors.inc()
                    log.warning("db_unavailable", error=str(exc).strip()[:200], retry_in_s=delay)
                    if conn is not None:
                        await conn.close()
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
                self._settle(out.judgement.accepted, out.judgement.rejected, out.committed_at)
                self._parked = out.judgement.parked
                self.metrics.parked.set(len(self._parked))
        finally:
            if conn is not None:
                await conn.close()

    def _settle(self, accepted: list[Candidate[Any]], rejected: list[Rejection[Any]], committed_at: float) -> None:
        done: list[_Msg] = []
        for c in accepted:
            m: _Msg = c.ref
            m.accepted += 1
            m.outstanding -= 1
            if m.outstanding == 0:
                done.append(m)
        for q in rejected:
            m = q.ref
            m.outstanding -= 1
            self.rejected[q.reason] += 1
            self.metrics.rejected.labels(q.reason.value).inc()
            if m.outstanding == 0:
                done.append(m)
        self.accepted += len(accepted)
        self.metrics.accepted.inc(len(accepted))
        if accepted:
            self.metrics.batch_size.observe(len(accepted))
        for m in done:
            self._ack(m)
            if m.accepted:
                self.metrics.latency.observe(max(0.0, committed_at - m.sent_at_ms / 1000))
                if self._latency_fh is not None:
                    self._latency_fh.write(f"{m.sent_at_ms} {int(committed_at * 1000)} {m.accepted}\n")


def _reading_rejection(m: _Msg, r: Reading, exc: ReadingRejected) -> Rejection[_Msg]:
    return Rejection(m, exc.reason, exc.detail, _edge_of(m.topic), r.model_dump_json(), r.meter_id, r.seq)


def _edge_of(topic: str) -> str:
    parts = topic.split("/")
    return parts[2] if len(parts) == 4 else topic[:64]


def _text(payload: bytes) -> str:
    return payload.decode("utf-8", errors="replace")


def _json(item: object) -> str:
    import json

    try:
        return json.dumps(item, default=str)
    except (TypeError, ValueError):
        return repr(item)

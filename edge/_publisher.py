"""Outbox → MQTT v5 publisher (paho-mqtt, threaded network loop, QoS 1, TLS).

paho rather than aiomqtt: aiomqtt 2.5 completes ``publish`` on any PUBACK and drops its
reason code, so a broker refusal (135, not authorised) would look like success and the rows
would be deleted. Here a row leaves the outbox only on a successful PUBACK.

Order and redelivery: batches are cut from the outbox in id order. While connected paho
keeps unacknowledged QoS 1 messages and resends them (DUP) after a reconnect, so the
mid → row-range map stays valid across broker restarts. After a process restart the cursor
starts at 0 and everything still in the outbox is sent again: at least once, identical bytes
per reading, first copies in seq order per meter. A refused batch is retried from its first
row after a backoff (capped at 60 s), so a misconfigured ACL delays data but never loses it.

Order across a refusal: batches after a refused one that were already in flight may be
delivered before its retry (seq 7 before seq 6). The typical refusal is PUBACK 0x10 while no
gateway session exists yet (or after a broker restart); the gateway session may appear in
the middle of a pipeline. So after every (re)connect and every refusal the publisher *probes*:
one batch in flight until one is delivered, and only then pipelines ``inflight_max``. Gateway
sessions are permanent, so once one batch is delivered a refusal in the pipeline needs an
operator (a gateway retired, an ACL change); the gateway tolerates the reorder then (a reading
that overtakes its predecessor waits for it), nothing is lost either way.
"""

from __future__ import annotations

import queue
import ssl
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import structlog

from edge._store import Outbox
from gridx.wire import MAX_BATCH_BYTES, Reading, encode_batch, readings_topic

__all__ = ["NO_MATCHING_SUBSCRIBERS", "Publisher", "PublisherConfig", "PublisherStats", "delivered"]

log = structlog.get_logger("edge.publisher")


@dataclass(frozen=True, slots=True)
class PublisherConfig:
    edge_id: str
    host: str
    port: int
    password: str
    ca_file: Path | None
    outbox_path: Path
    batch_max: int = 500
    inflight_max: int = 8


@dataclass
class PublisherStats:
    batches_acked: int = 0
    readings_acked: int = 0
    batches_refused: int = 0
    connects: int = 0
    disconnects: int = 0
    extra: dict[str, int] = field(default_factory=dict)


NO_MATCHING_SUBSCRIBERS = 0x10
_Inflight = dict[int, tuple[int, int, int]]  # mid -> (first row id, last row id, readings)


def delivered(reason_code: int) -> bool:
    """A PUBACK that lets the outbox forget the batch: success and somebody to hold it."""
    return reason_code < 0x80 and reason_code != NO_MATCHING_SUBSCRIBERS


def _within_bytes(rows: list[tuple[int, str]]) -> list[tuple[int, str]]:
    """Cut a batch so the encoded message stays under the gateway's size limit."""
    budget = MAX_BATCH_BYTES - 4096  # envelope and separators
    for i, (_, body) in enumerate(rows):
        budget -= len(body) + 1
        if budget < 0:
            return rows[: max(1, i)]
    return rows


class Publisher:
    def __init__(self, cfg: PublisherConfig) -> None:
        self.cfg = cfg
        self.stats = PublisherStats()
        self._acks: queue.Queue[tuple[int, bool, str]] = queue.Queue()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._connected = threading.Event()
        self._reprobe = threading.Event()  # a new connection: one batch in flight until delivered
        self._thread = threading.Thread(target=self._run, name="edge-publisher", daemon=True)
        self._client: Any = None

    # -- called from the agent -------------------------------------------------------
    def start(self) -> None:
        import paho.mqtt.client as mqtt

        c = mqtt.Client(
            mqtt.CallbackAPIVersion.VERSION2,
            client_id=f"edge-{self.cfg.edge_id}",
            protocol=mqtt.MQTTv5,
        )
        c.username_pw_set(self.cfg.edge_id, self.cfg.password)
        c.tls_set(ca_certs=str(self.cfg.ca_file) if self.cfg.ca_file else None, tls_version=ssl.PROTOCOL_TLS_CLIENT)
        c.max_inflight_messages_set(self.cfg.inflight_max)
        c.reconnect_delay_set(min_delay=1, max_delay=30)
        c.on_connect = self._on_connect
        c.on_disconnect = self._on_disconnect
        c.on_publish = self._on_publish
        self._client = c
        c.connect_async(self.cfg.host, self.cfg.port, keepalive=30)
        c.loop_start()
        self._thread.start()

    def notify(self) -> None:
        self._wake.set()

    def stop(self, drain_s: float = 0.0) -> None:
        deadline = time.monotonic() + drain_s
        while drain_s and time.monotonic() < deadline and self._pending() > 0:
            time.sleep(0.05)
        self._stop.set()
        self._wake.set()
        self._thread.join(10)
        if self._client is not None:
            self._client.disconnect()
            self._client.loop_stop()

    @property
    def alive(self) -> bool:
        return self._thread.is_alive()

    @property
    def connected(self) -> bool:
        return self._connected.is_set()

    def _pending(self) -> int:
        ob = Outbox(self.cfg.outbox_path)
        try:
            return ob.pending()
        finally:
            ob.close()

    # -- paho network thread -----------------------------------------------------------
    def _on_connect(self, _c: Any, _u: Any, _f: Any, rc: Any, _p: Any) -> None:
        if rc.is_failure:
            log.error("mqtt_connect_refused", reason=str(rc))
            return
        self.stats.connects += 1
        self._reprobe.set()
        self._connected.set()
        self._wake.set()
        log.info("mqtt_connected", host=self.cfg.host, port=self.cfg.port)

    def _on_disconnect(self, _c: Any, _u: Any, _f: Any, rc: Any, _p: Any) -> None:
        self._connected.clear()
        self.stats.disconnects += 1
        log.warning("mqtt_disconnected", reason=str(rc))

    def _on_publish(self, _c: Any, _u: Any, mid: int, rc: Any, _p: Any) -> None:
        # only hand over: the range for ``mid`` is recorded by the publisher thread, and
        # PUBACK may arrive before publish() has even returned there. "No matching
        # subscribers" (0x10) is a success code in MQTT, but it means no gateway session
        # holds the batch: the broker has discarded it, so it stays in the outbox
        self._acks.put((mid, delivered(rc.value), str(rc)))
        self._wake.set()

    # -- publisher thread ---------------------------------------------------------------
    def _run(self) -> None:
        outbox = Outbox(self.cfg.outbox_path)
        inflight: dict[int, tuple[int, int, int]] = {}  # mid -> (first id, last id, readings)
        early: dict[int, tuple[bool, str]] = {}
        cursor = 0
        retry_at = 0.0
        backoff = 1.0
        probing = True  # see the module docstring: order across a refusal
        topic = readings_topic(self.cfg.edge_id)
        try:
            while not self._stop.is_set():
                self._wake.wait(0.5)
                self._wake.clear()
                while True:
                    try:
                        mid, ok, reason = self._acks.get_nowait()
                    except queue.Empty:
                        break
                    early[mid] = (ok, reason)
                for mid in [m for m in early if m in inflight]:
                    ok, reason = early.pop(mid)
                    lo, hi, n = inflight.pop(mid)
                    probing = not ok
                    if ok:
                        outbox.delete_range(lo, hi)
                        self.stats.batches_acked += 1
                        self.stats.readings_acked += n
                        backoff = 1.0
                    else:
                        self.stats.batches_refused += 1
                        log.error("batch_refused", reason=reason, first_row=lo, last_row=hi, retry_in_s=backoff)
                        cursor = min(cursor, lo - 1)
                        retry_at = time.monotonic() + backoff
                        backoff = min(60.0, backoff * 2)
                if self._reprobe.is_set():
                    self._reprobe.clear()
                    probing = True
                if not self._connected.is_set() or time.monotonic() < retry_at:
                    continue
                cursor = self._send(outbox, inflight, cursor, 1 if probing else self.cfg.inflight_max, topic)
        except Exception:
            log.exception("publisher_crashed")
            raise
        finally:
            outbox.close()

    def _send(self, outbox: Outbox, inflight: _Inflight, cursor: int, limit: int, topic: str) -> int:
        """Publish batches after ``cursor`` until ``limit`` are in flight; the new cursor."""
        while len(inflight) < limit and not self._stop.is_set():
            rows = _within_bytes(outbox.fetch_after(cursor, self.cfg.batch_max))
            if not rows:
                break
            readings = [Reading.model_validate_json(body) for _, body in rows]
            payload = encode_batch(self.cfg.edge_id, readings, int(time.time() * 1000))
            info = self._client.publish(topic, payload, qos=1)
            # NO_CONN still queues the QoS 1 message inside paho; it goes out on reconnect
            inflight[info.mid] = (rows[0][0], rows[-1][0], len(rows))
            cursor = rows[-1][0]
            if not self._connected.is_set():
                break
        return cursor

"""The bench's edges: readings signed and encoded before the clock starts, then published
(paho QoS 1, TLS, one broker user per edge), paced, with the publish time stamped in place."""

from __future__ import annotations

import ssl
import threading
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from gateway._bench import BenchSpec

__all__ = ["INTERVAL", "EdgeJob", "publisher"]

INTERVAL = 60
_STAMP = 1_000_000_000_000  # 13 digits, replaced in place by the real publish time


@dataclass(frozen=True)
class EdgeJob:
    edge_id: str
    password: str
    meters: list[tuple[str, str]]  # (meter_id, signing key seed hex)


def _payloads(job: EdgeJob, per_meter: int, first_window: int, batch: int) -> list[bytes]:
    from nacl.signing import SigningKey

    from gridx.wire import GENESIS_HASH, UnsignedReading, encode_batch, reading_hash, sign_reading

    keys = [(mid, SigningKey(bytes.fromhex(seed))) for mid, seed in job.meters]
    prev = dict.fromkeys((mid for mid, _ in keys), GENESIS_HASH)
    readings = []
    for k in range(per_meter):  # window-major, as an edge sends them
        ws = first_window + k * INTERVAL
        for mid, key in keys:
            u = UnsignedReading(
                meter_id=mid,
                seq=k + 1,
                window_start=ws,
                window_end=ws + INTERVAL,
                produced_wh=40 + (k % 7),
                consumed_wh=25 + (k % 5) * 5,
                produced_total_wh=sum(40 + (j % 7) for j in range(k + 1)),
                consumed_total_wh=sum(25 + (j % 5) * 5 for j in range(k + 1)),
                prev_hash=prev[mid],
            )
            prev[mid] = reading_hash(u)
            readings.append(sign_reading(u, key))
    return [encode_batch(job.edge_id, readings[i : i + batch], _STAMP) for i in range(0, len(readings), batch)]


def publisher(
    jobs: list[EdgeJob], port: int, ca: str, spec: BenchSpec, per_meter: int, first_window: int,
    ready: Any, go: Any, results: Any,
) -> None:  # fmt: skip
    import paho.mqtt.client as mqtt

    from gridx.wire import readings_topic

    per_edge = {j.edge_id: _payloads(j, per_meter, first_window, spec.batch) for j in jobs}
    acked = threading.Semaphore(0)
    clients = {}
    for j in jobs:
        c = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"bench-{j.edge_id}", protocol=mqtt.MQTTv5)
        c.username_pw_set(j.edge_id, j.password)
        c.tls_set(ca_certs=ca, tls_version=ssl.PROTOCOL_TLS_CLIENT)
        c.max_inflight_messages_set(1000)
        c.max_queued_messages_set(0)
        c.on_publish = lambda *_a: acked.release()
        c.connect("127.0.0.1", port)
        c.loop_start()
        clients[j.edge_id] = c
    # interleave edges so every edge streams at once, in chain order within each edge
    order: list[tuple[str, bytes]] = []
    for i in range(max(len(p) for p in per_edge.values())):
        order += [(e, p[i]) for e, p in per_edge.items() if i < len(p)]
    readings = sum(p.count(b'"sig"') for _, p in order)
    ready.set()
    go.wait()
    gap = spec.batch / (spec.rate / spec.publishers) if spec.rate else 0.0
    t0 = time.monotonic()
    for n, (edge, payload) in enumerate(order):
        if gap:
            delay = t0 + n * gap - time.monotonic()
            if delay > 0:
                time.sleep(delay)
        stamp = str(int(time.time() * 1000)).encode()
        clients[edge].publish(readings_topic(edge), payload.replace(b"1000000000000", stamp, 1), qos=1)
    for _ in order:
        acked.acquire()
    done = time.monotonic()
    for c in clients.values():
        c.disconnect()
        c.loop_stop()
    results.put({"messages": len(order), "readings": readings, "publish_s": done - t0})

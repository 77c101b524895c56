"""Helpers for the gateway tests: enrolled meters with real keys, signed reading chains,
an edge publisher (paho, QoS 1), and a gateway run in a thread or as a process."""

from __future__ import annotations

import asyncio
import os
import signal
import ssl
import subprocess
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
import psycopg
from nacl.signing import SigningKey
from solders.keypair import Keypair

from gateway import Gateway, GatewayConfig
from gridx.db import enroll_meter, migrate
from gridx.paths import ROOT
from gridx.services import MosquittoBroker, gridx_command
from gridx.wire import GENESIS_HASH, Reading, UnsignedReading, encode_batch, reading_hash, readings_topic, sign_reading

INTERVAL = 60


def wait_until(cond: Callable[[], bool], timeout: float, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cond():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


def scalar(dsn: str, sql: str, *args: Any) -> Any:
    with psycopg.connect(dsn) as c:
        row = c.execute(sql, args).fetchone()
        return row[0] if row else None


def wallet() -> str:
    return str(Keypair().pubkey())


@dataclass
class Meter:
    """A meter's key and its hash chain, producing signed readings one window at a time."""

    meter_id: str
    edge_id: str
    rated_power_w: int = 5000
    key: SigningKey = field(default_factory=SigningKey.generate)
    owner: str = field(default_factory=wallet)
    seq: int = 0
    last_hash: str = GENESIS_HASH
    produced_total: int = 0
    consumed_total: int = 0
    window_end: int = field(default_factory=lambda: (int(time.time()) // INTERVAL - 120) * INTERVAL)

    @property
    def pubkey_hex(self) -> str:
        return self.key.verify_key.encode().hex()

    def enroll(self, dsn: str) -> Meter:
        with psycopg.connect(dsn) as conn:
            enroll_meter(
                conn,
                meter_id=self.meter_id,
                pubkey_hex=self.pubkey_hex,
                owner_wallet=self.owner,
                edge_id=self.edge_id,
                rated_power_w=self.rated_power_w,
                interval_s=INTERVAL,
            )
            # enrolled when its first window started: the gateway credits nothing earlier
            conn.execute(
                "UPDATE meters SET created_at = to_timestamp(%s) WHERE meter_id = %s", (self.window_end, self.meter_id)
            )
        return self

    def unsigned(self, produced: int = 50, consumed: int = 20, **overrides: Any) -> UnsignedReading:
        fields: dict[str, Any] = dict(
            meter_id=self.meter_id,
            seq=self.seq + 1,
            window_start=self.window_end,
            window_end=self.window_end + INTERVAL,
            produced_wh=produced,
            consumed_wh=consumed,
            produced_total_wh=self.produced_total + produced,
            consumed_total_wh=self.consumed_total + consumed,
            prev_hash=self.last_hash,
        )
        fields.update(overrides)
        return UnsignedReading(**fields)

    def sign(self, u: UnsignedReading, key: SigningKey | None = None) -> Reading:
        return sign_reading(u, key or self.key)

    def advance(self, r: UnsignedReading) -> None:
        """Treat ``r`` as accepted: the next reading chains on it."""
        self.seq, self.last_hash, self.window_end = r.seq, reading_hash(r), r.window_end
        self.produced_total, self.consumed_total = r.produced_total_wh, r.consumed_total_wh

    def next(self, produced: int = 50, consumed: int = 20) -> Reading:
        r = self.sign(self.unsigned(produced, consumed))
        self.advance(r)
        return r


def setup_db(dsn: str) -> None:
    migrate(dsn)


def stream(pub: Publisher, meters: list[Meter], rounds: int) -> set[tuple[str, int]]:
    """``rounds`` messages, each with the next reading of every meter; returns (meter, seq) sent."""
    sent: set[tuple[str, int]] = set()
    for _ in range(rounds):
        batch = [m.next() for m in meters]
        pub.publish(batch)
        sent.update((r.meter_id, r.seq) for r in batch)
    return sent


def stored(dsn: str) -> list[tuple[str, int]]:
    with psycopg.connect(dsn) as c:
        return [(m, s) for m, s in c.execute("SELECT meter_id, seq FROM readings")]


def assert_exactly_once(dsn: str, sent: set[tuple[str, int]]) -> None:
    rows = stored(dsn)
    assert len(rows) == len(set(rows)), "a reading was stored twice"
    assert set(rows) == sent, f"lost {len(sent - set(rows))}, unexpected {len(set(rows) - sent)}"
    with psycopg.connect(dsn) as c:
        outbox = c.execute("SELECT count(*), count(DISTINCT (meter_id, window_start)) FROM mint_outbox").fetchone()
        surplus = c.execute("SELECT count(*) FROM readings WHERE surplus_wh > 0").fetchone()
    assert outbox is not None and surplus is not None and outbox[0] == outbox[1] == surplus[0]


class Publisher:
    """An edge: publishes batches QoS 1 and waits for PUBACKs (persistent session)."""

    def __init__(self, broker: MosquittoBroker, edge_id: str) -> None:
        self.edge_id = edge_id
        password = broker.add_user(edge_id)
        c = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"edge-{edge_id}", protocol=mqtt.MQTTv5)
        c.username_pw_set(edge_id, password)
        c.tls_set(ca_certs=str(broker.ca_file), tls_version=ssl.PROTOCOL_TLS_CLIENT)
        c.reconnect_delay_set(1, 2)
        self.acked: set[int] = set()
        self.pending: set[int] = set()
        self._lock = threading.Lock()
        c.on_publish = self._on_publish
        self.client = c
        from paho.mqtt.packettypes import PacketTypes
        from paho.mqtt.properties import Properties

        props = Properties(PacketTypes.CONNECT)
        props.SessionExpiryInterval = 3600
        c.connect("127.0.0.1", broker.port, clean_start=False, properties=props)
        c.loop_start()

    def _on_publish(self, _c: Any, _u: Any, mid: int, rc: Any, _p: Any) -> None:
        with self._lock:
            self.acked.add(mid)

    def publish_raw(self, payload: bytes, topic: str | None = None) -> int:
        info = self.client.publish(topic or readings_topic(self.edge_id), payload, qos=1)
        with self._lock:
            self.pending.add(info.mid)
        return info.mid

    def publish(self, readings: list[Reading] | list[Any]) -> int:
        return self.publish_raw(encode_batch(self.edge_id, readings, int(time.time() * 1000)))

    def all_acked(self) -> bool:
        with self._lock:
            return self.pending <= self.acked

    def close(self) -> None:
        wait_until(self.all_acked, 30, "PUBACK for every published batch")
        self.client.disconnect()
        self.client.loop_stop()


def gateway_config(broker: MosquittoBroker, dsn: str, **kw: Any) -> GatewayConfig:
    """Each gateway its own broker user (the broker binds sessions to users): ``gateway``, or
    ``gateway-<client_id>`` when a client id is given."""
    user = kw.pop("mqtt_username", None) or (f"gateway-{kw['client_id']}" if "client_id" in kw else "gateway")
    base: dict[str, Any] = dict(
        dsn=dsn,
        mqtt_port=broker.port,
        mqtt_ca_file=broker.ca_file,
        mqtt_username=user,
        mqtt_password=broker.add_user(user),
        metrics_port=0,
        linger_ms=20,
        gap_grace_s=2.0,
    )
    base.update(kw)
    return GatewayConfig(**base)


class GatewayThread:
    """The gateway in-process, on its own event loop in a thread."""

    def __init__(self, cfg: GatewayConfig) -> None:
        self.gw = Gateway(cfg)
        self._thread = threading.Thread(target=self._main, daemon=True)
        self._loop: asyncio.AbstractEventLoop | None = None
        self.error: BaseException | None = None

    def _main(self) -> None:
        async def run() -> None:
            self._loop = asyncio.get_running_loop()
            await self.gw.run()

        try:
            asyncio.run(run())
        except BaseException as exc:
            self.error = exc

    def start(self) -> GatewayThread:
        self._thread.start()
        wait_until(lambda: self.gw.subscribed or self.error is not None, 20, "gateway subscribed")
        assert self.error is None, self.error
        return self

    def stop(self) -> None:
        if self._loop is not None:
            self._loop.call_soon_threadsafe(self.gw.stop)
        self._thread.join(30)
        assert not self._thread.is_alive(), "gateway did not stop"
        if self.error is not None:
            raise self.error


class GatewayProcess:
    """``gridx gateway run`` as a child process, configured through GRIDX_GATEWAY_*."""

    def __init__(self, cfg: GatewayConfig, log: Path) -> None:
        self.cfg = cfg
        self.log = log
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> GatewayProcess:
        env = dict(os.environ)
        for name, value in self.cfg.model_dump().items():
            if value is None:
                continue
            if hasattr(value, "get_secret_value"):
                value = value.get_secret_value()
            env[f"GRIDX_GATEWAY_{name.upper()}"] = str(value)
        with self.log.open("ab") as fh:
            self.proc = subprocess.Popen(
                gridx_command("gateway", "run"),
                env=env,
                stdout=fh,
                stderr=subprocess.STDOUT,
                cwd=ROOT,
            )
        return self

    def metrics(self) -> str:
        import urllib.request

        url = f"http://{self.cfg.metrics_host}:{self.cfg.metrics_port}/metrics"
        with urllib.request.urlopen(url, timeout=2) as resp:
            return resp.read().decode()

    def wait_subscribed(self, timeout: float = 30) -> GatewayProcess:
        def ok() -> bool:
            assert self.proc is not None and self.proc.poll() is None, self.log.read_text()[-2000:]
            try:
                return "gridx_gateway_subscribed 1.0" in self.metrics()
            except OSError:
                return False

        wait_until(ok, timeout, "gateway process subscribed")
        return self

    def kill(self) -> None:
        assert self.proc is not None
        self.proc.kill()
        self.proc.wait(10)

    def terminate(self) -> int:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(30)

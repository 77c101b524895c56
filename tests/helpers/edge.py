"""Helpers for the producer-side tests: a gateway-side subscriber and edge provisioning."""

from __future__ import annotations

import json
import random
import socket
import ssl
import threading
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
from nacl.signing import VerifyKey

from edge.config import MeterConfig, render_toml
from edge.keys import ensure_key
from firmware_sim.model import meter_id
from gridx.registers import address_of
from gridx.services import MosquittoBroker
from gridx.wire import Reading, decode_batch
from tests.helpers.gateway import wait_until

READINGS_FILTER = "gridtokenx/edge/+/readings"


def modbus_ports(n: int = 1) -> int:
    """First of ``n`` consecutive free ports below the ephemeral range. A port from the
    ephemeral range can be taken, while a simulator is down, by a client's own reconnect
    attempt (a loopback self-connect), and then the simulator cannot come back on it."""
    lo, _hi = (int(x) for x in Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split())
    start = random.randrange(10_000, max(10_001, lo - 1000 - n))
    for base in range(start, lo - n, 7):
        try:
            for p in range(base, base + n):
                with socket.socket() as s:
                    s.bind(("127.0.0.1", p))
        except OSError:
            continue
        return base
    raise AssertionError("no free port range below the ephemeral range")


class Collector:
    """Subscribes as a gateway user of its own (``gateway-<client_id>``: the broker binds
    sessions to users) with a persistent session (QoS 1) and keeps every reading."""

    def __init__(self, broker: MosquittoBroker, client_id: str = "test-gateway") -> None:
        self.broker = broker
        self.readings: list[Reading] = []
        self.topics: list[str] = []
        self.raw: list[tuple[str, bytes]] = []
        self.lock = threading.Lock()
        self.subscribed = threading.Event()
        c = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=client_id, protocol=mqtt.MQTTv5)
        user = f"gateway-{client_id}"
        c.username_pw_set(user, broker.add_user(user))
        c.tls_set(ca_certs=str(broker.ca_file), tls_version=ssl.PROTOCOL_TLS_CLIENT)
        c.reconnect_delay_set(0.2, 2)
        c.on_connect = self._on_connect
        c.on_message = self._on_message
        c.on_subscribe = lambda *_a: self.subscribed.set()
        self.client = c

    def _on_connect(self, c: mqtt.Client, _u: Any, _f: Any, rc: Any, _p: Any) -> None:
        if not rc.is_failure:
            c.subscribe(READINGS_FILTER, qos=1)

    def _on_message(self, _c: mqtt.Client, _u: Any, msg: mqtt.MQTTMessage) -> None:
        with self.lock:
            self.raw.append((msg.topic, msg.payload))
            self.topics.append(msg.topic)
            try:
                batch = decode_batch(msg.payload)
            except ValueError:
                return
            self.readings.extend(r for r in batch.readings if isinstance(r, Reading))

    def start(self) -> Collector:
        from paho.mqtt.packettypes import PacketTypes
        from paho.mqtt.properties import Properties

        props = Properties(PacketTypes.CONNECT)
        props.SessionExpiryInterval = 3600  # queued for us while the broker restarts
        self.client.connect("127.0.0.1", self.broker.port, clean_start=False, properties=props)
        self.client.loop_start()
        assert self.subscribed.wait(10), "gateway subscription not acknowledged"
        return self

    def stop(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()

    def snapshot(self) -> list[Reading]:
        with self.lock:
            return list(self.readings)

    def raw_messages(self) -> list[tuple[str, bytes]]:
        with self.lock:
            return list(self.raw)

    def count(self) -> int:
        with self.lock:
            return len(self.readings)


def provision_edge(
    workdir: Path,
    broker: MosquittoBroker,
    edge_id: str,
    count: int,
    modbus_port: int,
    **settings: object,
) -> tuple[Path, dict[str, VerifyKey]]:
    """Keys for sim meters 0..count-1, a broker user, and a TOML config; returns the config
    path and the enrolled public keys."""
    keys_dir = workdir / "keys"
    meters: list[MeterConfig] = []
    pubkeys: dict[str, VerifyKey] = {}
    for i in range(count):
        mid = meter_id(i)
        port, unit = address_of(i, modbus_port)
        meters.append(MeterConfig(meter_id=mid, host="127.0.0.1", port=port, unit=unit))
        pubkeys[mid] = VerifyKey(bytes.fromhex(ensure_key(keys_dir, mid)))
    pw = broker.add_user(edge_id)
    base: dict[str, object] = {
        "edge_id": edge_id,
        "keys_dir": str(keys_dir),
        "outbox_path": str(workdir / "outbox.sqlite"),
        "mqtt_host": "127.0.0.1",
        "mqtt_port": broker.port,
        "mqtt_ca_file": str(broker.ca_file),
        "mqtt_password": pw,
        "stats_file": str(workdir / "stats.json"),
        "stats_every_s": 0.5,
        **settings,
    }
    path = workdir / "edge.toml"
    path.write_text(render_toml(base, meters))
    return path, pubkeys


def read_stats(workdir: Path) -> dict[str, Any]:
    try:
        return dict(json.loads((workdir / "stats.json").read_text()))
    except (OSError, ValueError):
        return {}


class AgentThread:
    """The real agent on its own event loop in a thread (in-process tests)."""

    def __init__(self, config_path: Path) -> None:
        from edge.config import load_config

        self.cfg = load_config(config_path)
        self.result: Any = None
        self.error: BaseException | None = None
        self._loop: Any = None
        self._stop: Any = None
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        import asyncio

        from edge.agent import run_agent

        async def main() -> None:
            self._loop = asyncio.get_running_loop()
            self._stop = asyncio.Event()
            self.result = await run_agent(self.cfg, self._stop)

        try:
            asyncio.run(main())
        except BaseException as exc:
            self.error = exc

    def start(self) -> AgentThread:
        self._thread.start()
        wait_until(lambda: self._stop is not None or self.error is not None, 10, "agent start")
        return self

    def stop(self) -> Any:
        if self._loop is not None and self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(30)
        if self.error is not None:
            raise self.error
        return self.result

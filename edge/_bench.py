"""``gridx bench edge``: the real simulator (own process) → the real agent (own process) →
a real TLS mosquitto → a gateway-side subscriber in this process. Prints figures, and one JSON
object as the last line."""

from __future__ import annotations

import json
import os
import shutil
import socket
import ssl
import threading
import time
from pathlib import Path
from typing import Any

from gridx.errors import ServiceError
from gridx.services import LocalStack, cpu_seconds

__all__ = ["run_bench"]


def _ports_free(base: int, n: int) -> bool:
    for p in range(base, base + n):
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", p))
            except OSError:
                return False
    return True


def _free_port_range(n: int) -> int:
    # below the ephemeral range (32768+), where a client reconnecting to a down port can take it
    for base in range(21000, 32000, 97):
        if _ports_free(base, n):
            return base
    raise ServiceError(f"no {n} consecutive free ports")


def _rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def _stats(path: Path) -> dict[str, Any]:
    try:
        return dict(json.loads(path.read_text()))
    except (OSError, ValueError):
        return {}


def _wait(cond: Any, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cond():
            return
        time.sleep(0.1)
    raise ServiceError(f"bench: timed out waiting for {what}")


class _Counter:
    """Gateway-side subscriber that only counts readings (json, no validation: cheap)."""

    def __init__(self, port: int, ca: Path, password: str) -> None:
        import paho.mqtt.client as mqtt

        self.readings = 0
        self.lock = threading.Lock()
        c = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="bench-gateway", protocol=mqtt.MQTTv5)
        c.username_pw_set("gateway", password)
        c.tls_set(ca_certs=str(ca), tls_version=ssl.PROTOCOL_TLS_CLIENT)
        c.on_connect = lambda cl, _u, _f, _rc, _p: cl.subscribe("gridtokenx/edge/+/readings", qos=1)
        c.on_message = self._on_message
        c.connect("127.0.0.1", port)
        c.loop_start()
        self.client = c

    def _on_message(self, _c: Any, _u: Any, msg: Any) -> None:
        n = len(json.loads(msg.payload)["readings"])
        with self.lock:
            self.readings += n

    def count(self) -> int:
        with self.lock:
            return self.readings

    def stop(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


# the JSON's keys, in the order the bench has always printed them
_ORDER = (
    "meters", "seconds", "interval_s", "polls_per_s", "readings_per_s", "delivered_per_s", "missed_polls",
    "offline", "garbage", "rebaselines", "chaos", "rss_mb", "rss_start_mb", "agent_cpu_pct", "sim_cpu_pct",
    "cycle_ms_mean", "cycle_ms_max", "outbox_pending",
)  # fmt: skip


def _write_config(stack: LocalStack, meters: int, base: int, per_port: int, interval_s: int) -> Path:
    """Keys for sim meters 0..meters-1 and the agent's TOML config in the stack's work dir."""
    from edge.config import MeterConfig, render_toml
    from edge.keys import ensure_key
    from firmware_sim.model import meter_id
    from gridx.registers import address_of

    assert stack.mqtt is not None
    work, keys = stack.workdir, stack.workdir / "keys"
    mconf = []
    for i in range(meters):
        port, unit = address_of(i, base, per_port)
        mconf.append(MeterConfig(meter_id=meter_id(i), host="127.0.0.1", port=port, unit=unit))
        ensure_key(keys, meter_id(i))
    settings: dict[str, object] = {
        "edge_id": "bench-edge",
        "keys_dir": str(keys),
        "outbox_path": str(work / "outbox.sqlite"),
        "interval_s": interval_s,
        "mqtt_port": stack.mqtt.port,
        "mqtt_ca_file": str(stack.mqtt.ca_file),
        "mqtt_password": stack.passwords["bench-edge"],
        "stats_file": str(work / "stats.json"),
        "stats_every_s": 1.0,
    }
    cfg = work / "edge.toml"
    cfg.write_text(render_toml(settings, mconf))
    return cfg


def _measure(stack: LocalStack, counter: _Counter, seconds: float) -> dict[str, Any]:
    """Figures over ``seconds`` of steady state, from the agent's stats file and the counter."""
    agent, sim = dict(stack.children)["edge"], dict(stack.children)["sim"]
    stats_path = stack.workdir / "stats.json"
    s0, r0, cpu0, t0 = _stats(stats_path), counter.count(), cpu_seconds(agent.pid), time.monotonic()
    sim_cpu0 = cpu_seconds(sim.pid)
    rss_start = rss_max = _rss_mb(agent.pid)
    while time.monotonic() - t0 < seconds:
        time.sleep(0.5)
        stack.check_alive()
        rss_max = max(rss_max, _rss_mb(agent.pid))
    time.sleep(1.2)  # one more stats write covering the whole window
    s1, r1, cpu1, t1 = _stats(stats_path), counter.count(), cpu_seconds(agent.pid), time.monotonic()
    sim_cpu1 = cpu_seconds(sim.pid)
    span = s1["time"] - s0["time"]
    return {
        "seconds": round(span, 1),
        "polls_per_s": round((s1["polls_ok"] - s0["polls_ok"]) / span, 1),
        "readings_per_s": round((s1["readings"] - s0["readings"]) / span, 1),
        "delivered_per_s": round((r1 - r0) / (t1 - t0), 1),
        "missed_polls": s1["missed_polls"] - s0["missed_polls"],
        "offline": s1["offline"] - s0["offline"],
        "garbage": s1["garbage"] - s0["garbage"],
        "rebaselines": s1["rollback"] + s1["implausible"] - s0["rollback"] - s0["implausible"],
        "rss_mb": round(rss_max, 1),
        "rss_start_mb": round(rss_start, 1),
        "agent_cpu_pct": round(100 * (cpu1 - cpu0) / (t1 - t0), 1),
        "sim_cpu_pct": round(100 * (sim_cpu1 - sim_cpu0) / (t1 - t0), 1),
        "cycle_ms_mean": round((s1["cycle_ms_total"] - s0["cycle_ms_total"]) / max(1, s1["cycles"] - s0["cycles"]), 1),
        "cycle_ms_max": round(s1["cycle_ms_max"], 1),
        "outbox_pending": s1["outbox_pending"],
    }


def run_bench(meters: int, seconds: float, interval_s: int, chaos: float = 0.0) -> None:
    from gridx.paths import run_dir

    work = run_dir() / f"bench-edge-{os.getpid()}"
    per_port = 200
    base = _free_port_range((meters + per_port - 1) // per_port)
    stack = LocalStack(work, postgres=False, broker_users=("gateway", "bench-edge"))
    with stack:
        assert stack.mqtt is not None
        sim_args = ["--count", str(meters), "--port", str(base), "--per-port", str(per_port), "--chaos", str(chaos)]
        stack.spawn("sim", "sim", "meters", *sim_args)
        cfg = _write_config(stack, meters, base, per_port, interval_s)
        _wait(lambda: not _ports_free(base + (meters - 1) // per_port, 1), 60, "simulator ports")
        counter = _Counter(stack.mqtt.port, stack.mqtt.ca_file, stack.passwords["gateway"])
        try:
            stack.spawn("edge", "edge", "run", "--config", str(cfg))
            stats_path = work / "stats.json"
            # warm-up: connected, and a few full cycles behind us
            _wait(
                lambda: _stats(stats_path).get("cycles", 0) >= 3 and _stats(stats_path).get("mqtt_connected"),
                60,
                "agent",
            )
            figures = _measure(stack, counter, seconds)
        finally:
            counter.stop()
    extra = {"meters": meters, "interval_s": interval_s, "chaos": chaos, **figures}
    result = {k: extra[k] for k in _ORDER}
    print(f"bench edge: {meters} meters, {figures['seconds']:.0f} s, work dir {work}")
    print(json.dumps(result))
    # kept on failure for its logs; a finished run leaves nothing behind
    shutil.rmtree(work, ignore_errors=True)

"""``gridx bench mint``: signed readings → mosquitto → gateway → outbox → mint worker → local
chain, each service its own process, as in production. Readings are offered at a steady rate;
the figures come from the database's own timestamps (accepted → confirmed)."""

from __future__ import annotations

import asyncio
import os
import ssl
import subprocess
import time
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
from nacl.signing import SigningKey
from solana.rpc.async_api import AsyncClient
from solders.keypair import Keypair
from solders.pubkey import Pubkey

from gridx.chain import airdrop, authorize_edge, bootstrap, load_keypair, run_on_chain, sign_enrolment
from gridx.db import connect, migrate
from gridx.paths import ROOT, run_dir
from gridx.registry import enroll_on_chain, reconcile
from gridx.services import (
    MosquittoBroker,
    PostgresServer,
    cpu_seconds,
    free_port,
    gridx_command,
    stop_process,
    wait_for_port,
)
from gridx.wire import Reading, ReadingChain, encode_batch, readings_topic

__all__ = ["run_bench"]

EDGE = "bench-edge"
# The chain mints only windows after a meter's enrolment that have ended: bench meters have a
# 1-second interval, so the benchmark needs no clock tricks and waits only per_meter seconds.
INTERVAL = 1
RATED_W = 3_600_000  # 1,000 Wh per second at most


def _readings(keys: list[SigningKey], per_meter: int, start: int) -> list[list[Reading]]:
    """Per window, one reading per meter; 1-second windows from ``start``, all with surplus."""
    chains = [ReadingChain(key, f"bm-{i:05d}") for i, key in enumerate(keys)]
    return [
        [
            ch.next(start + w * INTERVAL, start + (w + 1) * INTERVAL, 500 + (i * 7 + w * 13) % 400, 100 + (i * 3) % 300)
            for i, ch in enumerate(chains)
        ]
        for w in range(per_meter)
    ]


async def _enroll_all(url: str, dsn: str, keys_dir: Path, meter_keys: list[SigningKey]) -> None:
    client = AsyncClient(url, timeout=60)
    authority = load_keypair(keys_dir / "registry_authority.json")
    sem = asyncio.Semaphore(32)
    await authorize_edge(client, EDGE, keys_dir)

    async def one(i: int, key: SigningKey) -> None:
        owner = Keypair()
        async with sem:
            await airdrop(client, owner.pubkey(), 10**9)
            with connect(dsn) as conn:
                await enroll_on_chain(
                    client,
                    conn,
                    owner=owner,
                    authority=authority,
                    meter_id=f"bm-{i:05d}",
                    meter_pubkey=Pubkey.from_bytes(key.verify_key.encode()),
                    edge_id=EDGE,
                    rated_power_w=RATED_W,
                    proof=sign_enrolment(key, owner.pubkey(), EDGE),
                    interval_s=INTERVAL,
                )

    try:
        await asyncio.gather(*(one(i, k) for i, k in enumerate(meter_keys)))
    finally:
        await client.close()


def _publish(broker: MosquittoBroker, password: str, batches: list[list[Reading]], rate: float, chunk: int) -> float:
    c = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="bench-mint-edge", protocol=mqtt.MQTTv5)
    c.username_pw_set(EDGE, password)
    c.tls_set(ca_certs=str(broker.ca_file), tls_version=ssl.PROTOCOL_TLS_CLIENT)
    c.connect("127.0.0.1", broker.port)
    c.loop_start()
    t0 = time.monotonic()
    sent = 0
    infos = []
    for batch in batches:
        for i in range(0, len(batch), chunk):
            part = batch[i : i + chunk]
            # pace: the offered load, not a burst, is what latency is measured under
            delay = t0 + sent / rate - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            infos.append(c.publish(readings_topic(EDGE), encode_batch(EDGE, part, int(time.time() * 1000)), qos=1))
            sent += len(part)
    for info in infos:
        info.wait_for_publish(60)
    elapsed = time.monotonic() - t0
    c.disconnect()
    c.loop_stop()
    return elapsed


def _gridx(args: list[str], env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("ab") as fh:
        return subprocess.Popen(
            gridx_command(*args),
            env={**os.environ, **env},
            stdout=fh,
            stderr=subprocess.STDOUT,
            cwd=ROOT,
        )


def _wait_log(path: Path, needle: str, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while needle not in (path.read_text(errors="replace") if path.exists() else ""):
        if time.monotonic() > deadline:
            raise TimeoutError(f"{needle!r} not in {path} after {timeout}s")
        time.sleep(0.1)


def _pct(values: list[float], q: float) -> float:
    if not values:
        return 0.0
    s = sorted(values)
    return s[min(len(s) - 1, int(q * len(s)))]


_STAGES = """
SELECT extract(epoch FROM claimed_at - created_at), extract(epoch FROM sent_at - claimed_at),
       extract(epoch FROM confirmed_at - sent_at), extract(epoch FROM confirmed_at - created_at)
  FROM mint_outbox WHERE status = 'confirmed' AND sent_at IS NOT NULL
"""


def _stages(conn: Any) -> dict[str, dict[str, float]]:
    """Where a reading's latency goes (ms): accepted -> claimed by the worker (its last claim),
    claimed -> its pass handed to the sender (packed, signed, noted), sent -> confirmed and
    recorded (including any wait for the previous pass to reach the node first). ``slowest_5pct_mean``: the
    mean of each stage over the readings at or above the p95 latency, i.e. what makes the p95."""
    rows = [tuple(float(x) for x in r) for r in conn.execute(_STAGES)]
    if not rows:
        return {}
    names = ("stored_claimed", "claimed_sent", "sent_confirmed")
    p95 = _pct([r[3] for r in rows], 0.95)
    slow = [r for r in rows if r[3] >= p95]
    out: dict[str, dict[str, float]] = {}
    for i, name in enumerate(names):
        col = [r[i] for r in rows]
        out[name] = {
            "p50": round(_pct(col, 0.50) * 1000, 1),
            "p95": round(_pct(col, 0.95) * 1000, 1),
            "slowest_5pct_mean": round(sum(r[i] for r in slow) / len(slow) * 1000, 1),
        }
    return out


def _latency(conn: Any) -> tuple[dict[str, Any], int]:
    """Throughput and latency from the database's own timestamps (accepted -> confirmed), the
    stages, and readings per transaction; with the number of confirmed rows."""
    lat = [
        float(r[0])
        for r in conn.execute(
            "SELECT extract(epoch FROM confirmed_at - created_at) FROM mint_outbox WHERE status = 'confirmed'"
        )
    ]
    span = conn.execute("SELECT extract(epoch FROM max(confirmed_at) - min(created_at)) FROM mint_outbox").fetchone()
    txs = conn.execute("SELECT count(DISTINCT tx_signature) FROM mint_outbox WHERE status = 'confirmed'").fetchone()
    seconds = float(span[0]) if span and span[0] else float("nan")
    return {
        "mints_per_s": round(len(lat) / seconds, 1) if seconds == seconds and seconds > 0 else 0.0,
        "p50_ms": round(_pct(lat, 0.50) * 1000, 1),
        "p95_ms": round(_pct(lat, 0.95) * 1000, 1),
        "stages_ms": _stages(conn),
        # at most 3 fit in 1,232 bytes (a bench reading is 121 bytes: 1, 2 and 3 readings make
        # 818, 1,022 and 1,225 bytes); fewer when a meter had no more windows due yet
        "readings_per_tx": round(len(lat) / int(txs[0]), 2) if txs and txs[0] else 0.0,
    }, len(lat)


def _wait_settled(dsn: str, total: int, deadline: float) -> None:
    """Until every outbox row is confirmed or refused (or the deadline: the figures say what is missing)."""
    # one connection: a new backend per poll would be billed to PostgreSQL's figure
    with connect(dsn, autocommit=True) as conn:
        while time.monotonic() < deadline:
            row = conn.execute("SELECT count(*) FROM mint_outbox WHERE status IN ('confirmed', 'refused')").fetchone()
            if (int(row[0]) if row else 0) >= total:
                return
            time.sleep(0.2)


def _tree_cpu(pid: int) -> float:
    """CPU seconds of a process and all its live descendants, with the children each has reaped
    (PostgreSQL's backends come and go; their CPU lands in the postmaster's cutime)."""
    tick = os.sysconf("SC_CLK_TCK")
    stats: dict[int, tuple[int, float]] = {}
    for d in Path("/proc").iterdir():
        if d.name.isdigit():
            try:
                f = (d / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            stats[int(d.name)] = (int(f[1]), sum(int(x) for x in f[11:15]) / tick)
    total, todo = 0.0, [pid]
    while todo:
        p = todo.pop()
        total += stats.get(p, (0, 0.0))[1]
        todo += [c for c, (ppid, _) in stats.items() if ppid == p]
    return total


def _cpu_now(procs: list[subprocess.Popen[bytes]], pg: PostgresServer, broker: MosquittoBroker) -> list[float]:
    return [cpu_seconds(p.pid) for p in procs] + [_tree_cpu(x.proc.pid) if x.proc else 0.0 for x in (pg, broker)]


def _cpu_figures(before: list[float], after: list[float], readings: int) -> dict[str, float]:
    """Load-independent: each service's CPU milliseconds per reading from the first publish to
    the last confirm (setup, i.e. bootstrap and enrolment, is not minting)."""
    names = ("node", "gateway", "mint", "postgres", "mosquitto")
    per = {n: round((a - b) * 1000 / readings, 3) for n, b, a in zip(names, before, after, strict=True)}
    return {**per, "total": round(sum(per.values()), 3)}


def run_bench(readings: int, meters: int, per_tx: int, rate: float = 1000.0) -> dict[str, Any]:
    meters = min(meters, readings)
    per_meter = max(1, readings // meters)
    base = run_dir() / f"bench-mint-{os.getpid()}"
    pg = PostgresServer(base / "pg").start()
    broker = MosquittoBroker(base / "mosquitto")
    gw_pw = broker.add_user("gateway")
    edge_pw = broker.add_user(EDGE)
    broker.start()
    port = free_port()
    procs: list[subprocess.Popen[bytes]] = []
    try:
        node = _gridx(["chain", "node", "--memory", "--port", str(port)], {}, base / "node.log")
        procs.append(node)
        wait_for_port(port, node, 30)
        url = f"http://127.0.0.1:{port}"
        migrate(pg.dsn)
        keys_dir = base / "keys"
        run_on_chain(url, lambda c: bootstrap(c, keys_dir))
        meter_keys = [SigningKey.generate() for _ in range(meters)]
        asyncio.run(_enroll_all(url, pg.dsn, keys_dir, meter_keys))
        start = int(time.time()) + 1  # after every enrolment (the chain refuses earlier windows)
        batches = _readings(meter_keys, per_meter, start)
        total = sum(len(b) for b in batches)
        expected = sum((r.produced_wh - r.consumed_wh) * 1000 for b in batches for r in b)
        procs.append(
            _gridx(
                ["gateway", "run"],
                {
                    "GRIDX_GATEWAY_DSN": pg.dsn,
                    "GRIDX_GATEWAY_MQTT_PORT": str(broker.port),
                    "GRIDX_GATEWAY_MQTT_CA_FILE": str(broker.ca_file),
                    "GRIDX_GATEWAY_MQTT_PASSWORD": gw_pw,
                    "GRIDX_GATEWAY_METRICS_PORT": "0",
                    "GRIDX_GATEWAY_LINGER_MS": "20",
                },
                base / "gateway.log",
            )
        )
        procs.append(
            _gridx(
                ["mint", "run"],
                {
                    "GRIDX_MINT_DSN": pg.dsn,
                    "GRIDX_MINT_RPC_URL": url,
                    "GRIDX_MINT_MINTER_KEYPAIR": str(keys_dir / "gateway_minter.json"),
                    "GRIDX_MINT_PER_TX": str(per_tx),
                },
                base / "mint.log",
            )
        )
        _wait_log(base / "gateway.log", "mqtt_connected", 60)
        # SUBACK follows CONNACK (a shared subscription drops what comes before it), and every
        # window must have ended before its reading is offered
        time.sleep(max(0.5, start + per_meter * INTERVAL + 1 - time.time()))
        cpu0 = _cpu_now(procs, pg, broker)
        publish_s = _publish(broker, edge_pw, batches, rate, 250)
        _wait_settled(pg.dsn, total, time.monotonic() + 120 + total / 200)
        cpu1 = _cpu_now(procs, pg, broker)  # before reconcile's own chain reads
        with connect(pg.dsn) as conn:
            figures, confirmed = _latency(conn)
            refused = conn.execute("SELECT count(*) FROM mint_outbox WHERE status = 'refused'").fetchone()
            rep = run_on_chain(url, lambda c: reconcile(c, conn))
        return {
            "readings": total,
            "meters": meters,
            "per_tx": per_tx,
            "offered_per_s": round(total / publish_s, 1),
            **figures,
            "double_mints": max(0, rep.windows_on_chain - confirmed) + len(rep.missing_in_db),
            "missing_mints": total - confirmed,
            "refused": int(refused[0]) if refused else 0,
            "supply_matches": rep.supply == expected,
            "reconcile_drift": rep.drift,
            "cpu_s": dict(zip(("node", "gateway", "mint"), (round(c, 1) for c in cpu1), strict=False)),
            "cpu_ms_per_reading": _cpu_figures(cpu0, cpu1, total),
        }
    finally:
        for p in reversed(procs):
            stop_process(p)
        broker.stop()
        pg.stop(discard=True)  # a new cluster per run (pid): leave no relocated copy in the temp dir

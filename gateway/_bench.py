"""``gridx bench ingest``: the real chain, end to end, on this machine.

Edges (publisher processes, paho QoS 1, TLS, one broker user per edge) → mosquitto →
N gateway processes on the shared subscription → PostgreSQL. Readings are signed and encoded
before the clock starts (signing is the edge's cost, not the gateway's); only the publish
time is stamped into each message as it goes out. Publishing is paced at ``--rate`` readings/s
(0: as fast as possible, which measures queueing, not latency). Latency per reading is
commit time minus the message's ``sent_at_ms``, from the gateways' latency logs.
"""

from __future__ import annotations

import json
import multiprocessing as mp
import os
import secrets
import shutil
import subprocess
import sys
import time
import urllib.request
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from gateway._bench_edges import INTERVAL, EdgeJob, publisher
from gridx.services import LocalStack, cpu_seconds
from gridx.stats import percentile

__all__ = ["BenchSpec", "run_bench"]


@dataclass(frozen=True)
class BenchSpec:
    meters: int = 1000
    readings: int = 100_000
    gateways: int = 2
    publishers: int = 2
    edges: int = 10
    batch: int = 500
    rate: int = 12_000  # readings/s offered; 0 = unpaced
    verify_threads: int = 2
    gateway_batch: int = 2000
    linger_ms: int = 20
    profile: bool = False
    keep: bool = False  # keep the work directory (data, logs, profile); implied by profile


def _tree(root: int) -> list[int]:
    """``root`` and its descendants (PostgreSQL backends call setsid, so a process group
    would miss them)."""
    parent: dict[int, int] = {}
    for p in Path("/proc").iterdir():
        if p.name.isdigit():
            try:
                parent[int(p.name)] = int((p / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, ValueError, IndexError):
                continue
    found, frontier = [root], [root]
    while frontier:
        frontier = [pid for pid, ppid in parent.items() if ppid in frontier]
        found += frontier
    return found


# publish → gateway receives (broker, network, paho) → parsed and verified (intake queue and
# signatures) → its flush starts (linger, the flush before) → committed (the transaction)
_STAGES = ("broker", "intake", "wait_flush", "flush")


def _p50_p99(samples: list[tuple[int, int]]) -> list[float]:
    samples.sort()
    values, weights = [v for v, _ in samples], [w for _, w in samples]
    return [percentile(values, 0.50, weights), percentile(values, 0.99, weights)]


@dataclass
class _Measured:
    """What one run observed, before it is summarised."""

    total: int
    t_go: float
    db: dict[str, Any]
    published: list[dict[str, Any]]
    cpu_before: dict[str, float]
    cpu_after: dict[str, float]


def run_bench(spec: BenchSpec) -> dict[str, Any]:
    from gridx.db import migrate
    from gridx.paths import run_dir

    per_meter = spec.readings // spec.meters
    work = run_dir() / f"bench-ingest-{os.getpid()}"
    load_before = os.getloadavg()
    gw_users = [f"gateway-{i}" for i in range(spec.gateways)]  # one broker user per gateway
    edge_ids = [f"edge-{i:03d}" for i in range(spec.edges)]
    stack = LocalStack(work, pg_conf={"synchronous_commit": "off"}, broker_users=(*gw_users, *edge_ids)).start()
    ok = False
    try:
        migrate(stack.dsn)
        jobs, first_window = _enrol(stack.dsn, spec, edge_ids, per_meter)
        gws, ports, lat_logs = _start_gateways(stack, spec, gw_users, per_meter)
        for port in ports:
            _wait_subscribed(port, gws)
        edges = [EdgeJob(e, stack.passwords[e], jobs[e]) for e in edge_ids]
        measured = _measure(stack, spec, gws, edges, per_meter, first_window)
        flushes = _flush_totals(ports)
        stack.stop_children()  # SIGTERM: the gateways close their latency logs
        latency = _latencies(lat_logs)
        result = _summary(
            spec, measured, flushes, latency, load_before, str(work) if spec.keep or spec.profile else None
        )
        ok = True
    finally:
        stack.stop()
        if ok and not (spec.keep or spec.profile):
            shutil.rmtree(work, ignore_errors=True)  # ~200 MB of database per run; kept on failure
    for stage, (p50, p99) in result.get("breakdown_ms", {}).items():
        print(f"latency {stage:<10} p50 {p50:>7.0f} ms   p99 {p99:>7.0f} ms")
    print(json.dumps(result))
    return result


def _enrol(
    dsn: str, spec: BenchSpec, edge_ids: list[str], per_meter: int
) -> tuple[dict[str, list[tuple[str, str]]], int]:
    """Owners and meters in the registry; each edge's (meter id, key seed) and the first window."""
    import psycopg
    from nacl.signing import SigningKey
    from solders.keypair import Keypair

    jobs: dict[str, list[tuple[str, str]]] = {e: [] for e in edge_ids}
    with psycopg.connect(dsn) as conn, conn.cursor() as cur:
        owners = [str(Keypair().pubkey()) for _ in range(max(1, spec.meters // 4))]
        cur.executemany("INSERT INTO users (wallet, user_type) VALUES (%s, 'prosumer')", [(o,) for o in owners])
        rows = []
        for i in range(spec.meters):
            seed = secrets.token_bytes(32)
            mid, edge = f"bm-{i:06d}", edge_ids[i % spec.edges]
            pub = SigningKey(seed).verify_key.encode().hex()
            rows.append((mid, pub, owners[i % len(owners)], edge, 10_000))
            jobs[edge].append((mid, seed.hex()))
        first_window = (int(time.time()) // INTERVAL - per_meter - 1) * INTERVAL
        # enrolled with the first window, on a 60 s interval: the gateway credits nothing earlier
        cur.executemany(
            "INSERT INTO meters (meter_id, pubkey, owner_wallet, edge_id, rated_power_w, interval_s, created_at)"
            " VALUES (%s,%s,%s,%s,%s,%s,to_timestamp(%s))",
            [(*row, INTERVAL, first_window) for row in rows],
        )
    return jobs, first_window


def _start_gateways(
    stack: LocalStack, spec: BenchSpec, users: list[str], per_meter: int
) -> tuple[list[subprocess.Popen[bytes]], list[int], list[Path]]:
    """The gateway processes, each with its own broker user, metrics port and latency log."""
    from gateway import GatewayConfig
    from gridx.services import free_port, settings_env

    assert stack.mqtt is not None
    gws, ports, lat_logs = [], [], []
    for i, user in enumerate(users):
        ports.append(free_port())
        lat_logs.append(stack.workdir / f"latency-{i}.log")
        lat_logs[-1].unlink(missing_ok=True)
        cfg = GatewayConfig(
            dsn=stack.dsn,
            mqtt_port=stack.mqtt.port,
            mqtt_ca_file=stack.mqtt.ca_file,
            mqtt_username=user,
            mqtt_password=stack.passwords[user],
            client_id=f"bench-gw-{i}",
            metrics_port=ports[-1],
            latency_log=lat_logs[-1],
            max_age_s=per_meter * INTERVAL + 3600,
            batch_size=spec.gateway_batch,
            linger_ms=spec.linger_ms,
            verify_threads=spec.verify_threads,
        )
        profile = stack.workdir / "gateway0.prof" if spec.profile and i == 0 else None
        gws.append(_spawn_gateway(stack, f"gateway-{i}", settings_env(cfg), profile))
    return gws, ports, lat_logs


def _spawn_gateway(stack: LocalStack, name: str, env: dict[str, str], profile: Path | None) -> subprocess.Popen[bytes]:
    if profile is None:
        proc: subprocess.Popen[bytes] = stack.spawn(name, "gateway", "run", "--no-migrate", env=env)
        return proc
    code = (
        "import cProfile, sys; sys.argv = ['gridx', 'gateway', 'run', '--no-migrate'];"
        f"from gridx.cli import main; cProfile.run('main()', {str(profile)!r})"
    )
    with (stack.workdir / f"{name}.log").open("ab") as log:
        proc = subprocess.Popen(
            [sys.executable, "-c", code], env={**os.environ, **env}, stdout=log, stderr=subprocess.STDOUT
        )
    stack.children.append((name, proc))
    return proc


def _measure(
    stack: LocalStack,
    spec: BenchSpec,
    gws: list[subprocess.Popen[bytes]],
    edges: list[EdgeJob],
    per_meter: int,
    first_window: int,
) -> _Measured:
    """Publishers ready with every payload encoded, then go: until every reading is stored."""
    assert stack.mqtt is not None
    ctx = mp.get_context("fork")
    ready = [ctx.Event() for _ in range(spec.publishers)]
    go = ctx.Event()
    results = ctx.Queue()
    procs = []
    for p in range(spec.publishers):
        mine = [e for k, e in enumerate(edges) if k % spec.publishers == p]
        args = (mine, stack.mqtt.port, str(stack.mqtt.ca_file), spec, per_meter, first_window, ready[p], go, results)
        procs.append(ctx.Process(target=publisher, args=args))
        procs[-1].start()
    for ev in ready:
        ev.wait()
    total = per_meter * spec.meters
    cpu_before = _cpu(gws, stack)
    t_go = time.time()
    go.set()
    _wait_stored(stack.dsn, total, deadline=time.monotonic() + 120 + 3 * total / 1000)
    published = [results.get(timeout=60) for _ in procs]
    cpu_after = _cpu(gws, stack)
    db = _db_counts(stack.dsn)
    for proc in procs:
        proc.join(10)
    return _Measured(total, t_go, db, published, cpu_before, cpu_after)


def _wait_stored(dsn: str, total: int, deadline: float) -> None:
    import psycopg

    with psycopg.connect(dsn, autocommit=True) as conn:
        while time.monotonic() < deadline:
            row = conn.execute("SELECT count(*) FROM readings").fetchone()
            if (int(row[0]) if row else 0) >= total:
                return
            time.sleep(0.2)


def _db_counts(dsn: str) -> dict[str, Any]:
    import psycopg

    with psycopg.connect(dsn, autocommit=True) as conn:
        row = conn.execute("SELECT count(*), count(DISTINCT (meter_id, seq)) FROM readings").fetchone()
        assert row is not None
        # a reading held for its predecessor (another gateway had it) and stored once that
        # arrived is not a rejection
        q: dict[str, int] = dict(
            conn.execute(
                "SELECT reason, count(*) FROM quarantine WHERE readmitted_at IS NULL GROUP BY reason"
            ).fetchall()
        )
        held = conn.execute("SELECT count(*) FROM quarantine WHERE readmitted_at IS NOT NULL").fetchone()
        outbox = conn.execute("SELECT count(*) FROM mint_outbox").fetchone()
    return {
        "rows": int(row[0]),
        "distinct": int(row[1]),
        "quarantined": q,
        "held": held[0] if held else 0,
        "outbox": int(outbox[0]) if outbox else 0,
    }


def _flush_totals(ports: list[int]) -> tuple[float, float]:
    flush_sum = flush_count = 0.0
    for port in ports:
        for line in _scrape(port).splitlines():
            if line.startswith("gridx_gateway_flush_seconds_sum"):
                flush_sum += float(line.split()[1])
            elif line.startswith("gridx_gateway_flush_seconds_count"):
                flush_count += float(line.split()[1])
    return flush_sum, flush_count


def _latencies(lat_logs: list[Path]) -> tuple[list[tuple[int, int]], dict[str, list[tuple[int, int]]], int]:
    """(latency, readings) samples overall and per stage, and the last commit (ms)."""
    samples: list[tuple[int, int]] = []
    stages: dict[str, list[tuple[int, int]]] = {k: [] for k in _STAGES}
    last_commit = 0
    for lf in lat_logs:
        for line in lf.read_text().splitlines():
            sent, committed, n, received, taken, started = map(int, line.split())
            samples.append((committed - sent, n))
            marks = (sent, received, taken, max(started, taken), committed)
            for k, a, b in zip(_STAGES, marks, marks[1:], strict=False):
                stages[k].append((b - a, n))
            last_commit = max(last_commit, committed)
    samples.sort()
    return samples, stages, last_commit


def _summary(
    spec: BenchSpec,
    m: _Measured,
    flushes: tuple[float, float],
    latency: tuple[list[tuple[int, int]], dict[str, list[tuple[int, int]]], int],
    load_before: tuple[float, ...],
    workdir: str | None,
) -> dict[str, Any]:
    samples, stages, last_commit = latency
    flush_sum, flush_count = flushes
    db, q = m.db, m.db["quarantined"]
    elapsed = last_commit / 1000 - m.t_go if last_commit else float("nan")
    return {
        "readings_per_s": round(db["rows"] / elapsed) if elapsed > 0 else 0,
        "p50_ms": percentile([s for s, _ in samples], 0.50, [w for _, w in samples]),
        "p99_ms": percentile([s for s, _ in samples], 0.99, [w for _, w in samples]),
        "breakdown_ms": {k: _p50_p99(v) for k, v in stages.items()},
        "max_ms": float(samples[-1][0]) if samples else 0.0,
        "lost": m.total - db["distinct"],
        "duplicates": (db["rows"] - db["distinct"]) + q.get("duplicate", 0) + q.get("replayed", 0),
        "rejected": sum(q.values()),
        "held_then_stored": db["held"],
        "stored": db["rows"],
        "mint_outbox_rows": db["outbox"],
        "published": sum(r["readings"] for r in m.published),
        "elapsed_s": round(elapsed, 2),
        "publish_s": round(max(r["publish_s"] for r in m.published), 2),
        "flushes": int(flush_count),
        "flush_ms_mean": round(1000 * flush_sum / flush_count, 1) if flush_count else 0.0,
        "cpu_s": {k: round(m.cpu_after[k] - m.cpu_before[k], 1) for k in m.cpu_after},
        "load_before": [round(x, 2) for x in load_before],
        "load_after": [round(x, 2) for x in os.getloadavg()],
        "cpus": os.cpu_count(),
        "workdir": workdir,
        **{k: v for k, v in asdict(spec).items() if k not in ("profile", "keep")},
    }


def _cpu(gws: list[subprocess.Popen[bytes]], stack: LocalStack) -> dict[str, float]:
    pg, broker = stack.pg, stack.mqtt
    assert pg is not None and broker is not None
    return {
        "gateways": round(cpu_seconds(*(g.pid for g in gws)), 1),
        "postgres": round(cpu_seconds(*_tree(pg.proc.pid)), 1) if pg.proc else 0.0,
        "mosquitto": round(cpu_seconds(broker.proc.pid), 1) if broker.proc else 0.0,
    }


def _scrape(port: int) -> str:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as resp:
        return str(resp.read().decode())


def _wait_subscribed(port: int, gws: list[subprocess.Popen[bytes]], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if any(g.poll() is not None for g in gws):
            raise RuntimeError("a gateway exited during start-up; see its log in the bench workdir")
        try:
            if "gridx_gateway_subscribed 1.0" in _scrape(port):
                return
        except OSError:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"gateway on metrics port {port} did not subscribe within {timeout}s")

"""Producer-side faults: meter faults are never signed as good data; an edge killed with
SIGKILL and a broker restart lose nothing."""

from __future__ import annotations

import contextlib
import itertools
import os
import signal
import sqlite3
import subprocess
import time
from collections import defaultdict
from pathlib import Path

import pytest

from firmware_sim._fleet import Fault, Fleet, FleetConfig
from firmware_sim._server import serve_in_thread
from gridx.services import MosquittoBroker, gridx_command
from gridx.wire import GENESIS_HASH, Reading, reading_hash, verify_reading
from tests.helpers.edge import AgentThread, Collector, modbus_ports, provision_edge, read_stats, wait_until

NOON_BKK = 1_700_000_000 // 86400 * 86400 + 5 * 3600


def _check_streams(readings: list[Reading], keys: dict[str, object]) -> dict[str, list[Reading]]:
    """Per meter: duplicates are byte-identical, first copies come in seq order without gaps,
    every reading verifies and links to its predecessor. Returns the de-duplicated streams."""
    first: dict[tuple[str, int], Reading] = {}
    streams: dict[str, list[Reading]] = defaultdict(list)
    for r in readings:
        key = (r.meter_id, r.seq)
        if key in first:
            assert first[key] == r, f"{key} delivered twice with different content"
            continue
        first[key] = r
        streams[r.meter_id].append(r)
    for mid, rs in streams.items():
        assert [r.seq for r in rs] == list(range(1, len(rs) + 1)), f"{mid}: gap or reorder"
        prev_hash = GENESIS_HASH
        for r in rs:
            assert verify_reading(r, keys[mid])  # type: ignore[arg-type]
            assert r.prev_hash == prev_hash
            prev_hash = reading_hash(r)
    return streams


def _spawn_edge(cfg: Path, log: Path) -> subprocess.Popen[bytes]:
    fh = log.open("ab")
    return subprocess.Popen(gridx_command("edge", "run", "--config", str(cfg)), stdout=fh, stderr=fh)


def _outbox_seqs(path: Path) -> dict[str, set[int]]:
    out: dict[str, set[int]] = defaultdict(set)
    with contextlib.closing(sqlite3.connect(path)) as c:
        for mid, seq in c.execute("SELECT meter_id, seq FROM outbox"):
            out[mid].add(seq)
    return out


@pytest.mark.slow
def test_sigkill_and_broker_outage_lose_nothing(broker: MosquittoBroker, tmp_path: Path) -> None:
    n = 20
    port = modbus_ports()
    fleet = Fleet(FleetConfig(count=n, seed=3, speed=60.0, start_s=NOON_BKK))
    cfg, keys = provision_edge(
        tmp_path, broker, "edge-k", n, port, interval_s=1, max_power_w=5_000_000, batch_max=7, inflight_max=4
    )
    log = tmp_path / "edge.log"
    collector = Collector(broker).start()
    with serve_in_thread(fleet, "127.0.0.1", port):
        edge = _spawn_edge(cfg, log)
        try:
            wait_until(lambda: collector.count() >= 3 * n, 60, "readings before the kill")
            edge.send_signal(signal.SIGKILL)
            edge.wait(10)
            killed_at = collector.count()
            edge = _spawn_edge(cfg, log)
            wait_until(lambda: collector.count() >= killed_at + 3 * n, 60, "readings after the restart")
            # an outage long enough that the outbox fills, then a backfill in order
            broker.stop()
            outbox = tmp_path / "outbox.sqlite"
            wait_until(lambda: sum(map(len, _outbox_seqs(outbox).values())) >= 3 * n, 30, "outbox filling")
            broker.start()
            restarted_at = collector.count()
            wait_until(lambda: collector.count() >= restarted_at + 3 * n, 60, "readings after the broker restart")
        finally:
            edge.send_signal(signal.SIGTERM)
            edge.wait(30)
    collector.stop()

    streams = _check_streams(collector.snapshot(), keys)  # type: ignore[arg-type]
    assert set(streams) == set(keys)
    # what was not acknowledged yet is still in the outbox, right after what arrived
    left = _outbox_seqs(tmp_path / "outbox.sqlite")
    for mid, rs in streams.items():
        assert all(s > len(rs) for s in left.get(mid, set())), f"{mid}: outbox holds a delivered seq"
        assert sorted(left.get(mid, set())) == list(range(len(rs) + 1, len(rs) + 1 + len(left.get(mid, set()))))
        assert len(rs) >= 8
    assert b"edge_started" in log.read_bytes()
    assert os.path.exists(tmp_path / "outbox.sqlite")


@pytest.mark.slow
def test_meter_faults_are_logged_not_signed(broker: MosquittoBroker, tmp_path: Path) -> None:
    n = 4  # 0 healthy, 1 offline, 2 garbage then healthy, 3 rollback
    port = modbus_ports()
    fleet = Fleet(FleetConfig(count=n, seed=5, speed=60.0, start_s=NOON_BKK))
    cfg, keys = provision_edge(
        tmp_path, broker, "edge-f", n, port, interval_s=1, poll_period_s=0.5, max_power_w=5_000_000
    )
    collector = Collector(broker).start()
    fleet.set_fault(1, Fault.OFFLINE)
    fleet.set_fault(2, Fault.GARBAGE)
    with serve_in_thread(fleet, "127.0.0.1", port):
        agent = AgentThread(cfg).start()
        try:
            per_meter = lambda mid: sum(r.meter_id == mid for r in collector.snapshot())  # noqa: E731
            wait_until(lambda: per_meter("GTX-SIM-000003") >= 3, 30, "readings of meter 3")
            fleet.set_fault(3, Fault.ROLLBACK)
            fleet.set_fault(2, Fault.NONE)
            before = per_meter("GTX-SIM-000003")
            wait_until(lambda: per_meter("GTX-SIM-000003") >= before + 3, 30, "readings after the reset")
            wait_until(lambda: per_meter("GTX-SIM-000002") >= 2, 30, "readings of meter 2 once healthy")
        finally:
            stats = agent.stop()
    collector.stop()

    streams = _check_streams(collector.snapshot(), keys)  # type: ignore[arg-type]
    assert "GTX-SIM-000001" not in streams  # offline: nothing to sign
    assert stats.offline > 0 and stats.garbage > 0 and stats.rollback == 1
    for rs in streams.values():
        for r in rs:
            assert r.produced_wh >= 0 and r.consumed_wh >= 0
    # across the reset: the counters restart from zero, no reading carries a delta across it,
    # and the chain goes on
    rs = streams["GTX-SIM-000003"]
    reset = next(i for i, r in enumerate(rs) if r.consumed_total_wh < rs[0].consumed_total_wh)
    assert reset > 0 and rs[reset].consumed_total_wh < rs[reset - 1].consumed_total_wh
    assert 0 <= rs[reset].consumed_wh <= rs[reset].consumed_total_wh
    assert 0 <= rs[reset].produced_wh <= rs[reset].produced_total_wh
    for a, b in itertools.pairwise(rs):
        assert b.window_start == a.window_end
        if b is not rs[reset]:
            assert b.consumed_wh == b.consumed_total_wh - a.consumed_total_wh


@pytest.mark.slow
def test_simulator_outage_yields_a_reading_per_interval_of_the_gap(broker: MosquittoBroker, tmp_path: Path) -> None:
    n = 3
    port = modbus_ports()
    fleet = Fleet(FleetConfig(count=n, seed=11, speed=60.0, start_s=NOON_BKK))
    cfg, keys = provision_edge(
        tmp_path, broker, "edge-o", n, port, interval_s=1, poll_period_s=0.5, max_power_w=5_000_000
    )
    collector = Collector(broker).start()
    agent = AgentThread(cfg)
    with serve_in_thread(fleet, "127.0.0.1", port):
        agent.start()
        wait_until(lambda: collector.count() >= 2 * n, 30, "readings before the outage")
    down = time.time()
    try:
        # the outage lasts at least 4 s of wall time (and the agent has noticed it)
        wait_until(lambda: read_stats(tmp_path).get("missed_polls", 0) >= 3 * n, 30, "missed polls")
        wait_until(lambda: time.time() >= down + 4, 10, "a 4 s outage")
        up = time.time()
        with serve_in_thread(fleet, "127.0.0.1", port):
            # every meter has a reading closed after the simulator came back
            done = lambda: {r.meter_id for r in collector.snapshot() if r.window_end >= up + 1} == set(keys)  # noqa: E731
            wait_until(done, 90, "a reading of every meter after the outage")
    finally:
        stats = agent.stop()
    collector.stop()

    streams = _check_streams(collector.snapshot(), keys)  # type: ignore[arg-type]
    assert stats.missed_polls > 0
    for rs in streams.values():
        # the outage is reported, one reading per interval (what the chain mints), not a hole
        assert {r.window_end - r.window_start for r in rs} == {1}
        assert rs[0].window_start <= down + 1 and rs[-1].window_end >= up
        for a, b in itertools.pairwise(rs):
            assert b.window_start == a.window_end
            assert b.consumed_wh == b.consumed_total_wh - a.consumed_total_wh


@pytest.mark.slow
def test_refused_batches_stay_in_the_outbox_until_accepted(
    tmp_path: Path, tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    import gridx.services.mosquitto as mosq

    # a broker whose ACL does not (yet) grant this edge its topic: every PUBACK is 135
    strict = tmp_path / "acl-strict"
    strict.write_text("user gateway\ntopic read gridtokenx/edge/+/readings\n")
    monkeypatch.setattr(mosq, "ACL_TEMPLATE", strict)
    broker = MosquittoBroker(tmp_path_factory.mktemp("mosquitto-strict"))
    broker.add_user("gateway")
    broker.start()
    n = 3
    port = modbus_ports()
    fleet = Fleet(FleetConfig(count=n, seed=8, speed=60.0, start_s=NOON_BKK))
    cfg, keys = provision_edge(tmp_path, broker, "edge-r", n, port, interval_s=1, max_power_w=5_000_000)
    collector = Collector(broker).start()
    try:
        with serve_in_thread(fleet, "127.0.0.1", port):
            agent = AgentThread(cfg).start()
            try:
                wait_until(lambda: read_stats(tmp_path).get("batches_refused", 0) >= 2, 30, "refusals")
                assert collector.count() == 0
                assert read_stats(tmp_path)["outbox_pending"] > 0
                # the operator fixes the ACL and reloads the broker: the outbox drains in order
                monkeypatch.setattr(mosq, "ACL_TEMPLATE", mosq.ROOT / "mosquitto" / "aclfile")
                broker.add_user("edge-r")  # rewrites passwords and ACL, sends SIGHUP (rereads both)
                wait_until(lambda: collector.count() >= 4 * n, 90, "readings after the fix")
            finally:
                agent.stop()
    finally:
        collector.stop()
        broker.stop()
    streams = _check_streams(collector.snapshot(), keys)  # type: ignore[arg-type]
    assert set(streams) == set(keys)  # from seq 1: nothing refused was dropped

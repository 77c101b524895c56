"""Simulated meters → edge agent → TLS mosquitto → a ``gateway`` subscriber."""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

from firmware_sim import model
from firmware_sim._fleet import Fleet, FleetConfig
from firmware_sim._server import serve_in_thread
from gridx.services import MosquittoBroker
from gridx.wire import GENESIS_HASH, Reading, reading_hash, readings_topic, verify_reading
from tests.helpers.edge import AgentThread, Collector, modbus_ports, provision_edge, wait_until

SPEED = 60.0
NOON_BKK = 1_700_000_000 // 86400 * 86400 + 5 * 3600  # 12:00 at UTC+7: the sun is up


def _sim_ms(fleet: Fleet, wall_s: float) -> int:
    return fleet.clock.start_ms + int((wall_s - fleet.clock.wall0) * fleet.clock.speed * 1000)


def test_readings_arrive_signed_chained_and_match_the_model(broker: MosquittoBroker, tmp_path: Path) -> None:
    n = 6
    port = modbus_ports()
    fleet = Fleet(FleetConfig(count=n, seed=7, speed=SPEED, start_s=NOON_BKK))
    cfg_path, keys = provision_edge(
        tmp_path, broker, "edge-1", n, port, interval_s=2, poll_period_s=0.5, max_power_w=2_000_000
    )
    collector = Collector(broker).start()
    with serve_in_thread(fleet, "127.0.0.1", port):
        agent = AgentThread(cfg_path).start()
        try:
            wait_until(lambda: collector.count() >= 3 * n, 60, "three readings per meter")
        finally:
            stats = agent.stop()
    collector.stop()

    assert set(collector.topics) == {readings_topic("edge-1")}
    by_meter: dict[str, list[Reading]] = defaultdict(list)
    for r in collector.snapshot():
        by_meter[r.meter_id].append(r)
    assert set(by_meter) == set(keys)
    for mid, rs in by_meter.items():
        index = int(mid.rsplit("-", 1)[1])
        prof = fleet.profile(index)
        prev: Reading | None = None
        for r in rs:
            assert verify_reading(r, keys[mid])
            assert r.window_start % 2 == 0 and r.window_end % 2 == 0 and r.window_end > r.window_start
            if prev is None:
                assert r.seq == 1 and r.prev_hash == GENESIS_HASH
            else:
                assert r.seq == prev.seq + 1
                assert r.prev_hash == reading_hash(prev)
                assert r.window_start == prev.window_end
                assert r.produced_wh == r.produced_total_wh - prev.produced_total_wh
                assert r.consumed_wh == r.consumed_total_wh - prev.consumed_total_wh
            # the counters were read at or shortly after the window's end (a poll period, plus
            # slack for a loaded machine): the pure model brackets them
            lo = model.counters_wh(prof, fleet.t0_ms, _sim_ms(fleet, r.window_end))
            hi = model.counters_wh(prof, fleet.t0_ms, _sim_ms(fleet, r.window_end + 3.0))
            assert lo[0] <= r.produced_total_wh <= hi[0]
            assert lo[1] <= r.consumed_total_wh <= hi[1]
            prev = r
        assert any(r.consumed_wh > 0 for r in rs)
        if prof.prosumer:
            assert any(r.produced_wh > 0 for r in rs)
    assert stats.garbage == stats.rollback == stats.implausible == 0

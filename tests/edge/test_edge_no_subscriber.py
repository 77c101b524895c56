"""A broker with no gateway session accepts a QoS 1 publish with PUBACK 0x10 ("no matching
subscribers") and discards it: the edge must keep the batch and send it again."""

from __future__ import annotations

from edge._intervals import MeterState
from edge._publisher import Publisher, PublisherConfig, delivered
from edge._store import Outbox
from tests.helpers.edge import Collector, wait_until
from tests.helpers.gateway import Meter


def test_puback_0x10_is_not_delivered():
    assert delivered(0) and not delivered(0x10) and not delivered(0x87)


def test_readings_wait_in_the_outbox_until_a_gateway_session_exists(broker, tmp_path):
    m = Meter("ns-1", "edge-n")
    readings = [m.next() for _ in range(5)]
    outbox = Outbox(tmp_path / "outbox.sqlite")
    state = MeterState("ns-1", m.seq, m.window_end, m.produced_total, m.consumed_total, m.last_hash)
    outbox.commit_cycle([state], [(r.meter_id, r.seq, r.model_dump_json()) for r in readings])
    cfg = PublisherConfig(
        edge_id="edge-n",
        host="127.0.0.1",
        port=broker.port,
        password=broker.add_user("edge-n"),
        ca_file=broker.ca_file,
        outbox_path=tmp_path / "outbox.sqlite",
        batch_max=2,
    )
    pub = Publisher(cfg)
    pub.start()
    try:
        wait_until(lambda: pub.stats.batches_refused >= 1, 20, "a PUBACK 0x10")
        assert outbox.pending() == 5  # nothing forgotten while nobody holds it
        collector = Collector(broker).start()
        try:
            wait_until(lambda: outbox.pending() == 0, 90, "the outbox drained once a session exists")
            wait_until(lambda: collector.count() == 5, 10, "every reading delivered")
            assert sorted(r.seq for r in collector.snapshot()) == [1, 2, 3, 4, 5]
        finally:
            collector.stop()
    finally:
        pub.stop()
        outbox.close()

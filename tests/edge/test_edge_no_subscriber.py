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


def test_a_gateway_session_appearing_mid_pipeline_keeps_seq_order(broker, tmp_path):
    """Refused (0x10) while no gateway session exists, then the session appears: the batches
    arrive in seq order. Before the fix the publisher kept ``inflight_max`` batches in flight
    while they were refused, so a session that appeared in the middle of such a burst got the
    later batches first and the refused ones on their retry (seq 7 before seq 6)."""
    meters = [Meter(f"ord-{i}", "edge-o") for i in range(2)]
    outbox = Outbox(tmp_path / "outbox.sqlite")
    for _ in range(20):
        for m in meters:
            r = m.next()
            state = MeterState(m.meter_id, m.seq, m.window_end, m.produced_total, m.consumed_total, m.last_hash)
            outbox.commit_cycle([state], [(r.meter_id, r.seq, r.model_dump_json())])
    cfg = PublisherConfig(
        edge_id="edge-o",
        host="127.0.0.1",
        port=broker.port,
        password=broker.add_user("edge-o"),
        ca_file=broker.ca_file,
        outbox_path=tmp_path / "outbox.sqlite",
        batch_max=1,
        inflight_max=8,
    )
    pub = Publisher(cfg)
    pub.start()
    try:
        wait_until(lambda: pub.stats.batches_refused >= 1, 20, "a PUBACK 0x10")
        collector = Collector(broker).start()
        try:
            wait_until(lambda: outbox.pending() == 0, 90, "the outbox drained once a session exists")
            arrived = [(r.meter_id, r.seq) for r in collector.snapshot()]
        finally:
            collector.stop()
    finally:
        pub.stop()
        outbox.close()
    # the precondition of the reorder, deterministic: while refused, one batch at a time (a
    # burst of inflight_max refused together also escalated the backoff 8 steps at once)
    assert pub.stats.batches_refused < cfg.inflight_max, pub.stats.batches_refused
    for m in meters:
        seqs = [seq for mid, seq in arrived if mid == m.meter_id]
        assert seqs == list(range(1, 21)), f"{m.meter_id}: {seqs}"

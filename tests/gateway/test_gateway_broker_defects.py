"""Defects that need the real broker: QoS 0 publishes, and one edge's holes holding up the
others through the broker's receive maximum."""

from __future__ import annotations

import os
import subprocess
import time
from typing import Any

import psycopg

from gateway import GatewayConfig
from gridx.services import gridx_command
from gridx.wire import encode_batch, readings_topic
from tests.helpers.gateway import GatewayThread, Meter, Publisher, gateway_config, scalar, setup_db, wait_until


def test_qos0_messages_do_not_disconnect_the_gateway(broker, pg_dsn):
    """A PUBACK for a QoS 0 message (packet id 0) is a protocol error: mosquitto drops the
    connection and the acknowledgements in flight are lost (then quarantined as replayed)."""
    setup_db(pg_dsn)
    m = Meter("q0", "edge-a").enroll(pg_dsn)
    gw = GatewayThread(gateway_config(broker, pg_dsn)).start()
    pub = Publisher(broker, "edge-a")
    try:
        for _ in range(5):
            pub.client.publish(
                readings_topic("edge-a"), encode_batch("edge-a", [m.next()], int(time.time() * 1000)), qos=0
            )
        pub.publish([m.next()])
        wait_until(lambda: scalar(pg_dsn, "SELECT count(*) FROM readings") == 6, 20, "all six stored")
        wait_until(pub.all_acked, 10, "the QoS 1 message acknowledged")
        assert gw.gw.disconnects == 0
        assert scalar(pg_dsn, "SELECT count(*) FROM quarantine") == 0
    finally:
        pub.close()
        gw.stop()


def test_one_edges_holes_do_not_hold_up_another_edge(broker, pg_dsn):
    """receive_max messages, each with one validly signed reading whose seq skips ahead, must
    not keep the broker from delivering another edge's reading (the grace here is longer
    than the test: before the fix the good reading waited for it)."""
    setup_db(pg_dsn)
    holey = [Meter(f"h{i}", "edge-a").enroll(pg_dsn) for i in range(10)]
    good = Meter("g", "edge-b").enroll(pg_dsn)
    receive_max = 20
    gw = GatewayThread(gateway_config(broker, pg_dsn, gap_grace_s=600, receive_max=receive_max)).start()
    a, b = Publisher(broker, "edge-a"), Publisher(broker, "edge-b")
    try:
        for k in range(2 * receive_max):
            m = holey[k % len(holey)]
            if k < len(holey):
                m.next()  # seq 1 never sent: every later reading of the meter waits for it
            a.publish([m.next()])
        b.publish([good.next()])
        wait_until(
            lambda: scalar(pg_dsn, "SELECT count(*) FROM readings WHERE meter_id = 'g'") == 1, 30, "edge-b's reading"
        )
        # a few of them wait in memory first (at most receive_max/4 messages, park_s each)
        held = "SELECT count(*) FROM quarantine WHERE reason = 'chain_gap'"
        wait_until(lambda: scalar(pg_dsn, held) == 2 * receive_max, 30, "every held reading quarantined")
    finally:
        a.close()
        b.close()
        gw.stop()


def test_retire_drops_the_gateway_session(broker, pg_dsn):
    """``gridx gateway retire`` takes in what the session holds, then leaves with session
    expiry 0: readings published afterwards are refused with 0x10 (the edge keeps them)."""
    setup_db(pg_dsn)
    m = Meter("rt", "edge-a").enroll(pg_dsn)
    cfg = gateway_config(broker, pg_dsn, client_id="gw-retire", metrics_port=0)
    GatewayThread(cfg).start().stop()  # the session exists
    pub = Publisher(broker, "edge-a")
    pub.publish([m.next()])  # queued in the offline session
    env = {**os.environ, **{f"GRIDX_GATEWAY_{k.upper()}": str(v) for k, v in _env(cfg).items()}}
    out = subprocess.run(
        gridx_command("gateway", "retire", "--idle-s", "1"),
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 0, out.stderr[-2000:]
    assert scalar(pg_dsn, "SELECT count(*) FROM readings") == 1  # taken in before leaving
    pub.close()
    codes: list[int] = []
    pub.client.on_publish = lambda _c, _u, _mid, rc, _p: codes.append(rc.value)
    pub.client.reconnect()
    pub.client.loop_start()
    pub.client.publish(readings_topic("edge-a"), encode_batch("edge-a", [m.next()], 1), qos=1)
    wait_until(lambda: bool(codes), 10, "PUBACK")
    pub.client.disconnect()
    pub.client.loop_stop()
    assert codes == [0x10]


def _env(cfg: GatewayConfig) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in cfg.model_dump().items():
        if v is None:
            continue
        out[k] = v.get_secret_value() if hasattr(v, "get_secret_value") else v
    return out


def test_a_gauge_names_meters_not_advancing(broker, pg_dsn):
    setup_db(pg_dsn)
    Meter("quiet", "edge-a").enroll(pg_dsn)
    Meter("busy", "edge-a").enroll(pg_dsn)
    with psycopg.connect(pg_dsn) as c:
        c.execute("UPDATE meter_state SET updated_at = now() - interval '1 hour' WHERE meter_id = 'quiet'")
    gw = GatewayThread(gateway_config(broker, pg_dsn)).start()
    try:
        stalled = gw.gw.metrics.stalled

        def named() -> set[str]:
            return {s.labels["meter_id"] for m in stalled.collect() for s in m.samples}

        wait_until(lambda: bool(named()), 20, "the stalled gauge")
        assert named() == {"quiet"}
    finally:
        gw.stop()

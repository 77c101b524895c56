"""The worst inputs sent to a running ``gridx gateway run`` process through the real broker,
then a good reading that must be stored; and a gateway killed with poison in flight comes
back on the same session and carries on."""

from __future__ import annotations

import base64
import json
import os

import pytest

from gridx.services import free_port
from gridx.wire import encode_batch, readings_topic
from tests.helpers.gateway import GatewayProcess, Meter, Publisher, gateway_config, scalar, setup_db, wait_until

pytestmark = pytest.mark.slow


def poison(m: Meter) -> list[bytes]:
    good = json.loads(encode_batch("edge-p", [m.sign(m.unsigned())], 1))["readings"][0]

    def batch(*items: object) -> bytes:
        return json.dumps({"v": 1, "edge_id": "edge-p", "sent_at_ms": 1, "readings": list(items)}).encode()

    return [
        b'{"v":1,"edge_id":"edge-p","sent_at_ms":1,"readings":[' + b"[" * 1000 + b"]" * 1000 + b"]}",
        batch({**good, "meter_id": "m\u0000x"}),
        batch({**good, "meter_id": base64.b64encode(os.urandom(6000)).decode()}),
        batch({**good, "seq": 2**70}, None, 7, {**good, "window_start": -(2**63)}),
        batch({**good, "v": 2}),
        b'{"v":' + b"9" * 5000 + b"}",
        b"\xff\xfe\x00",
    ]


def test_poison_then_a_good_reading_and_a_kill_with_poison_in_flight(broker, pg_dsn, tmp_path):
    setup_db(pg_dsn)
    m = Meter("pm", "edge-p").enroll(pg_dsn)
    cfg = gateway_config(broker, pg_dsn, client_id="gw-poison", metrics_port=free_port())
    gw = GatewayProcess(cfg, tmp_path / "gw.log").start().wait_subscribed()
    pub = Publisher(broker, "edge-p")
    try:
        bad = poison(m)
        for p in bad:
            pub.publish_raw(p)
        pub.client.publish(readings_topic("edge-p"), bad[0], qos=0)
        pub.publish([m.next()])
        wait_until(lambda: scalar(pg_dsn, "SELECT count(*) FROM readings") == 1, 30, "the good reading")
        wait_until(pub.all_acked, 20, "every message acknowledged")
        assert gw.proc is not None and gw.proc.poll() is None
        n_poison = scalar(pg_dsn, "SELECT count(*) FROM quarantine")
        assert n_poison >= len(bad)
        # killed with poison in flight: the restarted process gets it again and is not stopped by it
        for p in bad:
            pub.publish_raw(p)
        gw.kill()
        pub.publish([m.next()])
        gw = GatewayProcess(cfg, tmp_path / "gw.log").start().wait_subscribed()
        wait_until(lambda: scalar(pg_dsn, "SELECT count(*) FROM readings") == 2, 60, "the next good reading")
        wait_until(pub.all_acked, 30, "every message acknowledged after the restart")
        assert scalar(pg_dsn, "SELECT count(*) FROM quarantine WHERE reason IN ('replayed', 'unexpected')") == 0
    finally:
        pub.close()
        assert gw.terminate() == 0

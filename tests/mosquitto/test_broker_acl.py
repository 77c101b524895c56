"""The broker's access rules, against a real TLS mosquitto with the project's ACL file."""

from __future__ import annotations

import ssl
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest

from gridx.services import MosquittoBroker
from gridx.wire import readings_topic
from tests.helpers.edge import Collector, wait_until

NOT_AUTHORIZED = 135
NO_MATCHING_SUBSCRIBERS = 16  # a success code: accepted, nobody listening


class _Pub:
    """A v5 publisher that records the PUBACK reason code of each message."""

    def __init__(self, port: int, ca_file: Path, user: str, password: str) -> None:
        self.acks: dict[int, int] = {}
        self.connack: list[mqtt.ReasonCode] = []
        self.done = threading.Condition()
        c = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"pub-{user}", protocol=mqtt.MQTTv5)
        c.username_pw_set(user, password)
        c.tls_set(ca_certs=str(ca_file), tls_version=ssl.PROTOCOL_TLS_CLIENT)
        c.on_connect = lambda _c, _u, _f, rc, _p: self.connack.append(rc)
        c.on_publish = self._on_publish
        c.connect("127.0.0.1", port)
        c.loop_start()
        self.client = c
        wait_until(lambda: bool(self.connack), 10, "CONNACK")

    def _on_publish(self, _c: mqtt.Client, _u: object, mid: int, rc: mqtt.ReasonCode, _p: object) -> None:
        with self.done:
            self.acks[mid] = rc.value
            self.done.notify_all()

    def publish(self, topic: str, payload: bytes) -> int:
        info = self.client.publish(topic, payload, qos=1)
        wait_until(lambda: info.mid in self.acks, 10, f"PUBACK for {topic}")
        return self.acks[info.mid]

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


@pytest.fixture
def collector(broker: MosquittoBroker) -> Iterator[Collector]:
    c = Collector(broker).start()
    yield c
    c.stop()


def test_edge_may_publish_only_under_its_own_id(broker: MosquittoBroker, collector: Collector) -> None:
    pub = _Pub(broker.port, broker.ca_file, "edge-a", broker.add_user("edge-a"))
    broker.add_user("edge-b")
    try:
        assert pub.connack[0].is_failure is False
        assert pub.publish(readings_topic("edge-b"), b"forged") == NOT_AUTHORIZED
        assert pub.publish("gridtokenx/edge/edge-a/other", b"off-topic") == NOT_AUTHORIZED
        assert pub.publish("gridtokenx/edge/edge-a/readings/x", b"deeper") == NOT_AUTHORIZED
        assert pub.publish(readings_topic("edge-a"), b"own") == 0
        # the broker delivers one publisher's messages in order: once "own" is here, nothing
        # refused before it can still arrive
        wait_until(lambda: bool(collector.raw_messages()), 10, "own message")
        assert collector.raw_messages() == [(readings_topic("edge-a"), b"own")]
    finally:
        pub.close()


def test_gateway_is_read_only(broker: MosquittoBroker, collector: Collector) -> None:
    pub = _Pub(broker.port, broker.ca_file, "gateway", broker.users["gateway"])
    edge = _Pub(broker.port, broker.ca_file, "edge-c", broker.add_user("edge-c"))
    try:
        assert pub.publish(readings_topic("gateway"), b"x") == NOT_AUTHORIZED
        assert pub.publish(readings_topic("edge-c"), b"x") == NOT_AUTHORIZED
        assert edge.publish(readings_topic("edge-c"), b"marker") == 0
        wait_until(lambda: bool(collector.raw_messages()), 10, "marker")
        assert collector.raw_messages() == [(readings_topic("edge-c"), b"marker")]
    finally:
        pub.close()
        edge.close()


def _connack(broker: MosquittoBroker, user: str, password: str) -> mqtt.ReasonCode | None:
    got: list[mqtt.ReasonCode] = []
    c = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"probe-{user}", protocol=mqtt.MQTTv5)
    c.username_pw_set(user, password)
    c.tls_set(ca_certs=str(broker.ca_file), tls_version=ssl.PROTOCOL_TLS_CLIENT)
    c.on_connect = lambda _c, _u, _f, rc, _p: got.append(rc)
    c.connect("127.0.0.1", broker.port)
    for _ in range(100):
        c.loop(0.1)
        if got:
            break
    c.disconnect()
    return got[0] if got else None


def test_wrong_password_is_refused(broker: MosquittoBroker) -> None:
    broker.add_user("edge-d")
    rc = _connack(broker, "edge-d", "not-the-password")
    assert rc is not None and rc.is_failure
    rc = _connack(broker, "nobody", "x")
    assert rc is not None and rc.is_failure


def test_plaintext_mqtt_is_refused(broker: MosquittoBroker) -> None:
    pw = broker.add_user("edge-e")
    c = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="plain", protocol=mqtt.MQTTv5)
    c.username_pw_set("edge-e", pw)
    got: list[mqtt.ReasonCode] = []
    c.on_connect = lambda _c, _u, _f, rc, _p: got.append(rc)
    try:
        c.connect("127.0.0.1", broker.port)
        for _ in range(30):
            if c.loop(0.1) != mqtt.MQTT_ERR_SUCCESS:
                break
    except OSError:
        pass
    finally:
        c.disconnect()
    # the TLS listener never completes an MQTT handshake in the clear
    assert not any(not rc.is_failure for rc in got)


def test_operator_setup_script_yields_a_working_broker(tmp_path: Path) -> None:
    from gridx.paths import ROOT
    from gridx.services import free_port, stop_process, wait_for_port

    port = free_port()
    d = tmp_path / "broker"
    args = ["bash", str(ROOT / "mosquitto" / "setup.sh"), "--dir", str(d), "--dev", "--port", str(port)]
    subprocess.run([*args, "--edge", "edge-s"], check=True, capture_output=True)
    subprocess.run([*args, "--edge", "edge-s"], check=True, capture_output=True)  # idempotent
    assert (d / "passwords" / "edge-s").stat().st_mode & 0o077 == 0
    log = (tmp_path / "mosquitto.log").open("ab")
    proc = subprocess.Popen(["mosquitto", "-c", str(d / "mosquitto.conf")], stdout=log, stderr=log)
    try:
        wait_for_port(port, proc, 15)
        pub = _Pub(port, d / "ca.crt", "edge-s", (d / "passwords" / "edge-s").read_text())
        try:
            assert pub.publish(readings_topic("edge-s"), b"ok") in (0, NO_MATCHING_SUBSCRIBERS)
            assert pub.publish(readings_topic("edge-t"), b"no") == NOT_AUTHORIZED
        finally:
            pub.close()
    finally:
        stop_process(proc)

"""Sessions belong to broker users (use_username_as_clientid): an edge that sends a gateway's
client id neither wipes that gateway's queue nor takes its messages.

mosquitto's acl_file does not check SUBSCRIBE (only delivery), and a share group hands each
message to one member whether or not the ACL then lets it read it: an edge that joins the
gateways' share group makes the broker drop the messages it is handed. So the share group's
name is a secret of the gateways (``GRIDX_GATEWAY_SHARE_GROUP``), not the guessable default."""

from __future__ import annotations

import secrets
import ssl
import threading
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from gridx.services import MosquittoBroker
from gridx.wire import readings_topic
from tests.helpers.edge import wait_until

SECRET_GROUP = "g-" + secrets.token_hex(8)
SHARED = f"$share/{SECRET_GROUP}/gridtokenx/edge/+/readings"


class _Client:
    def __init__(self, broker: MosquittoBroker, user: str, client_id: str, *, clean: bool) -> None:
        self.messages: list[bytes] = []
        self.subacks: list[list[Any]] = []
        self.pubacks: dict[int, int] = {}
        self.connected = threading.Event()
        c = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=client_id, protocol=mqtt.MQTTv5)
        c.username_pw_set(user, broker.add_user(user))
        c.tls_set(ca_certs=str(broker.ca_file), tls_version=ssl.PROTOCOL_TLS_CLIENT)
        c.on_connect = lambda *_a: self.connected.set()
        c.on_message = lambda _c, _u, m: self.messages.append(bytes(m.payload))
        c.on_subscribe = lambda _c, _u, _mid, rcs, _p: self.subacks.append(list(rcs))
        c.on_publish = lambda _c, _u, mid, rc, _p: self.pubacks.__setitem__(mid, rc.value)
        props = Properties(PacketTypes.CONNECT)
        props.SessionExpiryInterval = 0 if clean else 3600
        c.connect("127.0.0.1", broker.port, clean_start=clean, properties=props)
        c.loop_start()
        assert self.connected.wait(10)
        self.client = c

    def subscribe(self, topic: str = SHARED) -> list[Any]:
        n = len(self.subacks)
        self.client.subscribe(topic, qos=1)
        wait_until(lambda: len(self.subacks) > n, 10, "SUBACK")
        return self.subacks[-1]

    def publish(self, topic: str, payload: bytes) -> int:
        info = self.client.publish(topic, payload, qos=1)
        wait_until(lambda: info.mid in self.pubacks, 10, "PUBACK")
        return self.pubacks[info.mid]

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


def test_an_edge_cannot_hijack_a_gateway_session(broker: MosquittoBroker) -> None:
    gw = _Client(broker, "gateway-1", "gateway-1", clean=False)
    assert not gw.subscribe()[0].is_failure
    gw.close()  # offline: its session queues the readings
    edge = _Client(broker, "edge-a", "edge-a", clean=True)
    assert edge.publish(readings_topic("edge-a"), b"queued for the gateway") == 0
    # an attacker with edge credentials sends the gateway's client id, with a clean start
    thief = _Client(broker, "edge-b", "gateway-1", clean=True)
    for guess in ("$share/gateway/gridtokenx/edge/+/readings", "gridtokenx/#", "#"):
        thief.subscribe(guess)  # granted (acl_file does not check SUBSCRIBE), delivers nothing
    for i in range(4):  # the share group round-robins: some would go to the thief if it could read
        assert edge.publish(readings_topic("edge-a"), b"sent while the thief is connected %d" % i) == 0
    thief.close()
    edge.close()
    gw = _Client(broker, "gateway-1", "anything", clean=False)
    try:
        wait_until(lambda: len(gw.messages) == 5, 10, "the gateway's queue, intact")
        assert gw.messages[0] == b"queued for the gateway"
        assert thief.messages == []
    finally:
        gw.close()

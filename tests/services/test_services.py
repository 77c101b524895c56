"""The local service launchers give real, reachable, access-controlled services."""

from __future__ import annotations

import ssl

import paho.mqtt.client as mqtt
import psycopg
import pytest

from gridx.services import MosquittoBroker


def test_fresh_database_is_usable(pg_dsn: str) -> None:
    with psycopg.connect(pg_dsn) as c:
        c.execute("CREATE TABLE t (x int)")
        c.execute("INSERT INTO t VALUES (41), (1)")
        assert c.execute("SELECT sum(x) FROM t").fetchone() == (42,)


def _connect(b: MosquittoBroker, user: str, password: str, tls: bool = True) -> mqtt.ReasonCode:
    c = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv5)
    c.username_pw_set(user, password)
    if tls:
        c.tls_set(ca_certs=str(b.ca_file), tls_version=ssl.PROTOCOL_TLS_CLIENT)
    try:
        c.connect("127.0.0.1", b.port)
    except (ssl.SSLError, OSError, ConnectionError):
        return mqtt.ReasonCode(mqtt.PacketTypes.CONNACK, "Unspecified error")
    result: list[mqtt.ReasonCode] = []
    c.on_connect = lambda _c, _u, _f, rc, _p: result.append(rc)
    for _ in range(50):
        c.loop(0.1)
        if result:
            break
    c.disconnect()
    return result[0] if result else mqtt.ReasonCode(mqtt.PacketTypes.CONNACK, "Unspecified error")


def test_broker_requires_password_and_accepts_known_user(broker: MosquittoBroker) -> None:
    pw = broker.add_user("edge-a")
    assert _connect(broker, "edge-a", pw).is_failure is False
    assert _connect(broker, "edge-a", "wrong").is_failure is True


@pytest.mark.parametrize("tls", [False])
def test_broker_refuses_plaintext(broker: MosquittoBroker, tls: bool) -> None:
    pw = broker.add_user("edge-b")
    assert _connect(broker, "edge-b", pw, tls=tls).is_failure is True

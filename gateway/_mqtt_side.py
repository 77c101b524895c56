"""The gateway's side of the MQTT connection, run on paho's network thread.

Split out of ``gateway._service`` unchanged: these methods belong to :class:`Gateway` (a mixin),
and only touch the connection state declared below. Acknowledgements are generation-checked:
a packet id from before a reconnect must never be acknowledged on the new connection.
"""

from __future__ import annotations

import asyncio
import ssl
import threading
import time
from typing import Any

import paho.mqtt.client as mqtt
import structlog
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from gateway._config import GatewayConfig
from gateway._intake import Msg
from gateway._metrics import Metrics

__all__ = ["READINGS_FILTER", "MqttSide"]

log = structlog.get_logger("gateway")
READINGS_FILTER = "gridtokenx/edge/+/readings"


class MqttSide:
    """Callbacks, acknowledgement and orderly disconnect of the gateway's MQTT client."""

    cfg: GatewayConfig
    metrics: Metrics
    disconnects: int
    retiring: bool
    _last_message: float
    _queue: asyncio.Queue[Msg]
    _connected: threading.Event
    _subscribed: threading.Event
    _subacks: set[int]
    _gen_lock: threading.Lock
    _generation: int
    _loop: asyncio.AbstractEventLoop | None
    _client: mqtt.Client

    def _make_client(self) -> mqtt.Client:
        cfg = self.cfg
        c = mqtt.Client(
            mqtt.CallbackAPIVersion.VERSION2, client_id=cfg.client_id, protocol=mqtt.MQTTv5, manual_ack=True
        )
        c.username_pw_set(cfg.mqtt_username, cfg.mqtt_password.get_secret_value())
        c.tls_set(ca_certs=str(cfg.mqtt_ca_file) if cfg.mqtt_ca_file else None, tls_version=ssl.PROTOCOL_TLS_CLIENT)
        c.reconnect_delay_set(1, 2)
        c.on_connect = self._on_connect
        c.on_disconnect = self._on_disconnect
        c.on_message = self._on_message
        c.on_subscribe = self._on_subscribe
        return c

    def _on_connect(self, c: mqtt.Client, _u: Any, _f: Any, rc: Any, _p: Any) -> None:
        if rc.is_failure:
            log.error("mqtt_connect_refused", reason=str(rc))
            return
        with self._gen_lock:
            self._generation += 1
        self._connected.set()
        c.subscribe(f"$share/{self.cfg.share_group}/{READINGS_FILTER}", qos=1)
        log.info("mqtt_connected", client_id=self.cfg.client_id, generation=self._generation)

    def _on_subscribe(self, _c: mqtt.Client, _u: Any, mid: int, rcs: list[Any], _p: Any) -> None:
        self._subacks.add(mid)
        if all(not rc.is_failure for rc in rcs):
            self._subscribed.set()
            self.metrics.subscribed.set(1)
        else:
            log.error("mqtt_subscribe_refused", reasons=[str(rc) for rc in rcs])

    def _on_disconnect(self, _c: mqtt.Client, _u: Any, _f: Any, rc: Any, _p: Any) -> None:
        self._connected.clear()
        self._subscribed.clear()
        self.metrics.subscribed.set(0)
        self.disconnects += 1
        log.warning("mqtt_disconnected", reason=str(rc))

    def _on_message(self, _c: mqtt.Client, _u: Any, msg: mqtt.MQTTMessage) -> None:
        item = Msg(msg.mid, self._generation, msg.topic, bytes(msg.payload), qos=msg.qos)
        item.received_ms = int(time.time() * 1000)
        self._last_message = time.monotonic()
        assert self._loop is not None
        self._loop.call_soon_threadsafe(self._queue.put_nowait, item)

    def _ack(self, m: Msg) -> None:
        # a message received before a reconnect is redelivered by the broker on the new
        # connection; acknowledging the stale packet id could hit another message
        # a QoS 0 message has no packet id: a PUBACK for "id 0" is a protocol error for which
        # the broker drops the connection, and the acknowledgements in flight with it
        with self._gen_lock:
            if m.qos > 0 and m.generation == self._generation:
                self._client.ack(m.mid, 1)
            self.metrics.messages.inc()

    def _sync_acks(self, timeout: float) -> None:
        """Make sure the broker has *processed* our PUBACKs before we close the socket.

        Closing a TCP socket that still holds unread incoming data sends a RST, and a RST can
        make the broker drop what it had received but not yet read, PUBACKs included (seen
        in tests: committed readings redelivered). The broker handles a connection's packets
        in order, so once it answers a SUBSCRIBE sent after the PUBACKs, they are applied.
        Re-subscribing the same filter is idempotent."""
        if not self._connected.is_set():
            return
        rc, mid = self._client.subscribe(f"$share/{self.cfg.share_group}/{READINGS_FILTER}", qos=1)
        if rc != mqtt.MQTT_ERR_SUCCESS or mid is None:
            return
        deadline = time.monotonic() + timeout
        while mid not in self._subacks and time.monotonic() < deadline:
            time.sleep(0.01)

    def _wait_disconnected(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while self._connected.is_set() and time.monotonic() < deadline:
            time.sleep(0.01)

    def _disconnect_props(self) -> Properties | None:
        if not self.retiring:
            return None
        # session expiry 0 at DISCONNECT: the broker drops this gateway's session for good
        props = Properties(PacketTypes.DISCONNECT)
        props.SessionExpiryInterval = 0
        return props

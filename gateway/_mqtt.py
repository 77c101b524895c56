"""Small MQTT helpers of the gateway's lifecycle (no state of their own)."""

from __future__ import annotations

import time
from collections.abc import Callable

from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

__all__ = ["disconnect_props", "poll_until"]


def disconnect_props(retiring: bool) -> Properties | None:
    if not retiring:
        return None
    # session expiry 0 at DISCONNECT: the broker drops this gateway's session for good
    props = Properties(PacketTypes.DISCONNECT)
    props.SessionExpiryInterval = 0
    return props


def poll_until(cond: Callable[[], bool], timeout: float) -> None:
    """Wait (in a worker thread) until ``cond`` holds, at most ``timeout`` seconds: the paho
    network thread sets what it tests and has nothing to wait on."""
    deadline = time.monotonic() + timeout
    while not cond() and time.monotonic() < deadline:
        time.sleep(0.01)

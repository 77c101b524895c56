"""GridTokenX gateway: validates signed readings from MQTT and stores them exactly once.

In-process use (e.g. beside the mint worker)::

    from gateway import Gateway, GatewayConfig
    gw = Gateway(GatewayConfig(dsn=..., mqtt_port=..., mqtt_ca_file=..., mqtt_password=...))
    await gw.run(stop_event)   # or gw.stop() from the same loop

Names are imported lazily so ``gateway.mint`` or the CLI do not pay for paho and psycopg.
"""

from __future__ import annotations

from typing import Any

__all__ = ["Gateway", "GatewayConfig"]


def __getattr__(name: str) -> Any:
    if name == "Gateway":
        from gateway._service import Gateway

        return Gateway
    if name == "GatewayConfig":
        from gateway._config import GatewayConfig

        return GatewayConfig
    raise AttributeError(name)

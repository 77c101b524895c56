"""One metrics convention for every service (gateway, mint worker, API, payments relayer).

* A service keeps its metrics in its own registry made by :func:`new_registry`, never in
  prometheus_client's global ``REGISTRY``: two services (or two gateways) sharing a process
  neither collide on a name nor show each other's metrics, and a service's ``/metrics`` lists
  exactly its own names (what ``tests/deploy`` checks the Grafana panels against).
* It serves that registry with :func:`serve_metrics` on ``metrics_host:metrics_port``, two
  settings every service's model declares with :func:`metrics_host_field` /
  :func:`metrics_port_field` (``GRIDX_<PART>_METRICS_HOST`` / ``_PORT``; port 0 picks a free
  one, ``None`` serves nothing). The default host is loopback; a container sets ``0.0.0.0`` so
  Prometheus can reach it.

prometheus_client is imported lazily: the light ``[edge]`` install has no metrics and no client.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from pydantic import Field

if TYPE_CHECKING:
    from wsgiref.simple_server import WSGIServer

    from prometheus_client import CollectorRegistry

__all__ = [
    "DEFAULT_METRICS_HOST",
    "MetricsServer",
    "exported_names",
    "metrics_host_field",
    "metrics_port_field",
    "new_registry",
    "serve_metrics",
]

DEFAULT_METRICS_HOST = "127.0.0.1"


def new_registry() -> CollectorRegistry:
    """A registry of one service's metrics (not the process-global one)."""
    from prometheus_client import CollectorRegistry

    return CollectorRegistry(auto_describe=True)


def metrics_host_field(default: str = DEFAULT_METRICS_HOST) -> Any:
    return Field(default, min_length=1)


def metrics_port_field(default: int | None) -> Any:
    """``None``: no metrics endpoint; 0: any free port (tests; read :attr:`MetricsServer.port`)."""
    return Field(default, ge=0, le=65535)


@dataclass
class MetricsServer:
    """A ``/metrics`` endpoint serving one registry from a daemon thread."""

    host: str
    port: int
    _server: WSGIServer

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()


def serve_metrics(registry: CollectorRegistry, host: str, port: int) -> MetricsServer:
    """Serve ``registry`` at ``http://host:port/metrics`` until :meth:`MetricsServer.close`."""
    from prometheus_client import start_http_server

    server, _thread = start_http_server(port, addr=host, registry=registry)
    return MetricsServer(host, int(server.server_port), server)


def exported_names(registry: CollectorRegistry) -> set[str]:
    """Every sample name ``registry`` serves (counters as ``_total``, histograms as ``_bucket``…),
    including those of labelled metrics that have no label values yet."""
    suffixes = {"counter": ("_total",), "gauge": ("",), "histogram": ("_bucket", "_sum", "_count")}
    names: set[str] = set()
    for family in registry.collect():
        names |= {s.name for s in family.samples}
        names |= {family.name + suffix for suffix in suffixes.get(family.type, ())}
    return names

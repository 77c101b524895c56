"""The metrics convention (gridx.metrics): every service's metrics in its own registry, none in
prometheus_client's global one, served on the configured host and port."""

from __future__ import annotations

import urllib.error
import urllib.request

import pytest
from prometheus_client import REGISTRY, CollectorRegistry, Counter, Histogram

from gridx.metrics import exported_names, new_registry, serve_metrics


def _scrape(host: str, port: int) -> str:
    with urllib.request.urlopen(f"http://{host}:{port}/metrics", timeout=5) as resp:
        return str(resp.read().decode())


def _service_registries() -> tuple[dict[str, CollectorRegistry], CollectorRegistry]:
    from backend._metrics import REGISTRY as API
    from backend.payments._relayer import REGISTRY as RELAYER
    from gateway._metrics import Metrics
    from gateway.mint._metrics import MintMetrics

    return {"gridx_gateway_": Metrics().registry, "gridx_mint": MintMetrics().registry, "gridx_api_": API}, RELAYER


def test_no_service_registers_in_the_global_registry() -> None:
    registries, relayer = _service_registries()  # importing and building every service's metrics
    mine = {n for f in REGISTRY.collect() for n in [f.name] if n.startswith("gridx_")}
    assert not mine, f"in prometheus_client's global registry: {mine}"
    for prefix, registry in registries.items():
        names = exported_names(registry)
        assert names and all(n.startswith(prefix) for n in names), (prefix, names)
    assert exported_names(relayer) >= {"gridx_swap_submissions_total", "gridx_swap_chain_unreachable_total"}


def test_each_service_registry_is_its_own() -> None:
    from gateway._metrics import Metrics
    from gateway.mint._metrics import MintMetrics

    a, b = Metrics(), Metrics()  # two gateways in one process (tests, the bench): no name clash
    a.accepted.inc(3)
    assert b.registry.get_sample_value("gridx_gateway_readings_accepted_total") == 0
    m1, m2 = MintMetrics(), MintMetrics()
    m1.outcomes.labels("confirmed", "").inc()
    assert m2.registry.get_sample_value("gridx_mints_total", {"outcome": "confirmed", "reason": ""}) is None


def test_served_on_the_configured_host_only() -> None:
    registry = new_registry()
    Counter("gridx_probe_events", "probe", ["kind"], registry=registry).labels("a").inc(2)
    server = serve_metrics(registry, "127.0.0.2", 0)
    try:
        text = _scrape("127.0.0.2", server.port)
        assert 'gridx_probe_events_total{kind="a"} 2.0' in text
        with pytest.raises(urllib.error.URLError):  # loopback 127.0.0.1 is another address
            _scrape("127.0.0.1", server.port)
    finally:
        server.close()
    with pytest.raises(urllib.error.URLError):  # closed: the port is released
        _scrape("127.0.0.2", server.port)


def test_exported_names_cover_labelled_metrics_without_values() -> None:
    registry = new_registry()
    Counter("gridx_x", "x", ["outcome"], registry=registry)
    Histogram("gridx_y_seconds", "y", ["kind"], registry=registry)
    names = exported_names(registry)
    assert {"gridx_x_total", "gridx_y_seconds_bucket", "gridx_y_seconds_count", "gridx_y_seconds_sum"} <= names
    assert "gridx_x" not in names  # a panel naming the bare counter family would show nothing

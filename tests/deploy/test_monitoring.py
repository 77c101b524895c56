"""Prometheus scrape config (promtool-style) and the Grafana dashboard, against what the code exports."""

from __future__ import annotations

import json
import re
from typing import Any

import jsonschema
import yaml

from gridx.metrics import exported_names
from tests.deploy._files import DEPLOY, compose, env_of

PROM = DEPLOY / "prometheus" / "prometheus.yml"
DASHBOARDS = sorted((DEPLOY / "grafana" / "dashboards").glob("*.json"))
DURATION = re.compile(r"^\d+(ms|s|m|h|d)$")

# the parts of Grafana's dashboard model that provisioning and these panels rely on
DASHBOARD_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["uid", "title", "schemaVersion", "panels", "time"],
    "properties": {
        "uid": {"type": "string", "pattern": "^[A-Za-z0-9_-]{1,40}$"},
        "title": {"type": "string", "minLength": 1},
        "schemaVersion": {"type": "integer", "minimum": 30},
        "time": {"type": "object", "required": ["from", "to"]},
        "refresh": {"type": "string", "pattern": r"^\d+[smh]$"},
        "panels": {
            "type": "array",
            "minItems": 1,
            "items": {
                "type": "object",
                "required": ["id", "type", "title", "gridPos", "datasource", "targets"],
                "properties": {
                    "id": {"type": "integer"},
                    "type": {"enum": ["timeseries", "stat", "gauge", "bargauge", "table"]},
                    "gridPos": {
                        "type": "object",
                        "required": ["h", "w", "x", "y"],
                        "properties": {
                            "w": {"type": "integer", "minimum": 1, "maximum": 24},
                            "x": {"type": "integer", "minimum": 0, "maximum": 23},
                        },
                    },
                    "datasource": {"$ref": "#/$defs/ds"},
                    "targets": {
                        "type": "array",
                        "minItems": 1,
                        "items": {
                            "type": "object",
                            "required": ["refId", "expr", "datasource"],
                            "properties": {
                                "expr": {"type": "string", "minLength": 1},
                                "datasource": {"$ref": "#/$defs/ds"},
                            },
                        },
                    },
                },
            },
        },
    },
    "$defs": {
        "ds": {
            "type": "object",
            "required": ["type", "uid"],
            "properties": {"type": {"const": "prometheus"}, "uid": {"const": "gridx-prometheus"}},
        }
    },
}


def exported_samples() -> dict[str, set[str]]:
    """Every sample name each service's /metrics serves (counters as _total, histograms as
    _bucket…), read from the very registries the services serve (gridx.metrics)."""
    from backend._metrics import REGISTRY as API
    from backend.payments._relayer import REGISTRY as RELAYER
    from gateway._metrics import Metrics
    from gateway.mint._metrics import MintMetrics

    registries = {"gateway": Metrics().registry, "mint": MintMetrics().registry, "api": API, "relayer": RELAYER}
    return {part: exported_names(registry) for part, registry in registries.items()}


def metrics_listener(service: str) -> tuple[str, str]:
    """(host, port) the compose service serves /metrics on, from the configuration it reads."""
    if service == "relayer":  # its settings are a JSON file (deploy/relayer.example.json)
        from backend.payments._relayer import RelayerSettings

        cfg = RelayerSettings.model_validate_json((DEPLOY / "relayer.example.json").read_text())
        return cfg.metrics_host, str(cfg.metrics_port)
    env = env_of(compose()["services"][service])
    prefix = f"GRIDX_{service.upper()}_"
    return env[f"{prefix}METRICS_HOST"], env[f"{prefix}METRICS_PORT"]


def prom_config() -> dict[str, Any]:
    data = yaml.safe_load(PROM.read_text())
    assert isinstance(data, dict)
    return data


def test_prometheus_config_is_well_formed() -> None:
    cfg = prom_config()
    assert set(cfg) <= {"global", "scrape_configs", "rule_files", "alerting"}
    for key in ("scrape_interval", "evaluation_interval"):
        assert DURATION.match(cfg["global"][key])
    jobs = [j["job_name"] for j in cfg["scrape_configs"]]
    assert len(jobs) == len(set(jobs)), "job names are unique"
    for job in cfg["scrape_configs"]:
        assert set(job) <= {"job_name", "metrics_path", "static_configs", "scrape_interval"}
        assert job.get("metrics_path", "/metrics").startswith("/")
        for sc in job["static_configs"]:
            for target in sc["targets"]:
                assert re.match(r"^[a-z0-9-]+:\d{1,5}$", target), target


def test_scrape_targets_are_compose_services_serving_metrics_there() -> None:
    services = compose()["services"]
    scraped: set[str] = set()
    for job in prom_config()["scrape_configs"]:
        for sc in job["static_configs"]:
            for target in sc["targets"]:
                host, port = target.split(":")
                assert host in services, f"{target}: no such compose service"
                assert metrics_listener(host) == ("0.0.0.0", port), f"{target}: not where the service listens"
                assert port in services[host].get("expose", []), f"{target}: port not exposed"
                assert "network_mode" not in services[host]
                scraped.add(host)
    assert {"gateway", "mint", "api", "relayer"} <= scraped, "every service that serves metrics is scraped"
    assert "prometheus" in services and "./prometheus/prometheus.yml" in services["prometheus"]["volumes"][0]


def test_dashboards_validate_and_use_only_exported_metrics() -> None:
    assert DASHBOARDS, "one dashboard ships"
    by_part = exported_samples()
    exported = set().union(*by_part.values())
    for path in DASHBOARDS:
        dash = json.loads(path.read_text())
        jsonschema.validate(dash, DASHBOARD_SCHEMA)
        ids = [p["id"] for p in dash["panels"]]
        assert len(ids) == len(set(ids))
        used = set()
        for panel in dash["panels"]:
            for target in panel["targets"]:
                names = set(re.findall(r"\bgridx_[a-z0-9_]+", target["expr"]))
                assert names, f"{panel['title']}: no gridx metric"
                unknown = names - exported
                assert not unknown, f"{panel['title']}: {unknown} are not exported"
                used |= names
        assert {"gridx_gateway_readings_accepted_total", "gridx_gateway_readings_rejected_total"} <= used
        # every service that serves metrics has panels on the one dashboard
        for part, names in by_part.items():
            assert used & names, f"no panel shows the {part}'s metrics"
        assert {"gridx_mints_total", "gridx_mints_pending", "gridx_api_http_requests_total"} <= used


def test_grafana_provisioning_points_at_the_dashboards_and_prometheus() -> None:
    prov = DEPLOY / "grafana" / "provisioning"
    ds = yaml.safe_load((prov / "datasources" / "prometheus.yaml").read_text())["datasources"][0]
    assert ds["uid"] == "gridx-prometheus" and ds["url"] == "http://prometheus:9090"
    dashboards = yaml.safe_load((prov / "dashboards" / "gridx.yaml").read_text())["providers"][0]
    mounts = compose()["services"]["grafana"]["volumes"]
    assert f"./grafana/dashboards:{dashboards['options']['path']}:ro" in mounts

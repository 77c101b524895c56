"""compose.yaml checked without a container engine: references, pins, the env each part reads."""

from __future__ import annotations

import os
import re
from typing import Any

import pytest
from pydantic_settings import BaseSettings

from backend._config import ApiSettings
from edge.config import EdgeConfig
from gateway._config import GatewayConfig
from gateway.mint import MintSettings
from gridx.paths import ROOT
from tests.deploy._files import (
    CONTAINERS,
    DEPLOY,
    compose,
    containerfile,
    containerfile_env,
    env_of,
    secret_assignments,
)

# variables read outside the settings models (gridx.paths, gridx.chain._svm)
PROCESS_WIDE = {"GRIDX_DSN", "GRIDX_RPC_URL", "GRIDX_SECRETS_DIR", "GRIDX_RUN_DIR", "GRIDX_PROGRAM_DIR"}
MODELS: tuple[type[BaseSettings], ...] = (GatewayConfig, MintSettings, EdgeConfig, ApiSettings)
PINNED = re.compile(r"^[\w.\-/]+:v?\d+\.\d+\.\d+[\w.\-]*$")
SERVICE_KEYS = {"image", "build", "command", "environment", "env_file", "secrets", "volumes", "ports", "expose"}
SERVICE_KEYS |= {"depends_on", "restart", "healthcheck", "network_mode"}


def known_names() -> set[str]:
    names = set(PROCESS_WIDE)
    for model in MODELS:
        prefix = str(model.model_config.get("env_prefix", ""))
        for name, field in model.model_fields.items():
            names.add(f"{prefix}{name}".upper())
            alias = field.validation_alias
            for choice in getattr(alias, "choices", []):
                if isinstance(choice, str) and choice.startswith("GRIDX_"):
                    names.add(choice)
    return names


def services() -> dict[str, dict[str, Any]]:
    s = compose()["services"]
    assert isinstance(s, dict)
    return s


def test_top_level_shape() -> None:
    data = compose()
    assert set(data) <= {"name", "services", "secrets", "volumes", "x-gridx-env"}
    for name, svc in services().items():
        assert set(svc) <= SERVICE_KEYS, f"{name}: unknown keys {set(svc) - SERVICE_KEYS}"
        assert "image" in svc or "build" in svc
        assert svc.get("restart") in {"unless-stopped", "no"}


def test_builds_use_the_containerfiles_and_images_are_pinned() -> None:
    built = set()
    for name, svc in services().items():
        if "build" in svc:
            assert (DEPLOY / svc["build"]["context"]).resolve() == ROOT
            assert (ROOT / svc["build"]["dockerfile"]).parent == CONTAINERS
            assert (ROOT / svc["build"]["dockerfile"]).is_file(), name
            built.add(svc["image"])
    used = {p.name.split(".")[0] for p in CONTAINERS.glob("*.Containerfile")}
    assert {svc["image"].rsplit("-", 1)[-1] for svc in services().values() if "build" in svc} == used
    for name, svc in services().items():
        if "build" not in svc:
            assert svc["image"] in built or PINNED.match(svc["image"]), f"{name}: unpinned {svc['image']}"
    assert services()["db"]["image"].startswith("docker.io/timescale/timescaledb:")
    assert "eclipse-mosquitto" in services()["broker"]["image"]


def test_references_resolve() -> None:
    data, svcs = compose(), services()
    for name, svc in svcs.items():
        deps = svc.get("depends_on", {})
        for dep in deps:
            assert dep in svcs and dep != name, f"{name} depends on unknown {dep}"
        mode = svc.get("network_mode", "")
        if mode:
            assert mode.startswith("service:") and mode.split(":", 1)[1] in deps
        for secret in svc.get("secrets", []):
            assert secret in data["secrets"]
        for vol in svc.get("volumes", []):
            src = vol.split(":")[0]
            if src.startswith("."):
                # bind mounts: secrets are generated on the host (gitignored); the rest is in the repo
                assert src.startswith("./.secrets/") or (DEPLOY / src).exists(), f"{name}: missing {src}"
            else:
                assert src in data["volumes"], f"{name}: undeclared volume {src}"
        for f in svc.get("env_file", []):
            assert f.startswith("./.secrets/"), "env files hold secrets: generated, never committed"
    for spec in data["secrets"].values():
        assert spec["file"].startswith("./.secrets/")


def test_every_gridx_variable_is_read_by_a_settings_model() -> None:
    known = known_names()
    seen = set()
    for name, svc in services().items():
        for var in env_of(svc):
            if var.startswith("GRIDX_"):
                assert var in known, f"{name}: {var} is read by nobody"
                seen.add(var)
    for path in CONTAINERS.glob("*.Containerfile"):
        for var in containerfile_env(path):
            if var.startswith("GRIDX_"):
                assert var in known, f"{path.name}: {var} is read by nobody"
    assert {"GRIDX_DSN", "GRIDX_RPC_URL"} <= seen


def test_no_secret_values_inline() -> None:
    for name, svc in services().items():
        for var, value in env_of(svc).items():
            if secret_assignments(f"{var}="):
                pytest.fail(f"{name}: {var}={value} inline; use env_file or secrets")
        assert ":" not in env_of(svc).get("GRIDX_DSN", "x@").split("@")[0].removeprefix("postgresql://")


@pytest.mark.parametrize(
    ("service", "model"), [("gateway", GatewayConfig), ("mint", MintSettings), ("api", ApiSettings)]
)
def test_the_parts_load_their_settings_from_the_compose_env(
    service: str, model: type[BaseSettings], monkeypatch: pytest.MonkeyPatch
) -> None:
    svc = services()[service]
    for var in [v for v in os.environ if v.startswith("GRIDX_")]:
        monkeypatch.delenv(var)
    for var, value in env_of(svc).items():
        monkeypatch.setenv(var, value)
    if service == "gateway":
        monkeypatch.setenv("GRIDX_GATEWAY_MQTT_PASSWORD", "from-the-env-file")  # what env_file supplies
    settings = model()
    assert settings.dsn.startswith("postgresql://gridx@db:5432/")  # type: ignore[attr-defined]
    assert settings.metrics_host == "0.0.0.0"  # type: ignore[attr-defined]  # scraped from another container
    if service != "gateway":  # the gateway talks to no chain
        assert settings.rpc_url == "http://chain:8899"  # type: ignore[attr-defined]


def test_relayer_example_config_is_what_the_relayer_reads() -> None:
    from backend.payments._relayer import RelayerSettings

    example = RelayerSettings.model_validate_json((DEPLOY / "relayer.example.json").read_text())
    assert example.dsn == env_of(services()["gateway"])["GRIDX_DSN"]
    relayer = services()["relayer"]
    assert any(v.endswith(":/etc/gridx/relayer.json:ro") for v in relayer["volumes"])
    # the chain node as the other services reach it, and /metrics where Prometheus scrapes it
    assert example.sol_url == env_of(services()["mint"])["GRIDX_RPC_URL"]
    assert example.metrics_host == "0.0.0.0" and relayer["expose"] == [str(example.metrics_port)]
    assert "network_mode" not in relayer


@pytest.mark.parametrize("part", ["gateway", "mint", "api"])
def test_ports_agree_between_compose_containerfile_and_settings(part: str) -> None:
    svc = services()[part]
    env, prefix = env_of(svc), f"GRIDX_{part.upper()}_"
    port = env[f"{prefix}METRICS_PORT"]
    assert env[f"{prefix}METRICS_HOST"] == "0.0.0.0", "scraped from another container"
    assert port in svc["expose"]
    exposes = " ".join(i.args for i in containerfile(CONTAINERS / f"{part}.Containerfile") if i.op == "EXPOSE")
    assert port in exposes.split()
    image_env = containerfile_env(CONTAINERS / f"{part}.Containerfile")
    assert image_env[f"{prefix}METRICS_PORT"] == port and image_env[f"{prefix}METRICS_HOST"] == "0.0.0.0"


def test_the_chain_node_is_reached_over_the_compose_network() -> None:
    chain = services()["chain"]
    assert chain["command"][-2:] == ["--host", "0.0.0.0"] and "ports" not in chain, "never published"
    for name, svc in services().items():
        assert "network_mode" not in svc, name
        assert not env_of(svc).get("GRIDX_RPC_URL", "").startswith("http://127.0.0.1"), name


def test_broker_config_matches_the_production_one() -> None:
    def directives(text: str) -> list[str]:
        return [ln.strip() for ln in text.splitlines() if ln.strip() and not ln.lstrip().startswith("#")]

    container_only = ("user ", "pid_file ", "log_dest ", "persistence_location ")
    prod = [
        d for d in directives((ROOT / "mosquitto" / "mosquitto.conf").read_text()) if not d.startswith(container_only)
    ]
    ours = [d for d in directives((DEPLOY / "mosquitto.conf").read_text()) if not d.startswith(container_only)]
    assert ours == prod

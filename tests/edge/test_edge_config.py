"""Edge provisioning and configuration (file + GRIDX_EDGE_* environment)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from nacl.signing import VerifyKey
from typer.testing import CliRunner

from edge.config import load_config
from edge.keys import load_key
from gridx.cli import app
from gridx.errors import ConfigError


def test_provision_creates_private_keys_and_a_loadable_config(tmp_path: Path) -> None:
    keys, cfg = tmp_path / "keys", tmp_path / "edge.toml"
    args = ["edge", "provision", "--edge-id", "edge-p", "--meters", "198-201", "--modbus-port", "6000"]
    args += ["--keys-dir", str(keys), "--config-out", str(cfg), "--interval-s", "900"]
    first = CliRunner().invoke(app, args)
    assert first.exit_code == 0, first.output
    enrol = [json.loads(line) for line in first.output.splitlines()]
    assert [e["meter_id"] for e in enrol] == [f"GTX-SIM-{i:06d}" for i in range(198, 202)]
    assert {e["edge_id"] for e in enrol} == {"edge-p"}
    assert {e["owner_type"] for e in enrol} <= {"prosumer", "consumer"}
    assert all(e["rated_power_w"] == 14_000 for e in enrol)
    for e in enrol:
        path = keys / f"{e['meter_id']}.key"
        assert path.stat().st_mode & 0o777 == 0o600
        assert load_key(keys, e["meter_id"]).verify_key == VerifyKey(bytes.fromhex(e["pubkey"]))
    # provisioning again keeps the enrolled keys
    again = CliRunner().invoke(app, args)
    assert [json.loads(line) for line in again.output.splitlines()] == enrol

    c = load_config(cfg)
    assert c.edge_id == "edge-p" and c.interval_s == 900
    # meters 198, 199 on the first port (units 199, 200), 200 and 201 on the next (units 1, 2)
    assert [(m.port, m.unit) for m in c.meters] == [(6000, 199), (6000, 200), (6001, 1), (6001, 2)]


def test_environment_overrides_the_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cfg = tmp_path / "edge.json"
    cfg.write_text(
        json.dumps(
            {
                "edge_id": "edge-j",
                "keys_dir": str(tmp_path),
                "outbox_path": str(tmp_path / "o.sqlite"),
                "mqtt_port": 1,
                "meters": [{"meter_id": "m1", "port": 5020, "unit": 1}],
            }
        )
    )
    monkeypatch.setenv("GRIDX_EDGE_MQTT_PORT", "8884")
    monkeypatch.setenv("GRIDX_EDGE_MQTT_PASSWORD", "from-env")
    c = load_config(cfg)
    assert c.mqtt_port == 8884 and c.password() == "from-env"


def test_bad_config_and_loose_key_files_are_named_errors(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text('edge_id = "e"\n')
    with pytest.raises(ConfigError):
        load_config(bad)
    loose = tmp_path / "m1.key"
    loose.write_text("00" * 32)
    loose.chmod(0o644)
    with pytest.raises(ConfigError):
        load_key(tmp_path, "m1")


def test_batches_are_cut_below_the_wire_size_limit() -> None:
    from edge._publisher import _within_bytes
    from gridx.wire import MAX_BATCH_BYTES

    rows = [(i, "x" * 2000) for i in range(1, 501)]
    cut = _within_bytes(rows)
    assert cut == rows[: len(cut)] and 0 < len(cut) < len(rows)
    assert sum(len(b) + 1 for _, b in cut) < MAX_BATCH_BYTES
    assert _within_bytes(rows[:3]) == rows[:3]


def test_the_gateway_name_is_not_an_edge_id(tmp_path: Path) -> None:
    cfg = tmp_path / "edge.json"
    cfg.write_text(json.dumps({"edge_id": "gateway", "keys_dir": "k", "outbox_path": "o", "meters": []}))
    with pytest.raises(ConfigError):
        load_config(cfg)

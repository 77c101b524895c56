"""``gridx trade``: Flow 3 from a terminal, signing with a keypair file."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from solders.keypair import Keypair
from typer.testing import CliRunner

import gridx.chain as c
from gridx.cli import app
from tests.backend.api.conftest import SOL, UNIT, Stack, mint_grxe


def test_trade_cli_walkthrough(stack: Stack, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GRIDX_SECRETS_DIR", str(tmp_path / "secrets"))
    monkeypatch.setenv("GRIDX_API_URL", stack.url)
    kp = Keypair()
    key = tmp_path / "wallet.json"
    c.save_keypair(key, kp)
    stack.wallets[str(kp.pubkey())] = kp  # what the walk-through leaves in the book gets cancelled
    c.run_on_chain(stack.rpc_url, lambda cl: c.airdrop(cl, kp.pubkey(), SOL))
    runner = CliRunner()

    def gridx(*args: str) -> Any:
        res = runner.invoke(app, ["trade", *args])
        assert res.exit_code == 0, (args, res.output, res.exception)
        return json.loads(res.output)

    assert gridx("login", "--keypair", str(key)) == {"wallet": str(kp.pubkey()), "signed_in": True}
    assert gridx("register", "prosumer", "--keypair", str(key))["status"] == "confirmed"
    mint_grxe(stack, kp, [5 * UNIT])
    assert gridx("balance", "--keypair", str(key))["grxe"] == 5 * UNIT
    order = gridx("sell", "2", "3.5", "--keypair", str(key))
    assert order["status"] == "confirmed"
    assert gridx("balance", "--keypair", str(key))["grxe"] == 3 * UNIT
    cancelled = gridx("cancel", str(order["order_id"]), "--keypair", str(key))
    assert cancelled["status"] == "confirmed"
    assert gridx("balance", "--keypair", str(key))["grxe"] == 5 * UNIT
    assert "asks" in gridx("book")
    assert isinstance(gridx("trades", "--keypair", str(key), "--mine"), list)
    bad = runner.invoke(app, ["trade", "sell", "1.0000001", "1", "--keypair", str(key)])
    assert bad.exit_code != 0


def test_trade_cli_enrols_a_meter_from_the_edge_proof(
    stack: Stack, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``gridx edge enrol-proof`` where the meter key lives, its JSON into ``gridx trade enrol -``."""
    from edge.keys import ensure_key

    monkeypatch.setenv("GRIDX_SECRETS_DIR", str(tmp_path / "secrets"))
    monkeypatch.setenv("GRIDX_API_URL", stack.url)
    kp, key = Keypair(), tmp_path / "wallet.json"
    c.save_keypair(key, kp)
    c.run_on_chain(stack.rpc_url, lambda cl: c.airdrop(cl, kp.pubkey(), SOL))
    c.run_on_chain(stack.rpc_url, lambda cl: c.authorize_edge(cl, "cli-edge", stack.keys))
    ensure_key(tmp_path / "meters", "roof-1")
    runner = CliRunner()
    edge = ["edge", "enrol-proof", "--edge-id", "cli-edge", "--meter-id", "roof-1", "--owner", str(kp.pubkey())]
    proof = runner.invoke(app, [*edge, "--keys-dir", str(tmp_path / "meters")])
    assert proof.exit_code == 0, proof.output
    assert runner.invoke(app, ["trade", "register", "prosumer", "--keypair", str(key)]).exit_code == 0
    enrol = ["trade", "enrol", "-", "--rated-power-w", "5000", "--keypair", str(key)]
    res = runner.invoke(app, enrol, input=proof.stdout)
    assert res.exit_code == 0, (res.output, res.exception)
    assert json.loads(res.output)["status"] == "confirmed"
    res = runner.invoke(app, ["trade", "meters", "--keypair", str(key)])
    assert res.exit_code == 0, res.output
    [meter] = json.loads(res.output)
    assert (meter["meter_id"], meter["edge_id"], meter["rated_power_w"], meter["status"]) == (
        "roof-1",
        "cli-edge",
        5000,
        "active",
    )
    assert meter["pubkey"] == json.loads(proof.stdout)["pubkey"]

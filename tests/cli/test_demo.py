"""`make demo`'s job, shortened: every part as its own process (meters, edge, broker, gateway,
mint worker, chain node, EVM node, relayer, the API with its matcher and indexer), readings →
mints, then the market step through the HTTP API (a purchase paid in THB on the EVM chain, one
paid in GRX) and `gridx prove`. A first run is interrupted the way Ctrl-C does it; the second,
in the same directories, plays the user's Flow 4 (`--flow4`, A's meter scripted) and every
figure of its summary is checked exactly; it must work without any cleanup and leave no process
behind either. The `--load` run checks the plain market step beside background trading."""

from __future__ import annotations

import json
import os
import signal
import subprocess
from pathlib import Path
from typing import Any

import pytest

from gridx.paths import ROOT
from gridx.services import gridx_command, remove_run_tree

UNIT = 1_000_000
LOT = 1_000


def _processes_of(run: Path) -> list[str]:
    """Live processes started for this run: its directory in their command line or environment."""
    found = []
    for d in Path("/proc").iterdir():
        if not d.name.isdigit() or int(d.name) == os.getpid():
            continue
        try:
            cmd = (d / "cmdline").read_bytes().replace(b"\0", b" ")
            env = (d / "environ").read_bytes()
            state = next(ln for ln in (d / "status").read_text().splitlines() if ln.startswith("State:"))
        except (OSError, StopIteration):
            continue  # gone meanwhile
        if "zombie" not in state and (str(run).encode() in cmd or f"GRIDX_RUN_DIR={run}".encode() in env):
            found.append(f"{d.name}: {cmd.decode(errors='replace')[:120]}")
    return found


def _interrupt_once_running(env: dict[str, str]) -> tuple[int, str]:
    """Start the demo in its own process group, wait for its first progress line, then send
    SIGINT to the whole group, as a terminal's Ctrl-C does."""
    proc = subprocess.Popen(
        gridx_command("demo", "--meters", "4", "--seconds", "600"),
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=ROOT,
        start_new_session=True,
    )
    assert proc.stdout is not None
    seen = []
    for line in proc.stdout:
        seen.append(line)
        if line.startswith("readings="):
            break
    os.killpg(proc.pid, signal.SIGINT)
    _out, err = proc.communicate(timeout=180)
    assert seen and seen[-1].startswith("readings="), "".join(seen)[-2000:] + err[-2000:]
    return proc.returncode, err


def _check_market(out: dict[str, Any]) -> None:
    """The market step of a plain run (what holds with --load trading beside it too): A (the
    top prosumer) sells half its GRXE (whole lots) at 3 GRX/kWh; B pays two thirds of it in THB
    (a hash-locked swap) and the rest in GRX; A offers what is left at 3.5 GRX/kWh."""
    held = out["seller_held_grxe"]
    sold = held // 2 // LOT * LOT
    in_grx = sold // 3 // LOT * LOT
    assert out["sold_grxe"] == sold > 0 and out["buyer_grxe"] == sold
    assert out["sold_thb_grxe"] == sold - in_grx > 0 and out["sold_grx_grxe"] == in_grx
    # THB: 3 GRX/kWh x 10 THB/GRX, THBC base units (6 decimals) read back from the EVM chain:
    # exactly what B was quoted and paid is what A received
    assert out["thb_quote"] == out["thbc_paid"] == out["thbc_received"] == (sold - in_grx) * 30
    assert out["thb_lock_closed"] is True and len(out["thb_swap_id"]) == 36
    assert out["trades"] == 1 + (in_grx > 0) and len(out["trade_seconds"]) == out["trades"]
    assert out["grx_paid"] == out["buyer_grx_spent"] == in_grx * 3
    # the rest is escrowed by the offer, so A's account keeps only what is below a lot; its
    # THB quote: 3.5 GRX/kWh x 10 THB/GRX
    assert out["open_offer_grxe"] == (held - sold) // LOT * LOT
    assert out["open_offer_thbc_quote"] == out["open_offer_grxe"] * 35
    assert out["a_grxe"] == held - sold - out["open_offer_grxe"]
    assert out["a_produced_wh"] - out["a_consumed_wh"] <= out["a_surplus_wh"]
    # the fleet stopped and every stored window was minted before A's day is read
    assert out["mints_pending"] == out["mints_closed"] == 0
    assert out["a_minted_grxe"] == out["a_surplus_wh"] * 1000 > 0
    assert out["proof_verified"] is True and out["trading_drift"] == 0
    assert out["dashboard_accepted"] == out["readings"] and out["dashboard_meters"] > 0
    assert out["dashboard_mints"] == min(20, out["mints_confirmed"]) and out["dashboard_proof_verified"] is True


def _check_flow4(out: dict[str, Any], stdout: str) -> None:
    """The user's Flow 4 with its own figures (A's meter scripted, every step through the API)."""
    assert out["readings"] > 0 and out["quarantined"] == 0 and out["mints_pending"] == out["mints_closed"] == 0
    assert out["grxe_supply"] == out["minted_grxe"] == out["grxe_minted"] and out["reconcile_drift"] == 0
    # 08:00-12:00 2, 8 and 13 kWh of surplus mint 23 GRXE; 14:00-18:00 10, 7 and 2 more
    assert out["a_mints_grxe"] == [x * UNIT for x in (2, 8, 13, 10, 7, 2)]
    assert out["a_minted_grxe"] == out["seller_held_grxe"] == 42 * UNIT == out["a_surplus_wh"] * 1000
    assert (out["a_produced_wh"], out["a_consumed_wh"]) == (42_000, 0)
    # 12:30 A sells 15 of its 23 GRXE at 3 GRX/kWh: 15 escrowed, 8 kept
    assert (out["a_held_at_sale"], out["a_kept_at_sale"], out["sold_thb_grxe"]) == (23 * UNIT, 8 * UNIT, 15 * UNIT)
    # 13:05 B pays 450 THBC (15 kWh x 3 GRX x 10 THB/GRX), read back from the EVM chain on both
    # sides; the swap completed and A closed its hash lock
    assert out["thb_quote"] == out["thbc_paid"] == out["thbc_received"] == 450 * UNIT
    assert out["thb_lock_closed"] is True
    # A offers 12 GRXE at 3.5 GRX/kWh; B's smaller purchase paid in GRX: 2 GRXE for 7 GRX; the
    # 10 left are quoted at 350 THBC
    assert (out["sold_grx_grxe"], out["grx_paid"], out["buyer_grx_spent"]) == (2 * UNIT, 7 * UNIT, 7 * UNIT)
    assert (out["open_offer_grxe"], out["open_offer_thbc_quote"]) == (10 * UNIT, 350 * UNIT)
    assert (out["sold_grxe"], out["trades"], out["buyer_grxe"]) == (17 * UNIT, 2, 17 * UNIT)
    assert len(out["trade_seconds"]) == 2
    # A ends the day with 8 + 19 - 12 GRXE in its account and the 7 GRX
    assert (out["a_grxe"], out["a_grx"]) == (15 * UNIT, 7 * UNIT)
    assert out["proof_verified"] is True and out["trading_drift"] == 0
    assert "ok   hash chain unbroken up to the committed hash" in stdout
    assert out["dashboard_accepted"] == out["readings"] and out["dashboard_proof_verified"] is True


@pytest.mark.slow
def test_demo_interrupted_then_rerun(tmp_path: Path) -> None:
    run = ROOT / ".run" / "pytest" / f"demo-{os.getpid()}"
    env = {**os.environ, "GRIDX_RUN_DIR": str(run), "GRIDX_SECRETS_DIR": str(tmp_path / "secrets")}
    try:
        code, err = _interrupt_once_running(env)
        assert code == 130 and "interrupted" in err, err[-3000:]
        assert _processes_of(run) == []
        res = subprocess.run(
            gridx_command("demo", "--meters", "6", "--flow4"),
            env=env,
            capture_output=True,
            text=True,
            timeout=600,
            cwd=ROOT,
        )
    finally:
        remove_run_tree(run)  # its cluster too, which a clone under /root keeps in the temp dir
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-3000:]
    _check_flow4(json.loads(res.stdout.strip().splitlines()[-1]), res.stdout)
    assert _processes_of(run) == []


@pytest.mark.slow
def test_demo_load_trades_in_the_background(tmp_path: Path) -> None:
    """`gridx demo --load`: prosumers sell and a buyer takes it over the API while the fleet
    runs; every load trade settles, nothing is refused, and chain and database still agree."""
    run = ROOT / ".run" / "pytest" / f"demo-load-{os.getpid()}"
    env = {**os.environ, "GRIDX_RUN_DIR": str(run), "GRIDX_SECRETS_DIR": str(tmp_path / "secrets")}
    try:
        res = subprocess.run(
            gridx_command("demo", "--meters", "8", "--hours", "1", "--load"),
            env=env,
            capture_output=True,
            text=True,
            timeout=900,
            cwd=ROOT,
        )
    finally:
        remove_run_tree(run)
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-3000:]
    out = json.loads(res.stdout.strip().splitlines()[-1])
    _check_market(out)
    assert out["load_trades"] > 0 and out["load_grxe"] >= out["load_trades"] * 100 * LOT
    assert out["load_errors"] == {}
    assert out["reconcile_drift"] == 0 and out["trading_drift"] == 0 and out["grxe_supply"] == out["minted_grxe"]
    assert out["trades"] == 2 and out["proof_verified"] is True
    assert _processes_of(run) == []

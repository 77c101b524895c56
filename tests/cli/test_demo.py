"""`make demo`'s job, shortened: every part as its own process (meters, edge, broker, gateway,
mint worker, chain node, the API with its matcher and indexer), readings → mints, then the
market step through the HTTP API (a purchase paid in THB on the EVM chain, one paid in GRX)
and `gridx prove`; every figure of the summary is checked.
A first run is interrupted the way Ctrl-C does it; the second, in the same directories, must
work without any cleanup and leave no process behind either."""

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


def _check_figures(out: dict[str, Any], stdout: str) -> None:
    assert out["readings"] > 0 and out["quarantined"] == 0
    assert out["mints_confirmed"] > 0 and out["mints_pending"] == 0
    assert out["grxe_supply"] == out["minted_grxe"] == out["grxe_minted"] and out["reconcile_drift"] == 0
    # the market step: A sells half its GRXE (whole lots) at 3 GRX/kWh; B pays two thirds of it
    # in THB (a hash-locked swap) and the rest in GRX
    minted = out["seller_held_grxe"]
    sold = minted // 2 // LOT * LOT
    in_grx = sold // 3 // LOT * LOT
    assert out["sold_grxe"] == sold > 0 and out["buyer_grxe"] == sold
    assert out["sold_thb_grxe"] == sold - in_grx > 0 and out["sold_grx_grxe"] == in_grx
    # THB: 3 GRX/kWh x 10 THB/GRX, THBC base units (6 decimals) read back from the EVM chain:
    # exactly what B was quoted and paid is what A received (the seed's 15 kWh would be 450 THBC)
    assert out["thb_quote"] == out["thbc_paid"] == out["thbc_received"] == (sold - in_grx) * 30
    assert out["thb_lock_closed"] is True and len(out["thb_swap_id"]) == 36
    assert out["trades"] == 1 + (in_grx > 0) and len(out["trade_seconds"]) == out["trades"]
    assert out["grx_paid"] == out["buyer_grx_spent"] == in_grx * 3
    # then offers the rest at 3.5 GRX/kWh: escrowed, so A's account keeps only what is below a lot
    assert out["open_offer_grxe"] == (minted - sold) // LOT * LOT
    # its THB quote from the API: 3.5 GRX/kWh x 10 THB/GRX, in THBC base units (6 decimals)
    assert out["open_offer_thbc_quote"] == out["open_offer_grxe"] * 35
    assert out["a_grxe"] == minted - sold - out["open_offer_grxe"] and out["a_grx"] == out["grx_paid"]
    # A's day from the API: every window with surplus was minted, 1 Wh = 1,000 base units
    assert out["a_minted_grxe"] == minted == out["a_surplus_wh"] * 1000
    assert out["a_produced_wh"] - out["a_consumed_wh"] <= out["a_surplus_wh"]
    assert out["proof_verified"] is True and out["trading_drift"] == 0
    assert "ok   hash chain unbroken up to the committed hash" in stdout
    # the dashboard's reads on the same day: every stored reading, the mints, the proof verified
    assert out["dashboard_accepted"] == out["readings"] and out["dashboard_meters"] > 0
    assert out["dashboard_mints"] == min(20, out["mints_confirmed"]) and out["dashboard_proof_verified"] is True


@pytest.mark.slow
def test_demo_interrupted_then_rerun(tmp_path: Path) -> None:
    run = ROOT / ".run" / "pytest" / f"demo-{os.getpid()}"
    env = {**os.environ, "GRIDX_RUN_DIR": str(run), "GRIDX_SECRETS_DIR": str(tmp_path / "secrets")}
    try:
        code, err = _interrupt_once_running(env)
        assert code == 130 and "interrupted" in err, err[-3000:]
        assert _processes_of(run) == []
        res = subprocess.run(
            gridx_command("demo", "--meters", "6", "--seconds", "25"),
            env=env,
            capture_output=True,
            text=True,
            timeout=600,
            cwd=ROOT,
        )
    finally:
        remove_run_tree(run)  # its cluster too, which a clone under /root keeps in the temp dir
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-3000:]
    _check_figures(json.loads(res.stdout.strip().splitlines()[-1]), res.stdout)
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
    assert out["load_trades"] > 0 and out["load_grxe"] >= out["load_trades"] * 100 * LOT
    assert out["load_errors"] == {}
    assert out["reconcile_drift"] == 0 and out["trading_drift"] == 0 and out["grxe_supply"] == out["minted_grxe"]
    assert out["trades"] == 2 and out["thbc_paid"] == out["sold_thb_grxe"] * 30 > 0 and out["proof_verified"] is True
    assert _processes_of(run) == []

"""`make demo`'s job, shortened: every part as its own process, a reading → mint → trade."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from gridx.paths import ROOT
from gridx.services import gridx_command, remove_run_tree


@pytest.mark.slow
def test_demo_runs_the_whole_spine(tmp_path: Path) -> None:
    run = ROOT / ".run" / "pytest" / f"demo-{os.getpid()}"
    env = {**os.environ, "GRIDX_RUN_DIR": str(run), "GRIDX_SECRETS_DIR": str(tmp_path / "secrets")}
    try:
        res = subprocess.run(
            gridx_command("demo", "--meters", "6", "--seconds", "25"),
            env=env,
            capture_output=True,
            text=True,
            timeout=240,
            cwd=ROOT,
        )
    finally:
        remove_run_tree(run)  # its cluster too, which a clone under /root keeps in the temp dir
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-3000:]
    out = json.loads(res.stdout.strip().splitlines()[-1])
    assert out["readings"] > 0 and out["quarantined"] == 0
    assert out["mints_confirmed"] > 0 and out["mints_pending"] == 0
    assert out["grxe_supply"] == out["grxe_minted"] and out["reconcile_drift"] == 0
    assert out["buyer_grxe"] == out["traded_grxe"] > 0
    assert out["seller_thbc"] + out["fee_thbc"] == out["traded_grxe"] * 4

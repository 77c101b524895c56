"""The edge on a Pi: ``pip install .[edge]`` into a clean virtualenv brings only what the edge
imports, and that install alone runs the agent and publishes signed readings.

Prints the install size and the agent's resident memory (figures for the README)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from solders.pubkey import Pubkey

from firmware_sim._fleet import Fleet, FleetConfig
from firmware_sim._server import serve_in_thread
from gridx.paths import ROOT
from gridx.services import MosquittoBroker, stop_process
from gridx.wire import readings_topic
from tests.helpers.edge import Collector, modbus_ports, provision_edge, wait_until

pytestmark = pytest.mark.slow

HEAVY = ("web3", "vyper", "litestar", "solana", "solders", "anchorpy", "psycopg", "evm", "prometheus_client")
NOON_BKK = 1_700_000_000 // 86400 * 86400 + 5 * 3600


def _du(path: Path) -> int:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file() and not f.is_symlink())


def _rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


@pytest.fixture(scope="module")
def light_venv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    base = tmp_path_factory.mktemp("light")
    # a copy of what the wheel holds: building in the clone itself would leave build/ behind
    src = base / "src"
    src.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(ROOT / name, src / name)
    for pkg in ("gridx", "edge", "gateway", "backend", "firmware_sim"):
        if (ROOT / pkg).is_dir():
            shutil.copytree(ROOT / pkg, src / pkg, ignore=shutil.ignore_patterns("__pycache__"))
    venv = base / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    before = _du(venv)
    done = subprocess.run(
        [str(venv / "bin" / "pip"), "install", "-q", "--disable-pip-version-check", f"{src}[edge]"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    print(f"\nlight install: {(_du(venv) - before) / 2**20:.1f} MiB added by .[edge]")
    return venv


def test_the_edge_install_holds_none_of_the_heavy_stack(light_venv: Path) -> None:
    probe = "import importlib.util, sys; print(' '.join(m for m in sys.argv[1:] if importlib.util.find_spec(m)))"
    found = subprocess.run(
        [str(light_venv / "bin" / "python"), "-c", probe, *HEAVY], capture_output=True, text=True, check=True
    )
    assert found.stdout.split() == []
    helped = subprocess.run([str(light_venv / "bin" / "gridx"), "edge", "--help"], capture_output=True, text=True)
    assert helped.returncode == 0, helped.stderr
    assert "provision" in helped.stdout and "run" in helped.stdout


def test_the_light_install_makes_the_enrolment_proof(light_venv: Path, tmp_path: Path) -> None:
    """The meter key never leaves the edge: its proof of possession is made there, without the
    Solana stack, over exactly the bytes the registry program checks."""
    from nacl.signing import VerifyKey
    from solders.keypair import Keypair

    from edge.keys import ensure_key
    from gridx.chain import enrolment_message

    pubkey = ensure_key(tmp_path, "pi-meter")
    owner = Keypair().pubkey()
    args = ["edge", "enrol-proof", "--edge-id", "pi", "--meter-id", "pi-meter", "--owner", str(owner)]
    done = subprocess.run(
        [str(light_venv / "bin" / "gridx"), *args, "--keys-dir", str(tmp_path)], capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout)
    assert out["pubkey"] == pubkey
    meter = bytes.fromhex(pubkey)
    VerifyKey(meter).verify(enrolment_message(Pubkey.from_bytes(meter), owner, "pi"), bytes.fromhex(out["proof"]))


def test_the_light_install_publishes_signed_readings(light_venv: Path, broker: MosquittoBroker, tmp_path: Path) -> None:
    n = 3
    port = modbus_ports()
    fleet = Fleet(FleetConfig(count=n, seed=7, speed=60.0, start_s=NOON_BKK))
    cfg, _keys = provision_edge(tmp_path, broker, "light-edge", n, port, interval_s=1, poll_period_s=0.5)
    collector = Collector(broker).start()
    env = {**os.environ, "GRIDX_RUN_DIR": str(tmp_path / "run"), "GRIDX_SECRETS_DIR": str(tmp_path / "secrets")}
    with serve_in_thread(fleet, "127.0.0.1", port):
        agent = subprocess.Popen(
            [str(light_venv / "bin" / "gridx"), "edge", "run", "--config", str(cfg)],
            env=env,
            stderr=(tmp_path / "agent.log").open("wb"),
        )
        try:
            wait_until(lambda: collector.count() >= 2 * n or agent.poll() is not None, 60, "readings")
            assert agent.poll() is None, (tmp_path / "agent.log").read_text()[-2000:]
            print(f"\nlight edge agent RSS: {_rss_kib(agent.pid) / 1024:.1f} MiB with {n} meters")
        finally:
            stop_process(agent)
            collector.stop()
    assert collector.count() >= 2 * n
    assert set(collector.topics) == {readings_topic("light-edge")}

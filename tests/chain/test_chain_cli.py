"""`gridx chain node` as a process: killed with SIGKILL and restarted, it keeps the chain
(the journal), and `gridx chain bootstrap` over it is idempotent."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from solana.rpc.async_api import AsyncClient

import gridx.chain as c
from gridx.errors import ChainError
from tests.helpers.chain import rpc_world

_GRIDX = [sys.executable, "-c", "from gridx.cli import main; main()"]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class NodeProc:
    def __init__(self, port: int, journal: Path) -> None:
        self.port, self.journal = port, journal
        self.proc: subprocess.Popen[str] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        cmd = [*_GRIDX, "chain", "node", "--port", str(self.port), "--journal", str(self.journal)]
        self.proc = subprocess.Popen(cmd, stderr=subprocess.PIPE, text=True)
        assert self.proc.stderr is not None
        seen = []
        for line in self.proc.stderr:  # until the line printed once the socket listens
            seen.append(line)  # (a warning may come first: a taken PubSub port, say)
            if "chain node on" in line:
                return
        raise AssertionError("chain node exited before listening:\n" + "".join(seen))

    def kill(self) -> None:
        assert self.proc is not None
        self.proc.kill()
        self.proc.wait(timeout=30)
        self.proc = None


@pytest.fixture
def node_proc(tmp_path: Path) -> Iterator[NodeProc]:
    n = NodeProc(_free_port(), tmp_path / "ledger.bin")
    n.start()
    yield n
    if n.proc is not None:
        n.kill()


async def test_sigkill_and_restart_keeps_chain(node_proc: NodeProc, tmp_path: Path) -> None:
    import asyncio
    import time

    async with AsyncClient(node_proc.url) as cl:
        # a node in its own process has only wall time: 1-second windows after the enrolment
        w = await rpc_world(cl, tmp_path / "keys", interval_s=1)
        start = int(time.time()) + 1
        readings = tuple(w.meter_chain.reading(start + i, 1, seconds=1) for i in range(7))
        await asyncio.sleep(max(0.0, start + 8 - time.time()))
        mint = c.MeterMint(w.meter, w.prosumer.pubkey(), "edge-1", readings)
        (res,) = await c.send_mints(cl, node_proc.url, w.gateway, [mint])
        assert res.error is None
    node_proc.kill()
    async with AsyncClient(node_proc.url) as cl:
        with pytest.raises(ChainError) as exc:
            await c.latest_blockhash(cl)  # no node: a named error, not a hang
        assert exc.value.code == "Unreachable"
    node_proc.start()
    async with AsyncClient(node_proc.url) as cl:
        assert await c.token_balance(cl, c.ata_address(w.prosumer.pubkey(), w.market.energy_mint)) == 7000
        (again,) = await c.send_mints(cl, node_proc.url, w.gateway, [mint])
        assert again.error is not None and again.error.code == "WindowAlreadyMinted"
        assert await c.next_window_starts(cl, [w.meter]) == {w.meter: start + 7}


def test_cli_bootstrap_idempotent(node_proc: NodeProc, tmp_path: Path) -> None:
    env = {**os.environ, "GRIDX_SECRETS_DIR": str(tmp_path / "secrets")}
    outs = []
    for _ in range(2):
        r = subprocess.run(
            [*_GRIDX, "chain", "bootstrap", "--url", node_proc.url],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
            check=True,
        )
        outs.append(json.loads(r.stdout.strip().splitlines()[-1]))
    assert outs[0] == outs[1] and outs[0]["grxe_mint"] == str(c.grxe_mint_pda())
    keys = tmp_path / "secrets" / "chain"
    assert (keys.stat().st_mode & 0o777) == 0o700
    assert all((p.stat().st_mode & 0o777) == 0o600 for p in keys.glob("*.json") if p.name != "deployment.json")


def test_bench_chain_reports_zero_double_mints() -> None:
    r = subprocess.run(
        [*_GRIDX, "bench", "chain", "--mints", "60"], capture_output=True, text=True, timeout=240, check=True
    )
    out = json.loads(r.stdout.strip().splitlines()[-1])
    assert out["outcomes"] == {"minted": 60} and out["supply_matches"] is True
    assert out["double_mint_attempts"] == 60 and out["double_mints"] == 0


def test_node_listens_on_the_host_it_is_given() -> None:
    """``--host`` (compose: 0.0.0.0, so other containers reach it) is where both listeners bind."""
    import httpx

    port = _free_port()
    cmd = [*_GRIDX, "chain", "node", "--host", "127.0.0.2", "--port", str(port), "--memory"]
    proc = subprocess.Popen(cmd, stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stderr is not None
        line = proc.stderr.readline()  # printed once the socket listens
        assert f"chain node on http://127.0.0.2:{port}" in line, line
        body = {"jsonrpc": "2.0", "id": 1, "method": "getSlot"}
        assert isinstance(httpx.post(f"http://127.0.0.2:{port}", json=body, timeout=10).json()["result"], int)
        with pytest.raises(httpx.ConnectError):  # not on 127.0.0.1, the default
            httpx.post(f"http://127.0.0.1:{port}", json=body, timeout=10)
    finally:
        proc.kill()
        proc.wait(timeout=30)

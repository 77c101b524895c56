"""A project-local anvil (Foundry's EVM development node) on loopback.

anvil is installed from the npm registry by ``scripts/install_anvil.sh`` (pinned in
``tools/anvil/package-lock.json``). It starts with **no** funded dev accounts: the well-known
anvil mnemonic's keys are public, so nothing of ours should ever hold value under them. Tests
and the demo fund their own generated keys with ``anvil_setBalance``. The chain state is kept in
``state.json`` under the work dir (dumped every second and on exit), so a restart resumes it.
"""

from __future__ import annotations

import subprocess
from dataclasses import dataclass, field
from pathlib import Path

from gridx.errors import ServiceError
from gridx.paths import ROOT, ensure_private_dir
from gridx.services._proc import free_port, stop_process, wait_for_port

__all__ = ["ANVIL_BIN", "AnvilNode", "anvil_rpc"]

ANVIL_BIN = ROOT / "tools" / "anvil" / "node_modules" / "@foundry-rs" / "anvil-linux-amd64" / "bin" / "anvil"
LOCAL_CHAIN_ID = 31337


def anvil_rpc(url: str, method: str, params: list[object] | None = None, timeout: float = 10.0) -> object:
    """One JSON-RPC call (used for the dev-only ``anvil_*``/``evm_*`` methods web3 does not wrap)."""
    import httpx  # the [chain] extra; this module is imported by a light install too

    resp = httpx.post(url, json={"jsonrpc": "2.0", "id": 1, "method": method, "params": params or []}, timeout=timeout)
    resp.raise_for_status()
    reply = resp.json()
    if "error" in reply:
        raise ServiceError(f"{method}: {reply['error']}")
    return reply.get("result")


@dataclass
class AnvilNode:
    """anvil with its own work dir; ``block_time`` None mines one block per transaction."""

    workdir: Path
    port: int = field(default_factory=free_port)
    chain_id: int = LOCAL_CHAIN_ID
    block_time: int | None = None
    proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def log_path(self) -> Path:
        return self.workdir / "anvil.log"

    @property
    def state_path(self) -> Path:
        return self.workdir / "state.json"

    def _command(self) -> list[str]:
        if not ANVIL_BIN.exists():
            raise ServiceError(f"anvil not installed at {ANVIL_BIN}; run `make setup`")
        cmd = [str(ANVIL_BIN), "--host", "127.0.0.1", "--port", str(self.port), "--accounts", "0"]
        cmd += ["--chain-id", str(self.chain_id), "--state", str(self.state_path), "--state-interval", "1"]
        if self.block_time is not None:
            cmd += ["--block-time", str(self.block_time)]
        return cmd

    def start(self, timeout: float = 30.0) -> AnvilNode:
        ensure_private_dir(self.workdir)
        log = self.log_path.open("ab")
        self.proc = subprocess.Popen(self._command(), stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        wait_for_port(self.port, self.proc, timeout, self.log_path)
        return self

    def stop(self) -> None:
        """Graceful stop: anvil dumps its state on SIGTERM, so ``start`` resumes the same chain."""
        if self.proc is not None:
            stop_process(self.proc)
            self.proc = None

    def restart(self) -> None:
        self.stop()
        self.start()

    def rpc(self, method: str, params: list[object] | None = None) -> object:
        return anvil_rpc(self.url, method, params)

    def fund(self, address: str, wei: int) -> None:
        self.rpc("anvil_setBalance", [address, hex(wei)])

"""The relayer as its own process: SIGKILLed mid-swap and restarted, with anvil restarted too,
the swap finishes (or refunds), never half."""

from __future__ import annotations

import re
import signal
import subprocess
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from backend.payments import SwapRecord, SwapStatus, load_swap, set_buyer_secret
from gridx.db import connect
from gridx.services import PostgresServer, free_port, gridx_command
from tests.helpers.gateway import wait_until

from .stack import FAST, GRXE, MovableClock, Stack, build_stack, secret, steps

pytestmark = pytest.mark.slow
THBC = 10**6


@pytest.fixture
def stack(tmp_path: Path, pg_dsn: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[Stack]:
    s = build_stack(tmp_path, pg_dsn, MovableClock(), monkeypatch)
    yield s
    s.node.stop()
    s.anvil.stop()


class Relayer:
    def __init__(self, stack: Stack, tmp: Path) -> None:
        self.config = tmp / "relayer.json"
        self.metrics_port = free_port()
        settings = stack.relayer_settings(tmp).model_copy(
            update={"metrics_host": "127.0.0.2", "metrics_port": self.metrics_port}
        )
        self.config.write_text(settings.model_dump_json())
        self.log = tmp / "relayer.log"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        out = self.log.open("ab")
        self.proc = subprocess.Popen(
            gridx_command("payments", "relay", "--config", str(self.config)), stdout=out, stderr=out
        )

    def metrics(self) -> str:
        """The relayer's /metrics, where its settings put it (empty while not yet served)."""
        try:
            with urllib.request.urlopen(f"http://127.0.0.2:{self.metrics_port}/metrics", timeout=2) as resp:
                return str(resp.read().decode())
        except OSError:
            return ""

    def kill(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(30)


def swap(stack: Stack, rec: SwapRecord) -> SwapRecord:
    with connect(stack.dsn) as conn:
        return load_swap(conn, rec.swap_id)


def test_relayer_killed_and_anvil_restarted_mid_swap_completes(stack: Stack, tmp_path: Path) -> None:
    s = secret()
    b_grxe0 = stack.grxe(stack.buyer)
    rec = stack.quote(s)
    relayer = Relayer(stack, tmp_path)
    relayer.start()
    try:
        stack.buyer_locks(rec)
        wait_until(lambda: swap(stack, rec).status is SwapStatus.BUYER_LOCKED, 60, "relayer saw the buyer's lock")
        relayer.kill()  # SIGKILL: no cleanup, whatever it was doing is cut
        stack.seller_locks(rec)
        with connect(stack.dsn, autocommit=True) as conn:
            set_buyer_secret(conn, rec.swap_id, s)
        stack.anvil.restart()  # the EVM node goes away and comes back with its state
        relayer.start()
        wait_until(lambda: swap(stack, rec).sol_leg == "claimed", 60, "GRXE claimed for the buyer")
        relayer.kill()  # between the two claims
        relayer.start()
        wait_until(lambda: swap(stack, rec).status is SwapStatus.COMPLETED, 60, "swap completed")
        wait_until(lambda: "# TYPE gridx_swap_transitions_total counter" in relayer.metrics(), 10, "relayer /metrics")
        names = set(re.findall(r"^(gridx_[a-z0-9_]+)", relayer.metrics(), re.M))
        assert names and all(n.startswith("gridx_swap_") for n in names), names  # its own registry only
    finally:
        relayer.stop()
    assert stack.thbc(stack.seller_evm) == 450 * THBC
    assert stack.grxe(stack.buyer) == b_grxe0 + 15 * GRXE
    # a claim that landed just before a SIGKILL is observed, not recorded as submitted, after restart
    seen = [d["status"] for k, d in steps(stack.dsn, rec) if k == "observed"]
    assert seen[0] == "buyer_locked" and seen[-1] == "completed"


def test_relayer_restart_while_refunding_refunds_both(stack: Stack, tmp_path: Path) -> None:
    rec = stack.quote(secret())
    stack.buyer_locks(rec)
    stack.seller_locks(rec)
    relayer = Relayer(stack, tmp_path)
    relayer.start()
    try:
        wait_until(lambda: swap(stack, rec).status is SwapStatus.BOTH_LOCKED, 60, "both locks seen")
        stack.warp_sol(FAST.sol_lead_s)
        stack.node.chain.latest_blockhash()  # a block with the new clock, as a live cluster makes
        wait_until(lambda: swap(stack, rec).sol_leg == "refunded", 60, "GRXE refunded")
        relayer.kill()
        stack.anvil.restart()
        stack.warp_evm(FAST.evm_lead_s)
        relayer.start()
        wait_until(lambda: swap(stack, rec).status is SwapStatus.REFUNDED, 60, "THBC refunded")
    finally:
        relayer.stop()
    assert stack.thbc(stack.buyer_evm) == 450 * THBC
    assert stack.thbc(stack.seller_evm) == 0


def test_postgres_restarted_mid_swap_relayer_reconnects_and_completes(
    stack: Stack, tmp_path: Path, pg_server: PostgresServer
) -> None:
    """PostgreSQL goes away while both locks are in place and the buyer's claim is asked for: the
    same relayer process keeps running, reconnects once it is back and finishes the swap."""
    s = secret()
    b_grxe0 = stack.grxe(stack.buyer)
    rec = stack.quote(s)
    relayer = Relayer(stack, tmp_path)
    relayer.start()
    try:
        stack.buyer_locks(rec)
        wait_until(lambda: swap(stack, rec).status is SwapStatus.BUYER_LOCKED, 60, "relayer saw the buyer's lock")
        with connect(stack.dsn, autocommit=True) as conn:
            set_buyer_secret(conn, rec.swap_id, s)
        pg_server.stop()
        try:
            stack.seller_locks(rec)  # on chain only: the relayer cannot record (so not act on) it
            wait_until(lambda: b"database unreachable" in relayer.log.read_bytes(), 60, "relayer lost the database")
        finally:
            pg_server.start()
        wait_until(lambda: swap(stack, rec).status is SwapStatus.COMPLETED, 60, "swap completed")
        assert relayer.proc is not None and relayer.proc.poll() is None  # the same process throughout
    finally:
        relayer.stop()
    assert stack.thbc(stack.seller_evm) == 450 * THBC
    assert stack.grxe(stack.buyer) == b_grxe0 + 15 * GRXE

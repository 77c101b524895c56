"""Several API processes and one engine: an order placed through one process is in the book
and on the live feed of another (the engine's matcher NOTIFYs every process), and
``gridx api run --workers 2`` serves, settles and takes its engine down with it."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import websockets

import gridx.chain as c
from gridx.client import TradingClient
from gridx.paths import ROOT
from gridx.services import free_port, gridx_command, stop_process, wait_for_port
from tests.backend.api.conftest import UNIT, Stack, api_stack, mint_grxe, start_api
from tests.helpers.gateway import wait_until

pytestmark = pytest.mark.slow
_WORKER = {"GRIDX_API_MATCHER": "false", "GRIDX_API_INDEXER": "false"}  # what `run --workers` gives a worker


def _env(s: Stack, **extra: str) -> dict[str, str]:
    return {
        **os.environ,
        "GRIDX_API_DSN": s.dsn,
        "GRIDX_API_RPC_URL": s.rpc_url,
        "GRIDX_API_KEYS_DIR": str(s.keys),
        "GRIDX_API_TOKEN_SECRET": s.token_secret,
        "GRIDX_API_INDEX_POLL_S": "0.2",
        "GRIDX_SECRETS_DIR": str(s.log.parent / "secrets"),
        **extra,
    }


@pytest.fixture
def node() -> Iterator[c.LocalNode]:
    n = c.LocalNode.start()
    yield n
    n.stop()


@pytest.fixture
def two_apis(pg_server: object, node: c.LocalNode, tmp_path: Path) -> Iterator[tuple[Stack, str]]:
    """API one (the stack), API two, both without matcher and indexer, and one engine."""
    with api_stack(pg_server, node, tmp_path, **_WORKER) as s:
        other, url2, _log = start_api(
            s.dsn, s.rpc_url, s.keys, tmp_path, GRIDX_API_TOKEN_SECRET=s.token_secret, **_WORKER
        )
        with (tmp_path / "engine.log").open("ab") as fh:
            engine = subprocess.Popen(
                gridx_command("api", "engine"), env=_env(s), stdout=fh, stderr=subprocess.STDOUT, cwd=ROOT
            )
        try:
            yield s, url2
        finally:
            stop_process(engine)
            stop_process(other)


async def _watch(url: str, market: str, ready: asyncio.Event, want: int) -> list[dict[str, Any]]:
    seen: list[dict[str, Any]] = []
    async with websockets.connect(url.replace("http", "ws") + f"/ws/markets/{market}") as ws:
        assert json.loads(await asyncio.wait_for(ws.recv(), 30))["type"] == "snapshot"
        ready.set()
        while sum(1 for m in seen if m.get("event") == "Trade") < want:
            seen.append(json.loads(await asyncio.wait_for(ws.recv(), 60)))
    return seen


def test_an_order_placed_via_one_api_is_seen_via_the_other(two_apis: tuple[Stack, str]) -> None:
    s, url2 = two_apis
    a, b = s.user("prosumer"), s.user("consumer")  # both talk to API one
    mint_grxe(s, a.keypair, [15 * UNIT])
    b.faucet(45 * UNIT)
    via2 = TradingClient(url2, a.keypair)
    market = via2.market_id()

    async def go() -> list[dict[str, Any]]:
        ready = asyncio.Event()
        watcher = asyncio.create_task(_watch(url2, market, ready, 1))
        await asyncio.wait_for(ready.wait(), 30)
        await asyncio.to_thread(a.sell, 15 * UNIT, 3 * UNIT)
        ask = [{"price": 3 * UNIT, "amount": 15 * UNIT, "orders": 1}]
        await asyncio.to_thread(wait_until, lambda: via2.book()["asks"] == ask, 20, "the ask in API two's book")
        await asyncio.to_thread(b.buy, 15 * UNIT, 3 * UNIT)
        return await asyncio.wait_for(watcher, 60)

    seen = asyncio.run(go())
    trades = [m for m in seen if m.get("event") == "Trade"]
    assert [(t["seller"], t["buyer"], t["amount"]) for t in trades] == [(a.wallet, b.wallet, 15 * UNIT)]
    seqs = [m["seq"] for m in seen if m.get("type") == "event"]
    assert seqs == list(range(seqs[0], seqs[0] + len(seqs)))  # +1 each, across processes
    via2.login()
    wait_until(lambda: [t["status"] for t in via2.trades(mine=True)] == ["confirmed"], 30, "settled, seen via two")
    assert s.chain_balance(a.wallet, "grx") == 45 * UNIT
    assert s.reconcile()["drift"] == 0


def _children(pid: int) -> list[int]:
    out = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            if int(stat.read_text().rsplit(")", 1)[1].split()[1]) == pid:
                out.append(int(stat.parent.name))
        except (OSError, ValueError):
            continue
    return out


def _is_engine(pid: int) -> bool:
    try:
        return b"engine" in Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return False


def test_run_with_workers_serves_settles_and_stops_its_engine(
    pg_server: object, node: c.LocalNode, tmp_path: Path
) -> None:
    with api_stack(pg_server, node, tmp_path, **_WORKER) as s:
        stop_process(s.proc)  # it made the database and chain: `run --workers 2` serves them instead
        port = free_port()
        s.url = f"http://127.0.0.1:{port}"
        env = _env(s, GRIDX_API_PORT=str(port), GRIDX_API_DOMAIN=f"127.0.0.1:{port}", GRIDX_API_URI=s.url)
        with s.log.open("ab") as fh:
            s.proc = subprocess.Popen(
                gridx_command("api", "run", "--workers", "2"),
                env={**env, "GRIDX_API_FAUCET": "true"},
                stdout=fh,
                stderr=subprocess.STDOUT,
                cwd=ROOT,
            )
        wait_for_port(port, s.proc, 60, s.log)
        kids = _children(s.proc.pid)
        engines = [p for p in kids if _is_engine(p)]
        assert len(engines) == 1, s.log.read_text()[-2000:]
        wait_until(lambda: len([p for p in _children(s.proc.pid) if not _is_engine(p)]) >= 2, 60, "two workers")
        a, b = s.user("prosumer"), s.user("consumer")
        mint_grxe(s, a.keypair, [5 * UNIT])
        b.faucet(15 * UNIT)
        a.sell(5 * UNIT, 3 * UNIT)
        b.buy(5 * UNIT, 3 * UNIT)
        wait_until(lambda: [t["status"] for t in b.trades(mine=True)] == ["confirmed"], 30, "settled by the engine")
        assert s.reconcile()["drift"] == 0
        s.proc.send_signal(signal.SIGTERM)
        s.proc.wait(30)
        wait_until(lambda: not Path(f"/proc/{engines[0]}").exists(), 30, "the engine stopped with it")

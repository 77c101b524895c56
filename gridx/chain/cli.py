"""``gridx chain node|bootstrap|status`` and ``gridx bench chain``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from gridx.config import DEFAULT_RPC_URL

__all__ = ["app", "register_bench"]

app = typer.Typer(no_args_is_help=True, help="Solana side: local node, bootstrap, status.")

DEFAULT_URL = DEFAULT_RPC_URL


@app.command()
def node(
    port: Annotated[int, typer.Option(help="TCP port (the PubSub WebSocket listens on port + 1)")] = 8899,
    # a container sets 0.0.0.0 so the other services reach it over the compose network; the node
    # has no authentication, so never publish it beyond a private network
    host: Annotated[str, typer.Option(help="address to listen on")] = "127.0.0.1",
    journal: Annotated[Path | None, typer.Option(help="account journal (default .run/chain/ledger.bin)")] = None,
    memory: Annotated[bool, typer.Option("--memory", help="keep state in memory only (lost on stop)")] = False,
) -> None:
    """Run the local LiteSVM JSON-RPC node in the foreground."""
    from gridx.paths import run_dir

    from ._node import LocalNode, NodeConfig

    path = None if memory else (journal or run_dir() / "chain" / "ledger.bin")
    n = LocalNode(NodeConfig(host=host, port=port, journal=path))
    typer.echo(f"chain node on {n.url} (pubsub {n.ws_url}, state: {path or 'memory'})", err=True)
    try:
        n.serve_forever()
    except KeyboardInterrupt:
        pass


@app.command()
def bootstrap(
    url: Annotated[str, typer.Option(help="JSON-RPC URL")] = DEFAULT_URL,
    keys: Annotated[Path | None, typer.Option(help="key directory (default .secrets/chain)")] = None,
) -> None:
    """Initialise registry, GRXE, payment mint, market and the gateway minter (idempotent)."""
    import asyncio
    from dataclasses import asdict

    from solana.rpc.async_api import AsyncClient

    from ._bootstrap import bootstrap as run

    async def go() -> dict[str, str]:
        async with AsyncClient(url) as client:
            return asdict(await run(client, keys))

    typer.echo(json.dumps(asyncio.run(go())))


@app.command()
def status(url: str = typer.Option(DEFAULT_URL, help="JSON-RPC URL")) -> None:
    """Slot, GRXE supply and the bootstrapped addresses, as JSON."""
    import asyncio

    from solana.rpc.async_api import AsyncClient

    from ._bootstrap import load_deployment
    from ._ids import grxe_mint_pda

    async def go() -> dict[str, object]:
        async with AsyncClient(url) as client:
            slot = (await client.get_slot()).value
            supply = await client.get_token_supply(grxe_mint_pda())
            return {"slot": slot, "grxe_supply": int(supply.value.amount)}

    out = asyncio.run(go())
    try:
        out["deployment"] = load_deployment().__dict__
    except Exception as exc:  # status is for humans: report, do not fail
        out["deployment"] = str(exc)
    typer.echo(json.dumps(out))


def register_bench(bench_app: typer.Typer) -> None:
    @bench_app.command("chain")
    def bench_chain(
        mints: int = typer.Option(5000),
        per_tx: int = typer.Option(4, help="windows of one meter per mint transaction (what fits, <= 8)"),
        concurrency: int = typer.Option(16),
        url: str | None = typer.Option(None, help="use this node instead of starting a local one"),
    ) -> None:
        """Batched mints through solana-py; last line JSON with mints_per_s and double_mints."""
        from ._bench import BenchConfig, run_bench

        if url is not None:
            result = run_bench(BenchConfig(url=url, mints=mints, per_tx=per_tx, concurrency=concurrency))
        else:
            result = _bench_with_node(mints, per_tx, concurrency)
        typer.echo(json.dumps(result))


def _bench_with_node(mints: int, per_tx: int, concurrency: int) -> dict[str, object]:
    """Run against a fresh ``gridx chain node`` subprocess (own interpreter: no shared GIL)."""
    import socket
    import subprocess
    import sys
    import tempfile

    from gridx.errors import ServiceError

    from ._bench import BenchConfig, run_bench

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with tempfile.TemporaryDirectory(prefix="gridx-bench-") as tmp:
        cmd = [
            sys.executable,
            "-c",
            "from gridx.cli import main; main()",
            "chain",
            "node",
            "--port",
            str(port),
            "--journal",
            f"{tmp}/ledger.bin",
        ]
        proc = subprocess.Popen(cmd, stderr=subprocess.PIPE, text=True)
        try:
            assert proc.stderr is not None
            seen = []
            for line in proc.stderr:  # until the URL, printed once it listens (a warning may come
                seen.append(line)  # first: a taken PubSub port); reading "the rest" of a live
                if "chain node on" in line:  # process's stderr would block for good
                    break
            else:
                raise ServiceError("chain node did not start: " + "".join(seen))
            result = run_bench(
                BenchConfig(
                    url=f"http://127.0.0.1:{port}",
                    mints=mints,
                    per_tx=per_tx,
                    concurrency=concurrency,
                    node_pid=proc.pid,
                )
            )
            result["node"] = "subprocess, journal on"
            return result
        finally:
            proc.terminate()
            proc.wait(timeout=10)

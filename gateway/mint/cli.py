"""``gridx mint run``, ``gridx prove`` and ``gridx bench mint`` (``gridx reconcile`` is
``gridx.cli._reconcile``: every area in one report)."""

from __future__ import annotations

import json

import typer

__all__ = ["app", "register", "register_bench"]

app = typer.Typer(no_args_is_help=True, help="Mint worker: accepted surplus → GRXE on chain, exactly once.")


@app.command("run")
def run() -> None:
    """Run the mint worker and the registry mirror until SIGTERM/SIGINT.

    Configured by GRIDX_MINT_* variables (DSN, RPC_URL, MINTER_KEYPAIR, PER_TX, rate limits...)."""
    import asyncio
    import signal

    from gateway.cli import configure_logging
    from gateway.mint._config import MintSettings
    from gateway.mint._service import run_mint_service

    configure_logging()
    settings = MintSettings()  # from the environment

    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        await run_mint_service(settings, stop)

    asyncio.run(main())


def register(root: typer.Typer) -> None:
    @root.command("prove")
    def prove(
        target: str = typer.Argument(..., help="mint transaction signature, or METER_ID@WINDOW_START (unix s)"),
        dsn: str = typer.Option(..., envvar="GRIDX_MINT_DSN", help="PostgreSQL DSN"),
        rpc_url: str = typer.Option("http://127.0.0.1:8899", envvar="GRIDX_MINT_RPC_URL"),
    ) -> None:
        """The signed readings behind a mint, verified from the database and the chain: each
        signature against the enrolled key, the hash chain up to the committed hash, the sum
        equal to the minted amount. Last line JSON; exit 1 if any check fails."""
        import asyncio

        from solana.rpc.async_api import AsyncClient

        from gridx.db import connect
        from gridx.registry import prove as do_prove

        async def go() -> bool:
            async with AsyncClient(rpc_url) as client:
                with connect(dsn) as conn:
                    p = await do_prove(client, conn, target)
            typer.echo(f"mint {p.signature}: meter {p.meter} owner {p.owner} amount {p.amount}")
            for r in p.readings:
                typer.echo(
                    f"  seq {r['seq']} [{r['window_start']}, {r['window_end']}) produced {r['produced_wh']} Wh"
                    f" consumed {r['consumed_wh']} Wh hash {r['hash'][:16]}"
                )
            for ch in p.checks:
                typer.echo(f"  {'ok  ' if ch.ok else 'FAIL'} {ch.name}" + (f" ({ch.detail})" if ch.detail else ""))
            out = {"signature": p.signature, "meter": p.meter, "amount": p.amount, "readings": len(p.readings)}
            typer.echo(json.dumps({**out, "verified": p.ok, "failed": [c.name for c in p.checks if not c.ok]}))
            return p.ok

        raise typer.Exit(0 if asyncio.run(go()) else 1)


def register_bench(bench_app: typer.Typer) -> None:
    @bench_app.command("mint")
    def bench_mint(
        readings: int = typer.Option(5000, min=1),
        meters: int = typer.Option(500, min=1),
        per_tx: int = typer.Option(4, min=1, max=8),
        rate: float = typer.Option(2000.0, help="offered readings per second (paced, not a burst)"),
    ) -> None:
        """Readings through the gateway into confirmed mints on the local chain; last line is JSON."""
        from gateway.mint._bench import run_bench

        typer.echo(json.dumps(run_bench(readings=readings, meters=meters, per_tx=per_tx, rate=rate)))

"""``gridx payments relay`` (the swap relayer) and ``gridx bench swap``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

__all__ = ["app", "register_bench"]

app = typer.Typer(no_args_is_help=True, help="THB payments: cross-chain swaps THBC (EVM) <-> GRXE (Solana).")


@app.command()
def relay(config: Annotated[Path, typer.Option(help="relayer settings (JSON, see RelayerSettings)")]) -> None:
    """Run the relayer until SIGTERM/SIGINT; it resumes open swaps from PostgreSQL at start."""
    import asyncio
    import signal

    from backend.payments._relayer import RelayerSettings, run_relayer

    settings = RelayerSettings.model_validate_json(config.read_text())

    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        await run_relayer(settings, stop)

    asyncio.run(main())


def register_bench(bench_app: typer.Typer) -> None:
    @bench_app.command("swap")
    def bench_swap(
        swaps: Annotated[int, typer.Option(help="swaps to run one after another")] = 20,
        restart_db_at: Annotated[
            int | None, typer.Option(help="fault: restart PostgreSQL while swap K (0-based) is in flight")
        ] = None,
    ) -> None:
        """THB swaps on the local stack (anvil + local Solana node + PostgreSQL + relayer)."""
        import json

        from backend.payments._bench import run_swap_bench

        typer.echo(json.dumps(run_swap_bench(swaps, restart_db_at)))

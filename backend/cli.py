"""``gridx api run``: serve the trading API (with its matcher, settler, indexer and feed); the
trading area of ``gridx reconcile``."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

if TYPE_CHECKING:
    from solana.rpc.async_api import AsyncClient

    from backend import ApiSettings

__all__ = ["app", "reconcile_area", "register_bench"]

app = typer.Typer(no_args_is_help=True, help="The trading API (Litestar).")


def _logging() -> None:
    import logging

    import structlog

    logging.getLogger("httpx").setLevel(logging.WARNING)  # solana-py logs every RPC call at INFO
    structlog.configure(
        processors=[
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.format_exc_info,
            structlog.processors.JSONRenderer(),
        ]
    )


@app.command("run")
def run(
    migrate: bool = typer.Option(True, help="apply pending migrations first (idempotent)"),
    workers: int = typer.Option(
        1, min=1, max=64, help="API processes; more than 1: the matcher, settler and indexer run in one `api engine`"
    ),
) -> None:
    """Serve until SIGTERM/SIGINT. Configured by GRIDX_API_* (DSN, RPC_URL, HOST, PORT, DOMAIN,
    URI, KEYS_DIR, MATCHER, INDEXER, FAUCET, ...)."""
    import uvicorn

    from backend import ApiSettings, create_app
    from gridx.db import migrate as do_migrate

    _logging()
    cfg = ApiSettings()
    if migrate:
        do_migrate(cfg.dsn)
    serve = {"log_level": "warning", "ws": "websockets-sansio", "loop": "uvloop", "http": "httptools"}
    if workers == 1:  # everything in this one process
        uvicorn.run(create_app(cfg), host=cfg.host, port=cfg.port, **serve)  # type: ignore[arg-type]
        return
    engine = _start_engine(cfg)
    try:
        uvicorn.run("backend:create_app", factory=True, host=cfg.host, port=cfg.port, workers=workers, **serve)  # type: ignore[arg-type]
    finally:
        if engine is not None:
            from gridx.services import stop_process

            stop_process(engine)


def _start_engine(cfg: ApiSettings) -> subprocess.Popen[bytes] | None:
    """``gridx api engine`` beside the workers, which then run neither matcher nor indexer
    (nor /metrics: one listener port; the engine's counts are served there)."""
    import os

    from gridx.services import gridx_command

    engine = None
    if cfg.matcher or cfg.indexer:
        cmd = gridx_command("api", "engine", "--parent", str(os.getpid()))
        engine = subprocess.Popen(cmd, env=dict(os.environ))
    os.environ.update({"GRIDX_API_MATCHER": "false", "GRIDX_API_INDEXER": "false"})
    os.environ.pop("GRIDX_API_METRICS_PORT", None)
    return engine


@app.command("engine")
def engine(
    parent: int = typer.Option(None, help="stop when this process is gone (set by `api run --workers`)"),
) -> None:
    """The matcher, settler and indexer without HTTP (single writer: a second engine waits on
    the matcher's advisory lock). Configured by GRIDX_API_* like ``run``."""
    import uvloop

    from backend import ApiSettings
    from backend._engine import serve_engine

    _logging()
    uvloop.run(serve_engine(ApiSettings(), parent))


def register_bench(bench_app: typer.Typer) -> None:
    @bench_app.command("api")
    def bench_api(
        users: int = typer.Option(20, min=2),
        rate: float = typer.Option(200.0, help="offered requests per second for prepare and book (paced)"),
        seconds: float = typer.Option(5.0, min=0.5),
        trades: int = typer.Option(200, min=1, help="crossing pairs settled on chain"),
        profile: bool = typer.Option(False, help="run the API under cProfile: .run/bench-api/api-<n>.prof"),
        workers: int = typer.Option(1, min=1, max=64, help="API processes (`gridx api run --workers`)"),
    ) -> None:
        """The API under uvicorn with PostgreSQL and the local chain; last line is JSON."""
        import json

        from backend._bench import run_bench

        typer.echo(
            json.dumps(
                run_bench(users=users, rate=rate, seconds=seconds, trades=trades, profile=profile, workers=workers)
            )
        )


async def reconcile_area(
    client: AsyncClient, dsn: str, keys_dir: Path | None, strict_balances: bool = True
) -> dict[str, Any] | None:
    """The trading area of ``gridx reconcile``: users, orders, escrow vaults, trade count and
    volume, and (strict) each trader's GRXE wallet against its mints and trades. None (the
    area is left out) when no chain deployment names a market."""
    from dataclasses import asdict

    from backend.reconcile import reconcile_trading
    from gridx.chain import load_deployment
    from gridx.db import aconnect
    from gridx.errors import ConfigError

    try:
        keys = load_deployment(keys_dir).market_keys()
    except ConfigError:
        return None
    async with await aconnect(dsn, autocommit=True) as conn:
        rep = await reconcile_trading(client, conn, keys, strict_balances)
    return {**asdict(rep), "drift": rep.drift}

"""``gridx api run``: serve the trading API (with its matcher, settler, indexer and feed)."""

from __future__ import annotations

import typer

__all__ = ["app"]

app = typer.Typer(no_args_is_help=True, help="The trading API (Litestar).")


@app.command("run")
def run(migrate: bool = typer.Option(True, help="apply pending migrations first (idempotent)")) -> None:
    """Serve until SIGTERM/SIGINT. Configured by GRIDX_API_* (DSN, RPC_URL, HOST, PORT, DOMAIN,
    URI, KEYS_DIR, MATCHER, INDEXER, FAUCET, ...)."""
    import logging

    import structlog
    import uvicorn

    from backend import ApiSettings, create_app
    from gridx.db import migrate as do_migrate

    logging.getLogger("httpx").setLevel(logging.WARNING)  # solana-py logs every RPC call at INFO
    structlog.configure(
        processors=[
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.format_exc_info,
            structlog.processors.JSONRenderer(),
        ]
    )
    cfg = ApiSettings()
    if migrate:
        do_migrate(cfg.dsn)
    uvicorn.run(create_app(cfg), host=cfg.host, port=cfg.port, log_level="warning", ws="websockets-sansio")

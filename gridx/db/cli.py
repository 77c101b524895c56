"""``gridx db``: schema migrations."""

from __future__ import annotations

import typer

__all__ = ["app"]

app = typer.Typer(no_args_is_help=True, help="Database schema.")


@app.command("migrate")
def migrate_cmd(dsn: str = typer.Option(..., envvar="GRIDX_DSN", help="PostgreSQL DSN")) -> None:
    """Apply pending migrations from sql/ (idempotent; safe to run concurrently)."""
    from gridx.db import migrate

    done = migrate(dsn)
    typer.echo(f"applied {', '.join(f'{v:03d}' for v in done)}" if done else "up to date")


@app.command("status")
def status_cmd(dsn: str = typer.Option(..., envvar="GRIDX_DSN", help="PostgreSQL DSN")) -> None:
    """List migrations and whether each is applied."""
    from gridx.db._migrate import applied_versions, load_migrations

    applied = applied_versions(dsn)
    for mig in load_migrations():
        mark = "applied" if mig.version in applied else "pending"
        typer.echo(f"{mig.version:03d}_{mig.name}  {mark}")

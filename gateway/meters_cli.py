"""``gridx meters``: enrol, revoke and list meters in the registry (database mirror)."""

from __future__ import annotations

import typer

__all__ = ["app"]

app = typer.Typer(no_args_is_help=True, help="Meter registry: enrol, revoke, list.")
_DSN = typer.Option(..., "--dsn", envvar="GRIDX_DSN", help="PostgreSQL DSN")


@app.command("enroll")
def enroll(
    meter_id: str = typer.Option(..., "--meter-id"),
    pubkey: str = typer.Option(..., "--pubkey", help="ed25519 public key, 64 hex chars"),
    owner: str = typer.Option(..., "--owner", help="owner wallet (base58)"),
    edge: str = typer.Option(..., "--edge", help="edge_id that serves the meter"),
    rated_power_w: int = typer.Option(..., "--rated-power-w", min=1),
    owner_type: str = typer.Option("prosumer", "--owner-type", help="prosumer or consumer (new owners only)"),
    dsn: str = _DSN,
) -> None:
    from gridx.db import EnrolmentError, connect, enroll_meter

    if owner_type not in ("prosumer", "consumer"):
        raise typer.BadParameter("prosumer or consumer", param_hint="--owner-type")
    with connect(dsn) as conn:
        try:
            enroll_meter(
                conn,
                meter_id=meter_id,
                pubkey_hex=pubkey,
                owner_wallet=owner,
                edge_id=edge,
                rated_power_w=rated_power_w,
                owner_type=owner_type,  # type: ignore[arg-type]
            )
        except EnrolmentError as exc:
            typer.echo(f"error: {exc}", err=True)
            raise typer.Exit(1) from None
    typer.echo(f"enrolled {meter_id}")


@app.command("revoke")
def revoke(meter_id: str = typer.Option(..., "--meter-id"), dsn: str = _DSN) -> None:
    """Revoke a meter; gateways stop accepting its readings at once (NOTIFY)."""
    from gridx.db import EnrolmentError, connect, revoke_meter

    with connect(dsn) as conn:
        try:
            revoke_meter(conn, meter_id)
        except EnrolmentError as exc:
            typer.echo(f"error: {exc}", err=True)
            raise typer.Exit(1) from None
    typer.echo(f"revoked {meter_id}")


@app.command("list")
def list_cmd(dsn: str = _DSN) -> None:
    from gridx.db import connect, list_meters

    with connect(dsn) as conn:
        for m in list_meters(conn):
            typer.echo(f"{m.meter_id}\t{m.status}\t{m.edge_id}\t{m.rated_power_w} W\t{m.owner_wallet}\t{m.pubkey}")

"""``gridx meters``: enrol, revoke and list meters in the registry (database mirror)."""

from __future__ import annotations

from pathlib import Path

import typer

__all__ = ["app"]

app = typer.Typer(no_args_is_help=True, help="Meter registry: enrol, revoke, list.")
_DSN = typer.Option(..., "--dsn", envvar="GRIDX_DSN", help="PostgreSQL DSN")
# With a chain URL the on-chain registry is the source of truth: enrolment is signed by the
# owner and co-signed by the registry authority there first, and the database mirrors it.
_RPC = typer.Option(None, "--rpc-url", envvar="GRIDX_RPC_URL", help="enrol/revoke on chain first (JSON-RPC URL)")
_OWNER_KP = typer.Option(None, "--owner-keypair", help="the owner signs its enrolment (with --rpc-url)")
_AUTHORITY = typer.Option(None, "--authority-keypair", help="default: .secrets/chain/registry_authority.json")


@app.command("enroll")
def enroll(
    meter_id: str = typer.Option(..., "--meter-id"),
    pubkey: str = typer.Option(..., "--pubkey", help="ed25519 public key, 64 hex chars"),
    owner: str = typer.Option("", "--owner", help="owner wallet (base58); with --rpc-url, from --owner-keypair"),
    edge: str = typer.Option(..., "--edge", help="edge_id that serves the meter"),
    rated_power_w: int = typer.Option(..., "--rated-power-w", min=1),
    interval_s: int = typer.Option(900, "--interval-s", min=1, max=86_400, help="window length (divides a day)"),
    owner_type: str = typer.Option("prosumer", "--owner-type", help="prosumer or consumer (new owners only)"),
    dsn: str = _DSN,
    rpc_url: str | None = _RPC,
    owner_keypair: Path | None = _OWNER_KP,
    authority_keypair: Path | None = _AUTHORITY,
) -> None:
    from gridx.db import EnrolmentError, connect, enroll_meter

    if owner_type not in ("prosumer", "consumer"):
        raise typer.BadParameter("prosumer or consumer", param_hint="--owner-type")
    if rpc_url is not None:
        if owner_keypair is None:
            raise typer.BadParameter("the owner signs its enrolment on chain", param_hint="--owner-keypair")
        _enroll_on_chain(
            rpc_url, dsn, owner_keypair, authority_keypair, meter_id, pubkey, edge, rated_power_w, owner_type
        )
        typer.echo(f"enrolled {meter_id} on chain and in the mirror")
        return
    if not owner:
        raise typer.BadParameter("required without --rpc-url", param_hint="--owner")
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
                interval_s=interval_s,
            )
        except EnrolmentError as exc:
            typer.echo(f"error: {exc}", err=True)
            raise typer.Exit(1) from None
    typer.echo(f"enrolled {meter_id}")


@app.command("revoke")
def revoke(
    meter_id: str = typer.Option(..., "--meter-id"),
    dsn: str = _DSN,
    rpc_url: str | None = _RPC,
    authority_keypair: Path | None = _AUTHORITY,
) -> None:
    """Revoke a meter; gateways stop accepting its readings at once (NOTIFY), and with
    --rpc-url the program refuses its mints too."""
    from gridx.db import EnrolmentError, connect, revoke_meter

    if rpc_url is not None:
        _revoke_on_chain(rpc_url, dsn, authority_keypair, meter_id)
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


def _enroll_on_chain(
    rpc_url: str,
    dsn: str,
    owner_kp: Path,
    authority_kp: Path | None,
    meter_id: str,
    pubkey: str,
    edge: str,
    rated_power_w: int,
    owner_type: str,
) -> None:
    import asyncio

    from solana.rpc.async_api import AsyncClient
    from solders.pubkey import Pubkey

    from gateway.mint._mirror import enroll_on_chain
    from gridx.chain import chain_secrets_dir, load_keypair
    from gridx.db import connect

    async def go() -> None:
        client = AsyncClient(rpc_url, timeout=60)
        try:
            with connect(dsn) as conn:
                await enroll_on_chain(
                    client,
                    conn,
                    owner=load_keypair(owner_kp),
                    authority=load_keypair(authority_kp or chain_secrets_dir() / "registry_authority.json"),
                    meter_id=meter_id,
                    meter_pubkey=Pubkey.from_bytes(bytes.fromhex(pubkey)),
                    edge_id=edge,
                    rated_power_w=rated_power_w,
                    owner_type=owner_type,  # type: ignore[arg-type]
                )
        finally:
            await client.close()

    asyncio.run(go())


def _revoke_on_chain(rpc_url: str, dsn: str, authority_kp: Path | None, meter_id: str) -> None:
    import asyncio

    from solana.rpc.async_api import AsyncClient
    from solders.pubkey import Pubkey

    from gridx.chain import METER_REVOKED, build_set_meter_status_ix, chain_secrets_dir, load_keypair, send_and_confirm
    from gridx.db import connect

    with connect(dsn) as conn:
        row = conn.execute("SELECT pubkey FROM meters WHERE meter_id = %s", (meter_id,)).fetchone()
    if row is None:
        typer.echo(f"error: meter {meter_id!r} is not enrolled", err=True)
        raise typer.Exit(1)
    authority = load_keypair(authority_kp or chain_secrets_dir() / "registry_authority.json")
    ix = build_set_meter_status_ix(authority.pubkey(), Pubkey.from_bytes(bytes.fromhex(row[0])), METER_REVOKED)

    async def go() -> None:
        client = AsyncClient(rpc_url, timeout=60)
        try:
            await send_and_confirm(client, [ix], [authority])
        finally:
            await client.close()

    asyncio.run(go())

"""``gridx meters``: enrol, revoke, rotate, update and list meters: on chain first with
``--rpc-url`` (the database mirrors the registry program), database-only without."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import typer

from gateway._meters_cli_chain import enroll_on_chain_cli as _enroll_on_chain
from gateway._meters_cli_chain import rotate_on_chain_cli as _rotate_on_chain
from gateway._meters_cli_chain import status_on_chain_cli as _status_on_chain
from gateway._meters_cli_chain import update_on_chain_cli as _update_on_chain

__all__ = ["app"]

T = TypeVar("T")

app = typer.Typer(no_args_is_help=True, help="Meter registry: enrol, revoke, list, and operator repairs.")
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
    proof: str = typer.Option(
        "", "--proof", help="with --rpc-url: the meter key's enrolment signature (hex; sign_enrolment on the edge)"
    ),
) -> None:
    from gridx.db import EnrolmentError, connect, enroll_meter

    if owner_type not in ("prosumer", "consumer"):
        raise typer.BadParameter("prosumer or consumer", param_hint="--owner-type")
    if rpc_url is not None:
        if owner_keypair is None:
            raise typer.BadParameter("the owner signs its enrolment on chain", param_hint="--owner-keypair")
        if len(proof) != 128:
            raise typer.BadParameter("the meter proves it holds its key (64-byte signature, hex)", param_hint="--proof")
        _enroll_on_chain(
            rpc_url,
            dsn,
            owner_keypair,
            authority_keypair,
            (meter_id, pubkey, edge, rated_power_w, owner_type),
            (bytes.fromhex(proof), interval_s),
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
    from gateway._meter_ops import check_db_only
    from gridx.db import EnrolmentError, connect, revoke_meter

    if rpc_url is not None:
        _status_on_chain(rpc_url, dsn, authority_keypair, meter_id, revoked=True)
        typer.echo(f"revoked {meter_id} on chain and in the mirror")
        return
    with connect(dsn) as conn:
        _run(lambda: check_db_only(conn, meter_id, "revocation"))
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


@app.command("rebaseline")
def rebaseline_cmd(
    meter_id: str = typer.Option(..., "--meter-id"),
    seq: int = typer.Option(0, "--after-seq", min=0, help="the chain continues after this seq (0: from genesis)"),
    last_hash: str = typer.Option("00" * 32, "--after-hash", help="hash of that reading (genesis: zeros)"),
    dsn: str = _DSN,
) -> None:
    """Restart a meter's chain (a new edge device starting at seq 1, a lost edge outbox):
    nothing credited is credited again; held readings of the meter are closed."""
    from gateway._meter_ops import rebaseline
    from gridx.db import connect

    with connect(dsn) as conn:
        closed = _run(lambda: rebaseline(conn, meter_id, seq, last_hash))
    typer.echo(f"rebaselined {meter_id} after seq {seq}; {closed} held readings closed")


@app.command("unrevoke")
def unrevoke_cmd(
    meter_id: str = typer.Option(..., "--meter-id"),
    dsn: str = _DSN,
    rpc_url: str | None = _RPC,
    authority_keypair: Path | None = _AUTHORITY,
) -> None:
    """Make a revoked meter active again (on chain first with --rpc-url)."""
    from gateway._meter_ops import unrevoke
    from gridx.db import connect

    if rpc_url is not None:
        _status_on_chain(rpc_url, dsn, authority_keypair, meter_id, revoked=False)
    else:
        with connect(dsn) as conn:
            _run(lambda: unrevoke(conn, meter_id))
    typer.echo(f"unrevoked {meter_id}")


@app.command("rotate")
def rotate_cmd(
    meter_id: str = typer.Option(..., "--meter-id"),
    pubkey: str = typer.Option(..., "--pubkey", help="the new ed25519 public key, 64 hex chars"),
    rebase: bool = typer.Option(True, "--rebaseline/--keep-chain", help="a replaced meter starts a new chain"),
    dsn: str = _DSN,
    rpc_url: str | None = _RPC,
    owner_keypair: Path | None = _OWNER_KP,
    authority_keypair: Path | None = _AUTHORITY,
    proof: str = typer.Option("", "--proof", help="with --rpc-url: the new key's proof (`gridx edge enrol-proof`)"),
) -> None:
    """A replaced meter (or a compromised key): the new key, and by default a new chain. With
    --rpc-url the old key is revoked and the new one enrolled in one transaction on chain."""
    if rpc_url is not None:
        if owner_keypair is None:
            raise typer.BadParameter("the owner signs the new enrolment on chain", param_hint="--owner-keypair")
        if len(proof) != 128:
            raise typer.BadParameter("the new key proves possession (64-byte signature, hex)", param_hint="--proof")
        _rotate_on_chain(rpc_url, dsn, owner_keypair, authority_keypair, meter_id, (pubkey.lower(), proof))
        typer.echo(f"{meter_id}: pubkey = {pubkey.lower()} on chain and in the mirror")
    else:
        _set(dsn, meter_id, "pubkey", pubkey.lower())
    if rebase:
        rebaseline_cmd(meter_id, 0, "00" * 32, dsn)


# the name this command had before it worked on chain
app.command("rotate-key", hidden=True)(rotate_cmd)


@app.command("update")
def update_cmd(
    meter_id: str = typer.Option(..., "--meter-id"),
    rated_power_w: int | None = typer.Option(None, "--rated-power-w", min=1),
    interval_s: int | None = typer.Option(None, "--interval-s", min=1, max=86_400, help="must divide a day"),
    dsn: str = _DSN,
    rpc_url: str | None = _RPC,
    authority_keypair: Path | None = _AUTHORITY,
) -> None:
    """A meter's rated power and/or window length (on chain first with --rpc-url; the edge
    must use the same interval)."""
    if rated_power_w is None and interval_s is None:
        raise typer.BadParameter("give --rated-power-w and/or --interval-s")
    if rpc_url is not None:
        _update_on_chain(rpc_url, dsn, authority_keypair, meter_id, (rated_power_w, interval_s))
        typer.echo(f"updated {meter_id} on chain and in the mirror")
        return
    for column, value in (("rated_power_w", rated_power_w), ("interval_s", interval_s)):
        if value is not None:
            _set(dsn, meter_id, column, value)


@app.command("set-rated-power")
def set_rated_power_cmd(
    meter_id: str = typer.Option(..., "--meter-id"),
    watts: int = typer.Option(..., "--watts", min=1),
    dsn: str = _DSN,
    rpc_url: str | None = _RPC,
    authority_keypair: Path | None = _AUTHORITY,
) -> None:
    """Same as `update --rated-power-w`."""
    update_cmd(meter_id, watts, None, dsn, rpc_url, authority_keypair)


@app.command("move-edge")
def move_edge_cmd(
    meter_id: str = typer.Option(..., "--meter-id"),
    edge: str = typer.Option(..., "--edge"),
    rebase: bool = typer.Option(True, "--rebaseline/--keep-chain", help="a new edge device starts at seq 1"),
    dsn: str = _DSN,
    rpc_url: str | None = _RPC,
) -> None:
    """Re-enrol a meter behind another (or a replaced) edge."""
    _chain_first(rpc_url, "set_meter_edge")
    _set(dsn, meter_id, "edge_id", edge)
    if rebase:
        rebaseline_cmd(meter_id, 0, "00" * 32, dsn)


@app.command("set-interval")
def set_interval_cmd(
    meter_id: str = typer.Option(..., "--meter-id"),
    interval_s: int = typer.Option(..., "--interval-s", min=1, max=86_400),
    dsn: str = _DSN,
    rpc_url: str | None = _RPC,
    authority_keypair: Path | None = _AUTHORITY,
) -> None:
    """Same as `update --interval-s`."""
    update_cmd(meter_id, None, interval_s, dsn, rpc_url, authority_keypair)


@app.command("stalled")
def stalled_cmd(intervals: int = typer.Option(3, min=1), dsn: str = _DSN) -> None:
    """Active meters whose chain has not moved for INTERVALS of their intervals."""
    from gateway._meter_ops import stalled
    from gridx.db import connect

    with connect(dsn) as conn:
        for meter_id, age, held in stalled(conn, intervals):
            typer.echo(f"{meter_id}\t{age} s\t{held} held")


def _run(action: Callable[[], T]) -> T:
    from gateway._meter_ops import MeterOpError

    try:
        return action()
    except MeterOpError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from None


def _set(dsn: str, meter_id: str, column: str, value: str | int) -> None:
    from gateway._meter_ops import set_registry_field
    from gridx.db import connect

    with connect(dsn) as conn:
        _run(lambda: set_registry_field(conn, meter_id, column, value))
    typer.echo(f"{meter_id}: {column} = {value}")


def _chain_first(rpc_url: str | None, instruction: str) -> None:
    if rpc_url is not None:
        # the registry program has no such instruction yet: refusing beats a mirror that
        # would silently undo a database-only change
        typer.echo(f"error: the registry program has no {instruction} instruction yet", err=True)
        raise typer.Exit(2)

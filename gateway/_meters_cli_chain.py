"""The chain side of ``gridx meters … --rpc-url``: load the keys, run one chain-first
operation (``gateway._meter_chain``, ``gridx.registry.enroll_on_chain``) with a client and a
database connection, and turn a refusal into a named error and exit code 1."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING

import typer

if TYPE_CHECKING:
    import psycopg
    from solana.rpc.async_api import AsyncClient
    from solders.keypair import Keypair

__all__ = ["enroll_on_chain_cli", "rotate_on_chain_cli", "status_on_chain_cli", "update_on_chain_cli"]


def enroll_on_chain_cli(
    rpc_url: str,
    dsn: str,
    owner_kp: Path,
    authority_kp: Path | None,
    meter: tuple[str, str, str, int, str],
    signed: tuple[bytes, int],
) -> None:
    from solders.pubkey import Pubkey

    from gridx.chain import authorize_edge, load_keypair
    from gridx.registry import enroll_on_chain

    meter_id, pubkey, edge, rated_power_w, owner_type = meter
    proof, interval_s = signed
    owner, authority = load_keypair(owner_kp), _authority(authority_kp)

    async def op(client: AsyncClient, conn: psycopg.Connection) -> None:
        # the gateway minter may mint for this edge's meters (token admin: next to the authority)
        await authorize_edge(client, edge, authority_kp.parent if authority_kp else None)
        await enroll_on_chain(
            client,
            conn,
            owner=owner,
            authority=authority,
            meter_id=meter_id,
            meter_pubkey=Pubkey.from_bytes(bytes.fromhex(pubkey)),
            edge_id=edge,
            rated_power_w=rated_power_w,
            proof=proof,
            interval_s=interval_s,
            owner_type=owner_type,  # type: ignore[arg-type]
        )
        # the chain is now its source of truth: database-only changes are refused
        conn.execute("UPDATE meters SET on_chain = true WHERE meter_id = %s", (meter_id,))

    _on_chain(rpc_url, dsn, op)


def _on_chain(rpc_url: str, dsn: str, op: Callable[[AsyncClient, psycopg.Connection], Awaitable[None]]) -> None:
    """Run a chain-first operation (``gateway._meter_chain``); a refusal by the program or the
    mirror is a named error and exit code 1."""
    import asyncio

    from solana.rpc.async_api import AsyncClient

    from gateway._meter_ops import MeterOpError
    from gridx.db import connect
    from gridx.errors import ChainError

    async def go() -> None:
        client = AsyncClient(rpc_url, timeout=60)
        try:
            with connect(dsn) as conn:
                await op(client, conn)
        finally:
            await client.close()

    try:
        asyncio.run(go())
    except ChainError as exc:
        typer.echo(f"error: refused on chain: {exc.code or exc}", err=True)
        raise typer.Exit(1) from None
    except MeterOpError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from None


def _authority(path: Path | None) -> Keypair:
    from gridx.chain import chain_secrets_dir, load_keypair

    return load_keypair(path or chain_secrets_dir() / "registry_authority.json")


def status_on_chain_cli(rpc_url: str, dsn: str, authority_kp: Path | None, meter_id: str, *, revoked: bool) -> None:
    from gateway._meter_chain import set_status_on_chain

    authority = _authority(authority_kp)
    _on_chain(
        rpc_url,
        dsn,
        lambda c, conn: set_status_on_chain(c, conn, meter_id=meter_id, authority=authority, revoked=revoked),
    )


def rotate_on_chain_cli(
    rpc_url: str, dsn: str, owner_kp: Path, authority_kp: Path | None, meter_id: str, new: tuple[str, str]
) -> None:
    from solders.pubkey import Pubkey

    from gateway._meter_chain import rotate_on_chain
    from gridx.chain import load_keypair

    owner, authority = load_keypair(owner_kp), _authority(authority_kp)
    pubkey, proof = Pubkey.from_bytes(bytes.fromhex(new[0])), bytes.fromhex(new[1])

    def op(c: AsyncClient, conn: psycopg.Connection) -> Awaitable[None]:
        return rotate_on_chain(
            c, conn, meter_id=meter_id, owner=owner, authority=authority, new_pubkey=pubkey, proof=proof
        )

    _on_chain(rpc_url, dsn, op)


def update_on_chain_cli(
    rpc_url: str, dsn: str, authority_kp: Path | None, meter_id: str, values: tuple[int | None, int | None]
) -> None:
    from gateway._meter_chain import update_on_chain

    authority = _authority(authority_kp)
    rated, interval = values

    def op(c: AsyncClient, conn: psycopg.Connection) -> Awaitable[None]:
        return update_on_chain(
            c, conn, meter_id=meter_id, authority=authority, rated_power_w=rated, interval_s=interval
        )

    _on_chain(rpc_url, dsn, op)

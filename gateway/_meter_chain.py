"""Operator actions on a chain-enrolled meter (``gridx meters … --rpc-url``): the registry
program changes first, then the database mirror follows with its audit row.

The chain is the source of truth, so the order matters: a refused instruction (a named
``ChainError``) leaves the mirror untouched, and a mirror written after the chain agreed can
only lag it (the registry mirror's next pass repairs a lag), never contradict it.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import TYPE_CHECKING

import psycopg
from solders.keypair import Keypair
from solders.pubkey import Pubkey

from gateway._meter_ops import MeterOpError, set_registry_field, unrevoke
from gridx.chain import (
    METER_ACTIVE,
    METER_REVOKED,
    build_replace_meter_ixs,
    build_set_meter_status_ix,
    build_update_meter_ix,
    send_and_confirm,
)
from gridx.db import revoke_meter

if TYPE_CHECKING:
    from solana.rpc.async_api import AsyncClient

__all__ = ["MirroredMeter", "mirrored", "rotate_on_chain", "set_status_on_chain", "update_on_chain"]


@dataclass(frozen=True)
class MirroredMeter:
    """A meter's registry row as the mirror holds it (what the chain instructions need)."""

    meter_id: str
    pubkey: Pubkey
    owner: str
    edge_id: str
    rated_power_w: int
    interval_s: int
    status: str


def mirrored(conn: psycopg.Connection, meter_id: str) -> MirroredMeter:
    row = conn.execute(
        "SELECT pubkey, owner_wallet, edge_id, rated_power_w, interval_s, status FROM meters WHERE meter_id = %s",
        (meter_id,),
    ).fetchone()
    if row is None:
        raise MeterOpError(f"meter {meter_id!r} is not enrolled")
    pubkey, owner, edge_id, rated, interval, status = row
    return MirroredMeter(meter_id, Pubkey.from_bytes(bytes.fromhex(pubkey)), owner, edge_id, rated, interval, status)


async def rotate_on_chain(
    client: AsyncClient,
    conn: psycopg.Connection,
    *,
    meter_id: str,
    owner: Keypair,
    authority: Keypair,
    new_pubkey: Pubkey,
    proof: bytes,
) -> None:
    """A new key for the meter (a replaced device or a compromised key), in one transaction on
    chain: the old key revoked, the new one enrolled with its proof of possession (signed over
    the same owner and edge). The new key has its own mint state: its windows start after now."""
    m = await asyncio.to_thread(mirrored, conn, meter_id)
    if str(owner.pubkey()) != m.owner:
        raise MeterOpError(f"meter {meter_id!r} belongs to {m.owner}: its owner signs the new enrolment")
    keys = (owner.pubkey(), authority.pubkey(), m.pubkey, new_pubkey)
    ixs = build_replace_meter_ixs(*keys, m.edge_id.encode(), m.rated_power_w, m.interval_s, proof)
    await send_and_confirm(client, ixs, [owner, authority])
    await asyncio.to_thread(set_registry_field, conn, meter_id, "pubkey", bytes(new_pubkey).hex(), chain_done=True)


async def update_on_chain(
    client: AsyncClient,
    conn: psycopg.Connection,
    *,
    meter_id: str,
    authority: Keypair,
    rated_power_w: int | None = None,
    interval_s: int | None = None,
) -> None:
    """Rated power and/or window length: the program bounds rated power and checks each
    minted window against the interval, so both are the chain's."""
    if rated_power_w is None and interval_s is None:
        raise MeterOpError("nothing to update: give a rated power and/or an interval")
    m = await asyncio.to_thread(mirrored, conn, meter_id)
    ix = build_update_meter_ix(authority.pubkey(), m.pubkey, rated_power_w or 0, interval_s or 0)
    await send_and_confirm(client, [ix], [authority])
    for column, value in (("rated_power_w", rated_power_w), ("interval_s", interval_s)):
        if value is not None:
            await asyncio.to_thread(set_registry_field, conn, meter_id, column, value, chain_done=True)


async def set_status_on_chain(
    client: AsyncClient, conn: psycopg.Connection, *, meter_id: str, authority: Keypair, revoked: bool
) -> None:
    """Revoke (the program refuses the meter's mints at once) or make active again."""
    m = await asyncio.to_thread(mirrored, conn, meter_id)
    if not revoked and m.status == "active":
        raise MeterOpError(f"meter {meter_id!r} is not revoked")
    ix = build_set_meter_status_ix(authority.pubkey(), m.pubkey, METER_REVOKED if revoked else METER_ACTIVE)
    await send_and_confirm(client, [ix], [authority])
    if revoked:
        await asyncio.to_thread(revoke_meter, conn, meter_id)
    else:
        await asyncio.to_thread(unrevoke, conn, meter_id, chain_done=True)

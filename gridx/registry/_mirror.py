"""The on-chain registry is the source of truth; the database's users/meters are its mirror.

Enrolment goes to the chain first (owner signs, registry authority co-signs, the meter key
proves possession) and then into the mirror. A sync pass reads every MeterAccount of the registry program and brings the
mirror's status, edge, rated power and interval in line; the meters trigger NOTIFYs the
gateways, so a revocation on chain stops readings (and, through the program, mints) within
one sync interval.
"""

from __future__ import annotations

import asyncio
import hashlib
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

import psycopg
import structlog
from solders.keypair import Keypair
from solders.pubkey import Pubkey

from gridx.chain import (
    CONSUMER,
    METER_ACTIVE,
    PROSUMER,
    build_register_meter_ixs,
    build_register_user_ix,
    create_ata_ix,
    decode_account,
    fetch_account,
    grxe_mint_pda,
    program_ids,
    send_and_confirm,
    user_pda,
)
from gridx.db import enroll_meter

if TYPE_CHECKING:
    from solana.rpc.async_api import AsyncClient

__all__ = ["ChainMeter", "enroll_on_chain", "fetch_chain_meters", "mirror_loop", "register_wallet", "sync_mirror"]

log = structlog.get_logger("gridx.registry")

# Anchor account discriminator: sha256("account:<Name>")[:8]
_METER_DISC = hashlib.sha256(b"account:MeterAccount").digest()[:8]


@dataclass(frozen=True)
class ChainMeter:
    pubkey_hex: str
    owner: str
    edge_id: str
    rated_power_w: int
    active: bool
    interval_s: int


async def register_wallet(client: AsyncClient, wallet: Keypair, kind: Literal["prosumer", "consumer"]) -> None:
    """Register a user on chain (idempotent) and give it a GRXE account to receive mints."""
    if await fetch_account(client, user_pda(wallet.pubkey())) is None:
        await send_and_confirm(
            client, [build_register_user_ix(wallet.pubkey(), PROSUMER if kind == "prosumer" else CONSUMER)], [wallet]
        )
    await send_and_confirm(client, [create_ata_ix(wallet.pubkey(), wallet.pubkey(), grxe_mint_pda())], [wallet])


async def enroll_on_chain(
    client: AsyncClient,
    conn: psycopg.Connection,
    *,
    owner: Keypair,
    authority: Keypair,
    meter_id: str,
    meter_pubkey: Pubkey,
    edge_id: str,
    rated_power_w: int,
    proof: bytes,
    interval_s: int = 900,
    owner_type: Literal["prosumer", "consumer"] = "prosumer",
) -> None:
    """Chain first, then the mirror: a meter the chain does not know is never in the mirror.
    ``proof``: the meter key's signature over its enrolment message (``sign_enrolment``)."""
    await register_wallet(client, owner, owner_type)
    ixs = build_register_meter_ixs(
        owner.pubkey(), authority.pubkey(), meter_pubkey, edge_id.encode(), rated_power_w, interval_s, proof
    )
    await send_and_confirm(client, ixs, [owner, authority])

    def mirror() -> None:
        enroll_meter(
            conn,
            meter_id=meter_id,
            pubkey_hex=bytes(meter_pubkey).hex(),
            owner_wallet=str(owner.pubkey()),
            edge_id=edge_id,
            rated_power_w=rated_power_w,
            owner_type=owner_type,
        )
        with conn.transaction():
            conn.execute("UPDATE meters SET interval_s = %s WHERE meter_id = %s", (interval_s, meter_id))

    await asyncio.to_thread(mirror)


def _chain_meter(data: bytes) -> ChainMeter:
    acct = decode_account("registry", data)
    return ChainMeter(
        pubkey_hex=bytes(acct.meter).hex(),
        owner=str(acct.owner),
        edge_id=bytes(acct.edge_id).rstrip(b"\0").decode(errors="replace"),
        rated_power_w=int(acct.rated_power_w),
        active=int(acct.status) == METER_ACTIVE,
        interval_s=int(acct.interval_s),
    )


async def fetch_chain_meters(client: AsyncClient, seen: dict[bytes, ChainMeter] | None = None) -> list[ChainMeter]:
    """Every MeterAccount on chain. ``seen`` (the last pass's decodings by raw account bytes,
    replaced by this pass's) spares decoding what has not changed: a mirror polls every
    second and IDL decoding costs about a millisecond per meter."""
    import based58
    from solana.rpc.types import MemcmpOpts

    resp = await client.get_program_accounts(
        program_ids().registry,
        encoding="base64",
        filters=[MemcmpOpts(offset=0, bytes=based58.b58encode(_METER_DISC).decode())],
    )
    last = {} if seen is None else seen
    now: dict[bytes, ChainMeter] = {}
    for keyed in resp.value:
        data = bytes(keyed.account.data)
        meter = last.get(data)
        now[data] = _chain_meter(data) if meter is None else meter
    if seen is not None:
        seen.clear()
        seen.update(now)
    return list(now.values())


def sync_mirror(conn: psycopg.Connection, meters: list[ChainMeter]) -> int:
    """Apply the chain's view to mirrored meters in one statement; returns how many rows changed
    (only those, so the NOTIFY trigger wakes the gateways for real changes only)."""
    if not meters:
        return 0
    with conn.transaction():
        cur = conn.execute(
            """UPDATE meters m SET status = c.status, edge_id = c.edge_id, rated_power_w = c.rated_power_w,
                      interval_s = c.interval_s, on_chain = true, updated_at = now()
                 FROM unnest(%s::text[], %s::text[], %s::text[], %s::bigint[], %s::int[])
                      AS c (pubkey, status, edge_id, rated_power_w, interval_s)
                WHERE m.pubkey = c.pubkey
                  AND (m.status, m.edge_id, m.rated_power_w, m.interval_s, m.on_chain)
                      IS DISTINCT FROM (c.status, c.edge_id, c.rated_power_w, c.interval_s, true)""",
            (
                [m.pubkey_hex for m in meters],
                ["active" if m.active else "revoked" for m in meters],
                [m.edge_id for m in meters],
                [m.rated_power_w for m in meters],
                [m.interval_s for m in meters],
            ),
        )
        return cur.rowcount


async def mirror_loop(client: AsyncClient, dsn: str, interval_s: float, stop: asyncio.Event) -> None:
    from gridx.db import connect

    conn = await asyncio.to_thread(connect, dsn, app="gridx-registry-mirror")
    seen: dict[bytes, ChainMeter] = {}
    try:
        while not stop.is_set():
            try:
                changed = await asyncio.to_thread(sync_mirror, conn, await fetch_chain_meters(client, seen))
                if changed:
                    log.info("registry_mirror_synced", changed=changed)
            except Exception as exc:
                log.warning("registry_mirror_failed", error=str(exc))
                if conn.closed or conn.broken:
                    conn = await asyncio.to_thread(connect, dsn, app="gridx-registry-mirror")
            try:
                await asyncio.wait_for(stop.wait(), interval_s)
            except TimeoutError:
                pass
    finally:
        conn.close()

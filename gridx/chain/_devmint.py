"""GRXE for a wallet on a development cluster, through the production mint path.

Tests, benchmarks and the demo need a user to hold GRXE before they can trade. Since mints
require the meter's own signature checked on chain, there is no shortcut: this enrols a fresh
meter key to the owner (with its proof of possession) and mints meter-signed readings for
consecutive 1-second windows at the registry's maximum rated power (10 MW: 2,777 Wh a
window). The windows must have ended by the cluster clock, so minting ``n`` GRXE waits about
``n / 2.777`` seconds of wall time.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from nacl.signing import SigningKey
from solders.keypair import Keypair
from solders.pubkey import Pubkey

from gridx.wire import ReadingChain

from ._bootstrap import authorize_edge
from ._client import send_and_confirm
from ._ix import build_register_meter_ixs
from ._keys import chain_secrets_dir, load_keypair
from ._signed import build_mint_readings_ixs, sign_enrolment, signed_reading

if TYPE_CHECKING:
    from solana.rpc.async_api import AsyncClient

__all__ = ["DEV_EDGE", "mint_to_owner"]

DEV_EDGE = "dev-faucet"
_RATED_W = 10_000_000  # the registry's upper bound
_WH_PER_WINDOW = _RATED_W // 3600  # one 1-second window at rated power
_BASE_PER_WH = 1_000


def _windows(amounts: Sequence[int]) -> list[int]:
    """Produced Wh per window for ``amounts`` (GRXE base units, whole Wh each)."""
    out: list[int] = []
    for amount in amounts:
        if amount <= 0 or amount % _BASE_PER_WH:
            raise ValueError(f"amount {amount}: a positive whole number of Wh (multiple of {_BASE_PER_WH})")
        wh = amount // _BASE_PER_WH
        while wh > 0:
            out.append(min(wh, _WH_PER_WINDOW))
            wh -= out[-1]
    return out


def _record_meter(dsn: str, meter: Pubkey, owner: Pubkey) -> None:
    from gridx.db import connect, enroll_meter

    with connect(dsn) as conn:
        enroll_meter(
            conn,
            meter_id=_meter_id(meter),
            pubkey_hex=bytes(meter).hex(),
            owner_wallet=str(owner),
            edge_id=DEV_EDGE,
            rated_power_w=_RATED_W,
            interval_s=1,
        )


def _meter_id(meter: Pubkey) -> str:
    return f"dev-{bytes(meter)[:8].hex()}"


async def mint_to_owner(
    client: AsyncClient, owner: Keypair, amounts: Sequence[int], keys_dir: Path | None = None, dsn: str | None = None
) -> Pubkey:
    """Mint ``amounts`` (base units) to the registered user ``owner``; returns the new meter.

    Signed by the owner (enrolment), the registry authority and the gateway minter from
    ``keys_dir`` — keys a development cluster's bootstrap wrote; useless on a real cluster.
    ``dsn``: also enrol the meter in that database, chain first as an operator's enrolment
    does, so an indexer records its mints and ``gridx reconcile`` finds them accounted for."""
    keys = keys_dir or chain_secrets_dir()
    authority = load_keypair(keys / "registry_authority.json")
    minter = load_keypair(keys / "gateway_minter.json")
    await authorize_edge(client, DEV_EDGE, keys)
    key = SigningKey.generate()
    meter = Pubkey.from_bytes(key.verify_key.encode())
    proof = sign_enrolment(key, owner.pubkey(), DEV_EDGE)
    enrol = build_register_meter_ixs(owner.pubkey(), authority.pubkey(), meter, DEV_EDGE.encode(), _RATED_W, 1, proof)
    await send_and_confirm(client, enrol, [owner, authority])
    if dsn is not None:
        await asyncio.to_thread(_record_meter, dsn, meter, owner.pubkey())
    start = int(time.time()) + 1  # at or after the enrolment by the cluster clock
    readings = ReadingChain(key, _meter_id(meter))
    for i, wh in enumerate(_windows(amounts)):
        r = readings.next(start + i, start + i + 1, wh)
        # the window must have ended by the cluster clock (a block's clock is its wall second)
        await asyncio.sleep(max(0.0, r.window_end + 1 - time.time()))
        ixs = build_mint_readings_ixs(minter.pubkey(), meter, owner.pubkey(), DEV_EDGE, [signed_reading(r)])
        await send_and_confirm(client, ixs, [minter])
    return meter

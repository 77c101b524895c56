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

from gridx.wire import GENESIS_HASH, UnsignedReading, reading_hash, sign_reading

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


async def mint_to_owner(
    client: AsyncClient, owner: Keypair, amounts: Sequence[int], keys_dir: Path | None = None
) -> Pubkey:
    """Mint ``amounts`` (base units) to the registered user ``owner``; returns the new meter.

    Signed by the owner (enrolment), the registry authority and the gateway minter from
    ``keys_dir`` — keys a development cluster's bootstrap wrote; useless on a real cluster."""
    keys = keys_dir or chain_secrets_dir()
    authority = load_keypair(keys / "registry_authority.json")
    minter = load_keypair(keys / "gateway_minter.json")
    await authorize_edge(client, DEV_EDGE, keys)
    key = SigningKey.generate()
    meter = Pubkey.from_bytes(key.verify_key.encode())
    proof = sign_enrolment(key, owner.pubkey(), DEV_EDGE)
    enrol = build_register_meter_ixs(owner.pubkey(), authority.pubkey(), meter, DEV_EDGE.encode(), _RATED_W, 1, proof)
    await send_and_confirm(client, enrol, [owner, authority])
    start = int(time.time()) + 1  # at or after the enrolment by the cluster clock
    prev, total = GENESIS_HASH, 0
    for seq, wh in enumerate(_windows(amounts), start=1):
        total += wh
        u = UnsignedReading(
            meter_id=f"dev-{bytes(meter)[:8].hex()}",
            seq=seq,
            window_start=start + seq - 1,
            window_end=start + seq,
            produced_wh=wh,
            consumed_wh=0,
            produced_total_wh=total,
            consumed_total_wh=0,
            prev_hash=prev,
        )
        prev = reading_hash(u)
        # the window must have ended by the cluster clock (a block's clock is its wall second)
        await asyncio.sleep(max(0.0, u.window_end + 1 - time.time()))
        ixs = build_mint_readings_ixs(
            minter.pubkey(), meter, owner.pubkey(), DEV_EDGE, [signed_reading(sign_reading(u, key))]
        )
        await send_and_confirm(client, ixs, [minter])
    return meter

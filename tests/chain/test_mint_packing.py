"""How many readings go in one mint transaction: as many as fit in 1,232 bytes, never more."""

from __future__ import annotations

import pytest
from nacl.signing import SigningKey
from solders.hash import Hash
from solders.keypair import Keypair
from solders.pubkey import Pubkey

from gridx.chain import MAX_TX_BYTES, MeterMint, mint_tx, mintable_prefix, signed_reading
from gridx.wire import GENESIS_HASH, UnsignedReading, sign_reading


def _mint(meter_id: str, n: int, key: SigningKey) -> MeterMint:
    readings = []
    for w in range(n):
        u = UnsignedReading(
            meter_id=meter_id,
            seq=w + 1,
            window_start=900 * w,
            window_end=900 * (w + 1),
            produced_wh=5,
            consumed_wh=1,
            produced_total_wh=5 * (w + 1),
            consumed_total_wh=w + 1,
            prev_hash=GENESIS_HASH,
        )
        readings.append(signed_reading(sign_reading(u, key)))
    return MeterMint(Pubkey.from_bytes(key.verify_key.encode()), Keypair().pubkey(), "edge-1", tuple(readings))


@pytest.mark.parametrize("meter_id", ["m", "bm-00001", "m" * 32])
def test_the_prefix_fits_and_one_more_would_not(meter_id: str) -> None:
    minter, key = Keypair(), SigningKey.generate()
    m = _mint(meter_id, 8, key)
    for _ in range(2):  # the second call answers from the per-meter size cache: same answer
        n = mintable_prefix(minter.pubkey(), m)
        assert 1 <= n <= 8
        assert (
            len(bytes(mint_tx(minter, MeterMint(m.meter, m.owner, m.edge_id, m.readings[:n]), Hash.default())))
            <= MAX_TX_BYTES
        )
        longer = MeterMint(m.meter, m.owner, m.edge_id, m.readings[: n + 1])
        assert len(bytes(mint_tx(minter, longer, Hash.default()))) > MAX_TX_BYTES

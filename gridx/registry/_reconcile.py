"""``gridx reconcile``: the chain against ``token_mints``, window by window and in sum.

Drift is anything that disagrees: GRXE supply against the recorded total, a meter's mint state
on chain (amount minted, windows minted, high-water mark) against its token_mints rows, and an
owner's GRXE balance against what was minted to them (strict mode, for systems without
trading: trades move tokens between owners on purpose).
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import psycopg
from solders.pubkey import Pubkey

from gridx.chain import ata_address, decode_account, grxe_mint_pda, program_ids, token_balance

if TYPE_CHECKING:
    from solana.rpc.async_api import AsyncClient

__all__ = ["Reconciliation", "reconcile"]

_STATE_DISC = hashlib.sha256(b"account:MintState").digest()[:8]


@dataclass(frozen=True)
class Reconciliation:
    supply: int
    recorded_total: int
    windows_on_chain: int
    windows_in_db: int
    missing_in_db: list[str] = field(default_factory=list)
    missing_on_chain: list[str] = field(default_factory=list)
    amount_mismatch: list[str] = field(default_factory=list)
    owner_drift: dict[str, int] = field(default_factory=dict)

    @property
    def drift(self) -> int:
        """Zero when chain and database agree on everything checked."""
        return (
            abs(self.supply - self.recorded_total)
            + len(self.missing_in_db)
            + len(self.missing_on_chain)
            + len(self.amount_mismatch)
            + sum(abs(v) for v in self.owner_drift.values())
        )


async def _chain_states(client: AsyncClient) -> dict[str, tuple[int, int, int]]:
    """meter pubkey hex -> (amount minted, windows minted, high-water mark) per mint state."""
    import based58
    from solana.rpc.types import MemcmpOpts

    resp = await client.get_program_accounts(
        program_ids().energy_token,
        encoding="base64",
        filters=[MemcmpOpts(offset=0, bytes=based58.b58encode(_STATE_DISC).decode())],
    )
    out: dict[str, tuple[int, int, int]] = {}
    for keyed in resp.value:
        st = decode_account("energy_token", bytes(keyed.account.data))
        out[bytes(st.meter).hex()] = (int(st.minted_total), int(st.windows_minted), int(st.next_window_start))
    return out


def _db_mints(conn: psycopg.Connection) -> tuple[dict[str, tuple[int, int, int]], dict[str, int]]:
    """Per meter (amount, windows, end of the last window) and per owner the amount minted."""
    with conn.transaction():
        rows = conn.execute(
            """SELECT m.pubkey, m.owner_wallet, sum(t.amount)::bigint, count(*),
                      extract(epoch FROM max(t.window_end))::bigint
                 FROM token_mints t JOIN meters m USING (meter_id)
                GROUP BY m.pubkey, m.owner_wallet"""
        ).fetchall()
    per_owner: dict[str, int] = defaultdict(int)
    for r in rows:
        per_owner[r[1]] += int(r[2])
    return {r[0]: (int(r[2]), int(r[3]), int(r[4])) for r in rows}, dict(per_owner)


async def reconcile(client: AsyncClient, conn: psycopg.Connection, strict_balances: bool = True) -> Reconciliation:
    import asyncio

    chain = await _chain_states(client)
    db, per_owner = await asyncio.to_thread(_db_mints, conn)
    supply = int((await client.get_token_supply(grxe_mint_pda())).value.amount)
    missing_in_db = sorted(k for k in chain.keys() - db.keys() if chain[k][0] > 0)
    missing_on_chain = sorted(db.keys() - chain.keys())
    mismatch = sorted(f"{k}: chain {chain[k]} db {db[k]}" for k in chain.keys() & db.keys() if chain[k] != db[k])
    owner_drift: dict[str, int] = {}
    if strict_balances:
        for owner, total in per_owner.items():
            held = await token_balance(client, ata_address(Pubkey.from_string(owner), grxe_mint_pda()))
            if held != total:
                owner_drift[owner] = held - total
    return Reconciliation(
        supply=supply,
        recorded_total=sum(a for a, _, _ in db.values()),
        windows_on_chain=sum(w for _, w, _ in chain.values()),
        windows_in_db=sum(w for _, w, _ in db.values()),
        missing_in_db=missing_in_db,
        missing_on_chain=missing_on_chain,
        amount_mismatch=mismatch,
        owner_drift=owner_drift,
    )

"""``gridx reconcile``: the chain against ``token_mints``, window by window and in sum.

Drift is anything that disagrees: GRXE supply against the recorded total, a mint record on
chain that the database does not know (or the reverse), a different amount for the same
window, and an owner's GRXE balance against what was minted to them (strict mode, for
systems without trading: trades move tokens between owners on purpose).
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

_RECORD_DISC = hashlib.sha256(b"account:MintRecord").digest()[:8]


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


async def _chain_records(client: AsyncClient) -> dict[tuple[str, int], tuple[str, int]]:
    """(meter pubkey hex, window_start) -> (owner base58, amount) for every mint record."""
    import based58
    from solana.rpc.types import MemcmpOpts

    resp = await client.get_program_accounts(
        program_ids().energy_token,
        encoding="base64",
        filters=[MemcmpOpts(offset=0, bytes=based58.b58encode(_RECORD_DISC).decode())],
    )
    out: dict[tuple[str, int], tuple[str, int]] = {}
    for keyed in resp.value:
        rec = decode_account("energy_token", bytes(keyed.account.data))
        out[(bytes(rec.meter).hex(), int(rec.window_start))] = (str(rec.owner), int(rec.amount))
    return out


def _db_mints(conn: psycopg.Connection) -> dict[tuple[str, int], tuple[str, int]]:
    with conn.transaction():
        rows = conn.execute(
            """SELECT m.pubkey, extract(epoch FROM t.window_start)::bigint, m.owner_wallet, t.amount::bigint
                 FROM token_mints t JOIN meters m USING (meter_id)"""
        ).fetchall()
    return {(r[0], int(r[1])): (r[2], int(r[3])) for r in rows}


async def reconcile(client: AsyncClient, conn: psycopg.Connection, strict_balances: bool = True) -> Reconciliation:
    import asyncio

    chain = await _chain_records(client)
    db = await asyncio.to_thread(_db_mints, conn)
    supply = int((await client.get_token_supply(grxe_mint_pda())).value.amount)
    missing_in_db = sorted(f"{k[0]}@{k[1]}" for k in chain.keys() - db.keys())
    missing_on_chain = sorted(f"{k[0]}@{k[1]}" for k in db.keys() - chain.keys())
    mismatch = sorted(f"{k[0]}@{k[1]}" for k in chain.keys() & db.keys() if chain[k][1] != db[k][1])
    owner_drift: dict[str, int] = {}
    if strict_balances:
        minted: dict[str, int] = defaultdict(int)
        for owner, amount in db.values():
            minted[owner] += amount
        for owner, total in minted.items():
            held = await token_balance(client, ata_address(Pubkey.from_string(owner), grxe_mint_pda()))
            if held != total:
                owner_drift[owner] = held - total
    return Reconciliation(
        supply=supply,
        recorded_total=sum(a for _, a in db.values()),
        windows_on_chain=len(chain),
        windows_in_db=len(db),
        missing_in_db=missing_in_db,
        missing_on_chain=missing_on_chain,
        amount_mismatch=mismatch,
        owner_drift=owner_drift,
    )

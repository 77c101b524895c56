"""Escrow of removed orders goes back without the owner's signature. An order the engine
removed (IOC/FOK remainder, self-trade prevention, repeated failed settlement) never rests,
so its owner has no reason to come back and cancel it; the market authority sends
``release_order``, which the trading program lets pay only into the owner's own token
account. Idempotent by nature: once the order account is closed a second release fails
and changes nothing, so an attempt lost in a crash is simply made again."""

from __future__ import annotations

from typing import TYPE_CHECKING

import structlog
from solders.keypair import Keypair
from solders.pubkey import Pubkey
from solders.signature import Signature

from backend._state import MarketInfo
from gridx.chain import (
    blockhash_with_height,
    build_release_order_ix,
    build_tx,
    confirm_statuses,
    fetch_account,
    order_pda,
    send_txs,
)
from gridx.errors import ChainError

if TYPE_CHECKING:
    from psycopg_pool import AsyncConnectionPool
    from solana.rpc.async_api import AsyncClient

__all__ = ["release_removed"]

log = structlog.get_logger("backend.release")
_BATCH = 64
_RETRY_S = 30  # an attempt older than this without an outcome is made again


async def _due(pool: AsyncConnectionPool, market: str) -> list[tuple[int, str, str]]:
    async with pool.connection() as conn:
        rows = await (
            await conn.execute(
                """UPDATE orders SET release_at = now() WHERE id IN (
                       SELECT id FROM orders o WHERE market = %s AND status = 'removed' AND NOT in_engine
                          AND (release_at IS NULL OR release_at < now() - make_interval(secs => %s))
                          AND NOT EXISTS (SELECT 1 FROM trades t WHERE (t.sell_order = o.id OR t.buy_order = o.id)
                                             AND t.status IN ('pending', 'sent'))
                        ORDER BY id LIMIT %s FOR UPDATE SKIP LOCKED)
                   RETURNING id, owner, side""",
                (market, _RETRY_S, _BATCH),
            )
        ).fetchall()
    return [(int(r[0]), str(r[1]), str(r[2])) for r in rows]


async def release_removed(
    pool: AsyncConnectionPool, chain: AsyncClient, rpc_url: str, market: MarketInfo, authority: Keypair
) -> int:
    """Send release_order for the removed orders that are due; returns how many were released."""
    due = await _due(pool, market.id)
    if not due:
        return 0
    blockhash, _ = await blockhash_with_height(chain)
    txs = [
        build_tx(
            [build_release_order_ix(authority.pubkey(), market.keys, Pubkey.from_string(owner), oid, side == "sell")],
            [authority],
            blockhash,
        )
        for oid, owner, side in due
    ]
    sent: dict[Signature, int] = {}
    for (oid, _o, _s), tx, r in zip(due, txs, await send_txs(rpc_url, txs), strict=True):
        if isinstance(r, ChainError):
            if r.code == "Unreachable":
                raise r  # release_at makes them due again later
            log.warning("release_refused", order=oid, code=r.code)
            continue
        sent[tx.signatures[0]] = oid
    outcomes = await confirm_statuses(chain, list(sent)) if sent else {}
    released = [sent[sig] for sig, (err, _slot) in outcomes.items() if err is None]
    # refused or failed: released already (by us or an owner's cancel) if the account is gone
    for oid, owner, _side in due:
        if oid not in released and await fetch_account(chain, order_pda(Pubkey.from_string(owner), oid)) is None:
            released.append(oid)
    if released:
        async with pool.connection() as conn:
            await conn.execute(
                """UPDATE orders SET status = 'cancelled', remaining = 0, updated_at = now()
                    WHERE id = ANY(%s) AND status IN ('removed', 'cancelling')""",
                (released,),
            )
    return len(released)

"""Nonces in PostgreSQL: issued with their wallet and life, consumed at most once."""

from __future__ import annotations

from datetime import datetime

import psycopg

from backend._errors import ApiError, Problem

__all__ = ["consume_nonce", "store_nonce"]


async def store_nonce(
    conn: psycopg.AsyncConnection, nonce: str, wallet: str, issued: datetime, expires: datetime
) -> None:
    await conn.execute(
        "INSERT INTO auth_nonces (nonce, wallet, issued_at, expires_at) VALUES (%s, %s, %s, %s)",
        (nonce, wallet, issued, expires),
    )
    # expired nonces are only kept long enough to name a late replay "expired", not "unknown"
    await conn.execute("DELETE FROM auth_nonces WHERE expires_at < %s - interval '1 hour'", (issued,))


async def consume_nonce(
    conn: psycopg.AsyncConnection, nonce: str, wallet: str, issued: datetime, now: datetime
) -> None:
    """Mark the nonce used (one statement: two concurrent logins cannot both succeed)."""
    cur = await conn.execute(
        """UPDATE auth_nonces SET used_at = %s
            WHERE nonce = %s AND wallet = %s AND issued_at = %s AND used_at IS NULL AND expires_at > %s""",
        (now, nonce, wallet, issued, now),
    )
    if cur.rowcount == 1:
        return
    row = await (
        await conn.execute("SELECT wallet, issued_at, used_at, expires_at FROM auth_nonces WHERE nonce = %s", (nonce,))
    ).fetchone()
    if row is None or row[0] != wallet:
        raise ApiError(Problem.NONCE_UNKNOWN, "this nonce was not issued to this address")
    if row[2] is not None:
        raise ApiError(Problem.NONCE_REPLAYED, "this nonce was already used")
    if row[3] <= now:
        raise ApiError(Problem.NONCE_EXPIRED, "this nonce has expired")
    raise ApiError(Problem.SIWS_STALE, "issued-at differs from the challenge")

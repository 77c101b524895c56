"""Refresh tokens in PostgreSQL: opaque, single use, rotated on every use. A token used a
second time (a stolen copy, or the original after the thief used it) revokes its whole
family, so neither holder can go on; each refusal has its own problem code."""

from __future__ import annotations

import hashlib
import secrets
import uuid
from datetime import datetime, timedelta

import psycopg

from backend._errors import ApiError, Problem

__all__ = ["issue_refresh", "rotate_refresh"]


def _hash(token: str) -> bytes:
    return hashlib.sha256(token.encode()).digest()


async def issue_refresh(
    conn: psycopg.AsyncConnection, wallet: str, now: datetime, ttl: timedelta, family: uuid.UUID | None = None
) -> str:
    """A new token of ``family`` (a new family at sign-in); the token itself is not stored."""
    token = secrets.token_urlsafe(32)
    await conn.execute(
        "INSERT INTO refresh_tokens (token_hash, family, wallet, issued_at, expires_at) VALUES (%s, %s, %s, %s, %s)",
        (_hash(token), family or uuid.uuid4(), wallet, now, now + ttl),
    )
    # long-expired rows only need to outlive the window in which a replay is worth naming
    await conn.execute("DELETE FROM refresh_tokens WHERE expires_at < %s - interval '1 day'", (now,))
    return token


async def rotate_refresh(conn: psycopg.AsyncConnection, token: str, now: datetime, ttl: timedelta) -> tuple[str, str]:
    """Spend ``token`` (one statement: two concurrent uses cannot both succeed) and return
    (wallet, the family's next token). ``conn`` is in autocommit, so a family revoked on reuse
    stays revoked although the request is refused."""
    row = await (
        await conn.execute(
            """UPDATE refresh_tokens SET used_at = %s
                WHERE token_hash = %s AND used_at IS NULL AND revoked_at IS NULL AND expires_at > %s
            RETURNING wallet, family""",
            (now, _hash(token), now),
        )
    ).fetchone()
    if row is not None:
        wallet, family = str(row[0]), row[1]
        return wallet, await issue_refresh(conn, wallet, now, ttl, family)
    old = await (
        await conn.execute(
            "SELECT family, used_at, revoked_at, expires_at FROM refresh_tokens WHERE token_hash = %s", (_hash(token),)
        )
    ).fetchone()
    if old is None:
        raise ApiError(Problem.REFRESH_UNKNOWN, "this refresh token was never issued")
    family, used_at, revoked_at, expires_at = old
    if revoked_at is not None:
        raise ApiError(Problem.REFRESH_REVOKED, "this refresh token was revoked: sign in again")
    if used_at is not None:
        await conn.execute(
            "UPDATE refresh_tokens SET revoked_at = %s WHERE family = %s AND revoked_at IS NULL", (now, family)
        )
        raise ApiError(Problem.REFRESH_REUSED, "this refresh token was already used: its session is revoked")
    assert expires_at <= now
    raise ApiError(Problem.REFRESH_EXPIRED, "this refresh token has expired: sign in again")

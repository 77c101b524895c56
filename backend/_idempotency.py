"""``Idempotency-Key`` (IETF httpapi draft): the same key and body return the stored
response; the same key with another body is 422; the same key still in flight is 409."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from ._errors import ApiError, Problem
from ._state import Services

if TYPE_CHECKING:
    from psycopg import AsyncConnection

__all__ = ["fingerprint", "idempotent"]

_ABANDONED_S = 120  # an in-flight key older than this belongs to a crashed request


def fingerprint(method: str, path: str, body: Any) -> str:
    raw = json.dumps([method, path, body], sort_keys=True, separators=(",", ":")).encode()
    return hashlib.sha256(raw).hexdigest()


async def idempotent(
    services: Services,
    wallet: str,
    key: str | None,
    fp: str,
    run: Callable[[AsyncConnection[Any]], Awaitable[dict[str, Any]]],
) -> dict[str, Any]:
    """``run`` gets the connection the key was claimed on: one pool checkout per request (the
    checkout costs the API about as much CPU as a statement)."""
    if key is not None and not 1 <= len(key) <= 255:
        raise ApiError(Problem.INVALID_REQUEST, "Idempotency-Key must be 1..255 characters")
    async with services.pool.connection() as conn:
        if key is None:
            return await run(conn)
        stored = await _claim(conn, wallet, key, fp)
        if stored is not None:
            return stored
        try:
            out = await run(conn)
        except BaseException:
            # on a connection of its own: this one may be mid-statement (a cancelled request)
            async with services.pool.connection() as other:
                await other.execute("DELETE FROM idempotency_keys WHERE wallet = %s AND key = %s", (wallet, key))
            raise
        from psycopg.types.json import Jsonb

        await conn.execute(
            "UPDATE idempotency_keys SET status_code = 201, response = %s WHERE wallet = %s AND key = %s",
            (Jsonb(out), wallet, key),
        )
        return out


async def _claim(conn: AsyncConnection[Any], wallet: str, key: str, fp: str) -> dict[str, Any] | None:
    """Claim the key for this request (None), or the stored response of the same request made
    before; another request under the key, or one still in flight, is refused."""
    cur = await conn.execute(
        """INSERT INTO idempotency_keys (wallet, key, fingerprint) VALUES (%s, %s, %s)
           ON CONFLICT (wallet, key) DO UPDATE SET fingerprint = excluded.fingerprint, created_at = now()
               WHERE idempotency_keys.status_code IS NULL
                 AND idempotency_keys.created_at < now() - make_interval(secs => %s)
           RETURNING 1""",
        (wallet, key, fp, _ABANDONED_S),
    )
    if cur.rowcount == 1:
        return None
    row = await (
        await conn.execute(
            "SELECT fingerprint, status_code, response FROM idempotency_keys WHERE wallet = %s AND key = %s",
            (wallet, key),
        )
    ).fetchone()
    assert row is not None
    if row[0] != fp:
        raise ApiError(Problem.IDEMPOTENCY_KEY_REUSED, "this Idempotency-Key was used with another request")
    if row[1] is None:
        raise ApiError(Problem.IDEMPOTENCY_IN_FLIGHT, "a request with this Idempotency-Key is in flight")
    stored: dict[str, Any] = row[2]
    return stored

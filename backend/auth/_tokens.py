"""Short-lived session tokens: ``base64url(claims).base64url(HMAC-SHA256)``. Pure; the key
and the clock are arguments. Stateless, so they stay short-lived; a longer session goes on
with a single-use refresh token (``_refresh``)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets

from backend._errors import ApiError, Problem

__all__ = ["issue_token", "read_token"]


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def issue_token(key: bytes, wallet: str, now: int, ttl_s: int) -> str:
    claims = {"sub": wallet, "iat": now, "exp": now + ttl_s, "jti": secrets.token_hex(8)}
    body = _b64(json.dumps(claims, separators=(",", ":")).encode())
    mac = _b64(hmac.new(key, body.encode(), hashlib.sha256).digest())
    return f"{body}.{mac}"


def read_token(key: bytes, token: str, now: int) -> str:
    """The wallet a valid, unexpired token names; TOKEN_INVALID / TOKEN_EXPIRED otherwise."""
    body, _, mac = token.partition(".")
    want = _b64(hmac.new(key, body.encode(), hashlib.sha256).digest())
    if not mac or not hmac.compare_digest(mac, want):
        raise ApiError(Problem.TOKEN_INVALID, "token signature does not verify")
    try:
        claims = json.loads(_unb64(body))
        wallet, exp = str(claims["sub"]), int(claims["exp"])
    except (ValueError, KeyError, TypeError) as exc:
        raise ApiError(Problem.TOKEN_INVALID, "token claims unreadable") from exc
    if exp <= now:
        raise ApiError(Problem.TOKEN_EXPIRED, "token expired: sign in again")
    return wallet

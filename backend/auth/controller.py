"""``GET /auth/challenge`` and ``POST /auth/login``: Sign-In-With-Solana, then a bearer token."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from litestar import Controller, get, post
from pydantic import BaseModel, ConfigDict, Field
from solders.pubkey import Pubkey

from backend._errors import ApiError, Problem
from backend._state import Services

from ._refresh import issue_refresh, rotate_refresh
from ._siws import STATEMENT, SiwsMessage, check_message, new_nonce, parse_message, verify_signature
from ._store import consume_nonce, store_nonce
from ._tokens import issue_token

__all__ = ["AuthController", "Challenge", "LoginRequest", "RefreshRequest", "Session"]


class Challenge(BaseModel):
    message: str
    nonce: str
    expires_at: datetime


class LoginRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    message: str = Field(max_length=2048)
    signature: str = Field(max_length=128, description="base58 ed25519 signature of the message's UTF-8 bytes")


class RefreshRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    refresh_token: str = Field(min_length=16, max_length=128, pattern=r"^[A-Za-z0-9_-]+$")


class Session(BaseModel):
    token: str
    wallet: str
    expires_at: datetime
    # single use: POST /auth/refresh spends it for a new session (and a new refresh token)
    refresh_token: str
    refresh_expires_at: datetime


async def _session(services: Services, wallet: str, refresh: str, now: datetime) -> Session:
    s = services.settings
    t = int(now.timestamp())
    return Session(
        token=issue_token(services.token_key, wallet, t, s.token_ttl_s),
        wallet=wallet,
        expires_at=datetime.fromtimestamp(t + s.token_ttl_s, UTC),
        refresh_token=refresh,
        refresh_expires_at=now + timedelta(seconds=s.refresh_ttl_s),
    )


def _address(address: str) -> str:
    try:
        return str(Pubkey.from_string(address))
    except ValueError as exc:
        raise ApiError(Problem.INVALID_REQUEST, "address is not a base58 Solana public key") from exc


class AuthController(Controller):
    path = "/auth"
    tags = ["auth"]

    @get("/challenge", operation_id="getSignInChallenge")
    async def challenge(self, services: Services, address: str) -> Challenge:
        """A Sign-In-With-Solana message with a fresh single-use nonce, valid for 5 minutes."""
        s = services.settings
        now = datetime.now(UTC).replace(microsecond=0)
        msg = SiwsMessage(
            s.domain,
            _address(address),
            STATEMENT,
            s.uri,
            s.chain_id,
            new_nonce(),
            now,
            now + timedelta(seconds=s.nonce_ttl_s),
        )
        async with services.pool.connection() as conn:
            await store_nonce(conn, msg.nonce, msg.address, msg.issued_at, msg.expiration)
        return Challenge(message=msg.text(), nonce=msg.nonce, expires_at=msg.expiration)

    @post("/login", operation_id="signIn", status_code=200)
    async def login(self, services: Services, data: LoginRequest) -> Session:
        """Exchange the signed message for a short-lived bearer token and a refresh token."""
        s = services.settings
        msg = parse_message(data.message)
        now = datetime.now(UTC)
        check_message(
            msg, domain=s.domain, uri=s.uri, chain_id=s.chain_id, now=now, max_age=timedelta(seconds=s.nonce_ttl_s)
        )
        verify_signature(data.message, msg.address, data.signature)
        async with services.pool.connection() as conn:
            await consume_nonce(conn, msg.nonce, msg.address, msg.issued_at, now)
            refresh = await issue_refresh(conn, msg.address, now, timedelta(seconds=s.refresh_ttl_s))
        return await _session(services, msg.address, refresh, now)

    @post("/refresh", operation_id="refreshSession", status_code=200)
    async def refresh(self, services: Services, data: RefreshRequest) -> Session:
        """Spend a refresh token for a new session and the next refresh token. A token used
        twice revokes every token of its sign-in (``refresh_reused``)."""
        now = datetime.now(UTC)
        async with services.pool.connection() as conn:
            wallet, refresh = await rotate_refresh(
                conn, data.refresh_token, now, timedelta(seconds=services.settings.refresh_ttl_s)
            )
        return await _session(services, wallet, refresh, now)

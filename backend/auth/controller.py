"""``GET /auth/challenge`` and ``POST /auth/login``: Sign-In-With-Solana, then a bearer token."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

from litestar import Controller, get, post
from pydantic import BaseModel, ConfigDict, Field
from solders.pubkey import Pubkey

from backend._errors import ApiError, Problem
from backend._state import Services

from ._siws import STATEMENT, SiwsMessage, check_message, new_nonce, parse_message, verify_signature
from ._store import consume_nonce, store_nonce
from ._tokens import issue_token

__all__ = ["AuthController", "Challenge", "LoginRequest", "Session"]


class Challenge(BaseModel):
    message: str
    nonce: str
    expires_at: datetime


class LoginRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    message: str = Field(max_length=2048)
    signature: str = Field(max_length=128, description="base58 ed25519 signature of the message's UTF-8 bytes")


class Session(BaseModel):
    token: str
    wallet: str
    expires_at: datetime


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
        """Exchange the signed message for a short-lived bearer token."""
        s = services.settings
        msg = parse_message(data.message)
        now = datetime.now(UTC)
        check_message(
            msg, domain=s.domain, uri=s.uri, chain_id=s.chain_id, now=now, max_age=timedelta(seconds=s.nonce_ttl_s)
        )
        verify_signature(data.message, msg.address, data.signature)
        async with services.pool.connection() as conn:
            await consume_nonce(conn, msg.nonce, msg.address, msg.issued_at, now)
        t = int(time.time())
        token = issue_token(services.token_key, msg.address, t, s.token_ttl_s)
        return Session(token=token, wallet=msg.address, expires_at=datetime.fromtimestamp(t + s.token_ttl_s, UTC))

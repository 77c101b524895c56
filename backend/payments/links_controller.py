"""``/payments/evm-links``: a signed-in user links an EVM address to its wallet by signing a
Sign-In-With-Ethereum (EIP-4361) message with that address. The API issues the exact message
(this deployment's domain and URI, the EVM chain's id, a single-use nonce, a 10-minute
validity), the EVM wallet signs it (personal_sign; no private key leaves the client), and the
API recovers the signer and compares everything (``backend.payments._siwe``). The nonce belongs
to the wallet that asked for it and is consumed by the first attempt, refused or not, so neither
a replay nor a second try against the same challenge gets through."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

from litestar import Controller, get, post
from pydantic import BaseModel, ConfigDict, Field

from backend._errors import ApiError, Problem
from backend._state import Services
from backend.payments._links import LINK_TTL, issue_link, link_evm_address, linked_address
from backend.payments._siwe import SiweRefused, SiweVerdict
from backend.payments.controller import configured_contracts, refusals
from gridx.db import connect

__all__ = ["EvmLinkController"]

_VERDICT = {
    SiweVerdict.UNKNOWN_NONCE: Problem.EVM_LINK_NONCE_UNKNOWN,
    SiweVerdict.ALTERED_MESSAGE: Problem.EVM_LINK_ALTERED_MESSAGE,
    SiweVerdict.WRONG_SIGNER: Problem.EVM_LINK_WRONG_SIGNER,
    SiweVerdict.MALFORMED_SIGNATURE: Problem.EVM_LINK_MALFORMED_SIGNATURE,
    SiweVerdict.EXPIRED: Problem.EVM_LINK_EXPIRED,
    SiweVerdict.NOT_YET_VALID: Problem.EVM_LINK_NOT_YET_VALID,
}


class ChallengeRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    address: str = Field(pattern=r"^0x[0-9a-fA-F]{40}$", description="the EVM address to link")


class Challenge(BaseModel):
    nonce: str
    message: str = Field(description="exactly what the EVM wallet signs (personal_sign)")
    expires_at: str


class LinkRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    nonce: str = Field(pattern=r"^[0-9a-f]{32}$")
    message: str = Field(max_length=2048)
    # any short hex: a malformed signature meets its own named refusal, not a schema error
    signature: str = Field(pattern=r"^0x[0-9a-fA-F]{0,260}$", description="personal_sign of the message")


class EvmLink(BaseModel):
    wallet: str
    evm_address: str | None


class EvmLinkController(Controller):
    path = "/payments/evm-links"
    tags = ["payments"]

    @post("/challenge", operation_id="challengeEvmLink", status_code=201)
    async def challenge(self, services: Services, wallet: str, data: ChallengeRequest) -> Challenge:
        """The message the EVM address signs to be linked to the caller's wallet (single use)."""
        s = services.settings
        contracts = configured_contracts(s)
        now = datetime.now(UTC)

        def run() -> str:
            with refusals(), connect(s.dsn, autocommit=True) as conn:
                return issue_link(conn, s.domain, s.uri, wallet, data.address, contracts.evm.chain_id, now)

        message = await asyncio.to_thread(run)
        nonce = next(line.split(": ", 1)[1] for line in message.splitlines() if line.startswith("Nonce: "))
        return Challenge(nonce=nonce, message=message, expires_at=(now + LINK_TTL).isoformat())

    @post("/", operation_id="linkEvmAddress", status_code=201)
    async def link(self, services: Services, wallet: str, data: LinkRequest) -> EvmLink:
        """Verify the signed message and link its signer to the caller's wallet (replacing an
        earlier link); the nonce is consumed, so the same signature cannot be used again."""
        s = services.settings
        contracts = configured_contracts(s)

        def run() -> str:
            with refusals(), connect(s.dsn, autocommit=True) as conn:
                chain_id = contracts.evm.chain_id
                return link_evm_address(
                    conn, s.domain, s.uri, chain_id, data.nonce, data.message, data.signature, datetime.now(UTC),
                    wallet=wallet,
                )  # fmt: skip

        try:
            address = await asyncio.to_thread(run)
        except SiweRefused as exc:
            raise ApiError(_VERDICT[exc.verdict], str(exc)) from exc
        return EvmLink(wallet=wallet, evm_address=address)

    @get("/", operation_id="getMyEvmLink")
    async def mine(self, services: Services, wallet: str) -> EvmLink:
        """The EVM address linked to the caller's wallet (null when none)."""
        configured_contracts(services.settings)

        def run() -> str | None:
            with connect(services.settings.dsn, autocommit=True) as conn:
                return linked_address(conn, wallet)

        return EvmLink(wallet=wallet, evm_address=await asyncio.to_thread(run))

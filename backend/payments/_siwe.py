"""Linking an EVM address to a GridTokenX (Solana) wallet with Sign-In-With-Ethereum (EIP-4361).

The server issues the exact message (domain, address, the wallet it links to, chain id, a
single-use nonce, issue and expiry times); the EVM wallet signs it with personal_sign; the
server recovers the signer and compares everything. No private key leaves the client. Pure
functions here; nonces and links are stored by ``_links``."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import UTC, datetime

from web3 import Web3

from gridx.errors import GridxError

__all__ = ["SiweRefused", "SiweRequest", "SiweVerdict", "siwe_message", "verify_siwe"]


class SiweVerdict(enum.StrEnum):
    MALFORMED_SIGNATURE = "malformed_signature"
    WRONG_SIGNER = "wrong_signer"
    ALTERED_MESSAGE = "altered_message"
    EXPIRED = "expired"
    NOT_YET_VALID = "not_yet_valid"
    UNKNOWN_NONCE = "unknown_nonce"  # never issued, or already used (a replay)


class SiweRefused(GridxError):
    def __init__(self, verdict: SiweVerdict, detail: str = "") -> None:
        super().__init__(f"{verdict.value}: {detail}" if detail else verdict.value)
        self.verdict = verdict


@dataclass(frozen=True)
class SiweRequest:
    domain: str
    uri: str
    address: str  # EIP-55 checksummed EVM address to link
    wallet: str  # the GridTokenX (Solana) wallet it is linked to
    chain_id: int
    nonce: str
    issued_at: datetime
    expires_at: datetime


def _iso(t: datetime) -> str:
    return t.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def siwe_message(r: SiweRequest) -> str:
    return (
        f"{r.domain} wants you to sign in with your Ethereum account:\n"
        f"{Web3.to_checksum_address(r.address)}\n\n"
        f"Link this address to GridTokenX wallet {r.wallet} to pay in THBC.\n\n"
        f"URI: {r.uri}\n"
        f"Version: 1\n"
        f"Chain ID: {r.chain_id}\n"
        f"Nonce: {r.nonce}\n"
        f"Issued At: {_iso(r.issued_at)}\n"
        f"Expiration Time: {_iso(r.expires_at)}"
    )


def verify_siwe(r: SiweRequest, message: str, signature: str, now: datetime) -> str:
    """The checksummed address, if ``signature`` is that address's personal_sign of exactly the
    message issued for ``r`` and ``now`` is inside its validity; else SiweRefused."""
    from eth_account import Account
    from eth_account.messages import encode_defunct

    if message != siwe_message(r):
        raise SiweRefused(SiweVerdict.ALTERED_MESSAGE)
    if now < r.issued_at:
        raise SiweRefused(SiweVerdict.NOT_YET_VALID)
    if now >= r.expires_at:
        raise SiweRefused(SiweVerdict.EXPIRED)
    try:
        signer = Account.recover_message(encode_defunct(text=message), signature=signature)
    except Exception as exc:  # eth_keys raises several types for a bad signature
        raise SiweRefused(SiweVerdict.MALFORMED_SIGNATURE, type(exc).__name__) from exc
    if signer != Web3.to_checksum_address(r.address):
        raise SiweRefused(SiweVerdict.WRONG_SIGNER, signer)
    return str(signer)

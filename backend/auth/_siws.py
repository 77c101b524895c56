"""Sign-In-With-Solana messages (the EIP-4361 text adapted for Solana, as wallets sign it):
building, strict parsing and checking. Pure: no I/O, the clock is an argument.

    {domain} wants you to sign in with your Solana account:
    {address}

    {statement}

    URI: {uri}
    Version: 1
    Chain ID: {chain_id}
    Nonce: {nonce}
    Issued At: {issued_at}
    Expiration Time: {expiration_time}
"""

from __future__ import annotations

import re
import secrets
import string
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from solders.pubkey import Pubkey
from solders.signature import Signature

from backend._errors import ApiError, Problem

__all__ = ["STATEMENT", "SiwsMessage", "check_message", "new_nonce", "parse_message", "verify_signature"]

STATEMENT = "Sign in to GridTokenX to trade energy."
_ALPHABET = string.ascii_letters + string.digits
_TS = "%Y-%m-%dT%H:%M:%SZ"
_MAX_SKEW = timedelta(seconds=30)  # a client clock slightly ahead is not an attack
_RE = re.compile(
    r"(?P<domain>[^\s]{1,253}) wants you to sign in with your Solana account:\n"
    r"(?P<address>[1-9A-HJ-NP-Za-km-z]{32,44})\n\n"
    r"(?P<statement>[^\n]{0,512})\n\n"
    r"URI: (?P<uri>[^\s]{1,512})\n"
    r"Version: 1\n"
    r"Chain ID: (?P<chain_id>[a-z0-9-]{1,32})\n"
    r"Nonce: (?P<nonce>[A-Za-z0-9]{8,64})\n"
    r"Issued At: (?P<issued_at>\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ)\n"
    r"Expiration Time: (?P<expiration>\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ)"
)


def new_nonce() -> str:
    return "".join(secrets.choice(_ALPHABET) for _ in range(24))


def _ts(dt: datetime) -> str:
    return dt.astimezone(UTC).strftime(_TS)


@dataclass(frozen=True)
class SiwsMessage:
    domain: str
    address: str
    statement: str
    uri: str
    chain_id: str
    nonce: str
    issued_at: datetime
    expiration: datetime

    def text(self) -> str:
        return (
            f"{self.domain} wants you to sign in with your Solana account:\n{self.address}\n\n{self.statement}\n\n"
            f"URI: {self.uri}\nVersion: 1\nChain ID: {self.chain_id}\nNonce: {self.nonce}\n"
            f"Issued At: {_ts(self.issued_at)}\nExpiration Time: {_ts(self.expiration)}"
        )


def parse_message(text: str) -> SiwsMessage:
    m = _RE.fullmatch(text)
    if m is None:
        raise ApiError(Problem.SIWS_MALFORMED, "not a Sign-In-With-Solana message in the expected format")
    try:
        Pubkey.from_string(m["address"])
        issued = datetime.strptime(m["issued_at"], _TS).replace(tzinfo=UTC)
        expires = datetime.strptime(m["expiration"], _TS).replace(tzinfo=UTC)
    except ValueError as exc:
        raise ApiError(Problem.SIWS_MALFORMED, str(exc)) from exc
    return SiwsMessage(m["domain"], m["address"], m["statement"], m["uri"], m["chain_id"], m["nonce"], issued, expires)


def check_message(msg: SiwsMessage, *, domain: str, uri: str, chain_id: str, now: datetime, max_age: timedelta) -> None:
    """Refuse a message for another domain or chain, issued too long ago (or in the future),
    or past its expiration. The nonce is checked against the store afterwards."""
    if msg.domain != domain or msg.uri != uri:
        raise ApiError(Problem.SIWS_WRONG_DOMAIN, f"message is for {msg.domain!r} ({msg.uri}), not {domain!r}")
    if msg.chain_id != chain_id:
        raise ApiError(Problem.SIWS_WRONG_CHAIN, f"message is for chain {msg.chain_id!r}, not {chain_id!r}")
    if msg.issued_at < now - max_age or msg.issued_at > now + _MAX_SKEW:
        raise ApiError(Problem.SIWS_STALE, f"issued at {_ts(msg.issued_at)}, outside {max_age} of now")
    if msg.expiration <= now or msg.expiration > msg.issued_at + max_age:
        raise ApiError(Problem.SIWS_EXPIRED, f"expiration {_ts(msg.expiration)} has passed or is too far")


def verify_signature(msg_text: str, address: str, signature_b58: str) -> None:
    """The wallet's ed25519 signature over the UTF-8 message text."""
    try:
        sig = Signature.from_string(signature_b58)
    except ValueError as exc:
        raise ApiError(Problem.SIWS_BAD_SIGNATURE, "signature is not a base58 ed25519 signature") from exc
    if not sig.verify(Pubkey.from_string(address), msg_text.encode()):
        raise ApiError(Problem.SIWS_BAD_SIGNATURE, "signature does not verify for this address and message")

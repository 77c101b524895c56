"""Linking an EVM address by Sign-In-With-Ethereum: the key signs on the client; every altered,
foreign, expired or replayed message is refused with a named verdict."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from eth_account import Account
from eth_account.messages import encode_defunct

from backend.payments import SiweRefused, SiweVerdict, issue_link, link_evm_address, linked_address
from gridx.db import connect, migrate

DOMAIN, URI, CHAIN = "gridtokenx.local", "https://gridtokenx.local/link", 31337
WALLET = "9xQeWvG816bUx9EPjHmaT23yvVM2ZWbrrpZb9PusVFin"
NOW = datetime(2026, 12, 2, 12, 0, tzinfo=UTC)


def sign(acct, msg: str) -> str:  # what the wallet does (personal_sign), on the client
    return "0x" + acct.sign_message(encode_defunct(text=msg)).signature.hex()


@pytest.fixture
def conn(pg_dsn: str):
    migrate(pg_dsn)
    with connect(pg_dsn, autocommit=True) as c:
        yield c


def _nonce(msg: str) -> str:
    return next(line.split(": ", 1)[1] for line in msg.splitlines() if line.startswith("Nonce: "))


def test_link_and_every_refusal(conn) -> None:
    acct, other = Account.create(), Account.create()
    msg = issue_link(conn, DOMAIN, URI, WALLET, acct.address, CHAIN, NOW)
    assert WALLET in msg and acct.address in msg
    nonce = _nonce(msg)

    def attempt(message: str, sig: str, now: datetime = NOW + timedelta(seconds=5)) -> SiweVerdict:
        with pytest.raises(SiweRefused) as exc:
            link_evm_address(conn, DOMAIN, URI, CHAIN, nonce, message, sig, now)
        return exc.value.verdict

    assert attempt(msg, sign(other, msg)) is SiweVerdict.WRONG_SIGNER
    altered = msg.replace(WALLET, "Attacker1111111111111111111111111111111111")
    assert attempt(altered, sign(acct, altered)) is SiweVerdict.ALTERED_MESSAGE
    foreign = msg.replace(DOMAIN, "evil.example", 1)
    assert attempt(foreign, sign(acct, foreign)) is SiweVerdict.ALTERED_MESSAGE
    assert attempt(msg, "0x1234") is SiweVerdict.MALFORMED_SIGNATURE
    assert attempt(msg, sign(acct, msg), NOW + timedelta(minutes=11)) is SiweVerdict.EXPIRED
    assert linked_address(conn, WALLET) is None

    assert link_evm_address(conn, DOMAIN, URI, CHAIN, nonce, msg, sign(acct, msg), NOW) == acct.address
    assert linked_address(conn, WALLET) == acct.address
    assert attempt(msg, sign(acct, msg)) is SiweVerdict.UNKNOWN_NONCE  # replay: the nonce is used

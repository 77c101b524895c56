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

    def attempt(alter, sig_of, now: datetime = NOW + timedelta(seconds=5)) -> SiweVerdict:
        msg = issue_link(conn, DOMAIN, URI, WALLET, acct.address, CHAIN, NOW)  # a nonce is single-attempt
        message = alter(msg)
        with pytest.raises(SiweRefused) as exc:
            link_evm_address(conn, DOMAIN, URI, CHAIN, _nonce(msg), message, sig_of(message), now)
        return exc.value.verdict

    def same(m: str) -> str:
        return m

    assert attempt(same, lambda m: sign(other, m)) is SiweVerdict.WRONG_SIGNER
    foreign_wallet = lambda m: m.replace(WALLET, "Attacker1111111111111111111111111111111111")  # noqa: E731
    assert attempt(foreign_wallet, lambda m: sign(acct, m)) is SiweVerdict.ALTERED_MESSAGE
    foreign_domain = lambda m: m.replace(DOMAIN, "evil.example", 1)  # noqa: E731
    assert attempt(foreign_domain, lambda m: sign(acct, m)) is SiweVerdict.ALTERED_MESSAGE
    assert attempt(same, lambda m: "0x1234") is SiweVerdict.MALFORMED_SIGNATURE
    assert attempt(same, lambda m: sign(acct, m), NOW + timedelta(minutes=11)) is SiweVerdict.EXPIRED
    assert linked_address(conn, WALLET) is None

    msg = issue_link(conn, DOMAIN, URI, WALLET, acct.address, CHAIN, NOW)
    assert WALLET in msg and acct.address in msg
    nonce = _nonce(msg)
    assert link_evm_address(conn, DOMAIN, URI, CHAIN, nonce, msg, sign(acct, msg), NOW) == acct.address
    assert linked_address(conn, WALLET) == acct.address
    with pytest.raises(SiweRefused) as exc:  # replay: the nonce is used
        link_evm_address(conn, DOMAIN, URI, CHAIN, nonce, msg, sign(acct, msg), NOW)
    assert exc.value.verdict is SiweVerdict.UNKNOWN_NONCE


def test_a_failed_attempt_uses_up_the_nonce(conn) -> None:
    """A nonce is single-attempt: whoever holds a challenge cannot try signatures against it
    until one passes; after any refusal the wallet asks for a new challenge."""
    acct, other = Account.create(), Account.create()
    wallet = "3xQeWvG816bUx9EPjHmaT23yvVM2ZWbrrpZb9PusVFin"
    msg = issue_link(conn, DOMAIN, URI, wallet, acct.address, CHAIN, NOW)
    with pytest.raises(SiweRefused) as first:
        link_evm_address(conn, DOMAIN, URI, CHAIN, _nonce(msg), msg, sign(other, msg), NOW)
    assert first.value.verdict is SiweVerdict.WRONG_SIGNER
    with pytest.raises(SiweRefused) as retry:
        link_evm_address(conn, DOMAIN, URI, CHAIN, _nonce(msg), msg, sign(acct, msg), NOW)
    assert retry.value.verdict is SiweVerdict.UNKNOWN_NONCE
    assert linked_address(conn, wallet) is None
    used = conn.execute("SELECT used_at FROM evm_link_nonces WHERE nonce = %s", [_nonce(msg)]).fetchone()
    assert used is not None and used[0] == NOW

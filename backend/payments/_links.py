"""SIWE link requests and links in PostgreSQL (sql/050, 051): issue a nonce, consume it once."""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta

import psycopg
from web3 import Web3

from backend.payments._siwe import SiweRefused, SiweRequest, SiweVerdict, siwe_message, verify_siwe

__all__ = ["LINK_TTL", "issue_link", "link_evm_address", "linked_address"]

LINK_TTL = timedelta(minutes=10)


def issue_link(
    conn: psycopg.Connection, domain: str, uri: str, wallet: str, address: str, chain_id: int, now: datetime
) -> str:
    """Store a single-use request and return the exact message the EVM wallet must sign."""
    r = SiweRequest(
        domain, uri, Web3.to_checksum_address(address), wallet, chain_id, secrets.token_hex(16), now, now + LINK_TTL
    )
    msg = siwe_message(r)
    conn.execute(
        "INSERT INTO evm_link_nonces (nonce, wallet, evm_address, message, issued_at, expires_at)"
        " VALUES (%s, %s, %s, %s, %s, %s)",
        [r.nonce, wallet, r.address, msg, r.issued_at, r.expires_at],
    )
    return msg


def link_evm_address(
    conn: psycopg.Connection,
    domain: str,
    uri: str,
    chain_id: int,
    nonce: str,
    message: str,
    signature: str,
    now: datetime,
    *,
    wallet: str | None = None,
) -> str:
    """Verify and link. The nonce is single-attempt: it is consumed in its own transaction
    before the signature is checked, so a refused attempt uses it up too (a replay, or a second
    try with another signature, finds it used and the wallet asks for a new challenge). With
    ``wallet`` (the API's signed-in caller), only that wallet's own nonce is accepted."""
    with conn.transaction():
        row = conn.execute(
            "UPDATE evm_link_nonces SET used_at = %s WHERE nonce = %s AND used_at IS NULL"
            " AND (%s::text IS NULL OR wallet = %s) RETURNING wallet, evm_address, issued_at, expires_at",
            [now, nonce, wallet, wallet],
        ).fetchone()
    if row is None:
        raise SiweRefused(SiweVerdict.UNKNOWN_NONCE, nonce)
    wallet, address, issued, expires = row
    r = SiweRequest(domain, uri, address, wallet, chain_id, nonce, issued, expires)
    signer = verify_siwe(r, message, signature, now)
    with conn.transaction():
        conn.execute(
            "INSERT INTO evm_links (wallet, evm_address, message, signature) VALUES (%s, %s, %s, %s)"
            " ON CONFLICT (wallet) DO UPDATE SET evm_address = EXCLUDED.evm_address, message = EXCLUDED.message,"
            " signature = EXCLUDED.signature, linked_at = now()",
            [wallet, signer, message, signature],
        )
    return signer


def linked_address(conn: psycopg.Connection, wallet: str) -> str | None:
    row = conn.execute("SELECT evm_address FROM evm_links WHERE wallet = %s", [wallet]).fetchone()
    return None if row is None else str(row[0])

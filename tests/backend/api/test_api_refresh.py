"""Refresh tokens over HTTP: rotated on every use, single use, and a reused one revokes its
whole sign-in; each refusal is a problem document with its own code."""

from __future__ import annotations

import hashlib
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
from solders.keypair import Keypair

from gridx.client import ApiProblem, TradingClient
from tests.backend.api.conftest import Stack


def _refresh(stack: Stack, token: str | None) -> httpx.Response:
    return httpx.post(stack.url + "/auth/refresh", json={"refresh_token": token})


def _problem(r: httpx.Response, code: str) -> None:
    assert r.status_code == 401, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    assert r.json()["code"] == code, r.text


def test_refresh_rotates_and_each_token_works_once(stack: Stack) -> None:
    cl = TradingClient(stack.url, Keypair())
    cl.login()
    first = cl.refresh_token
    assert first
    cl.refresh()
    assert cl.refresh_token not in (None, first)
    assert cl.me()["wallet"] == cl.wallet  # the new access token works
    second = cl.refresh_token
    cl.refresh()
    assert cl.me()["wallet"] == cl.wallet
    # the first token again: a leaked copy. Refused, and the whole sign-in with it
    _problem(_refresh(stack, first), "refresh_reused")
    with pytest.raises(ApiProblem) as exc:
        cl.refresh()  # the newest token of that sign-in is dead too
    assert (exc.value.status, exc.value.code) == (401, "refresh_revoked")
    _problem(_refresh(stack, second), "refresh_revoked")
    # another sign-in of the same wallet is its own family and unaffected
    cl.login()
    cl.refresh()
    assert cl.me()["wallet"] == cl.wallet


def test_concurrent_uses_of_one_token_succeed_once(stack: Stack) -> None:
    cl = TradingClient(stack.url, Keypair())
    cl.login()
    token = cl.refresh_token
    with ThreadPoolExecutor(8) as pool:
        codes = [r.status_code for r in pool.map(lambda _: _refresh(stack, token), range(8))]
    assert sorted(codes) == [200] + [401] * 7, codes


def test_unknown_expired_and_malformed_refresh_refused(stack: Stack) -> None:
    _problem(_refresh(stack, "A" * 43), "refresh_unknown")
    r = _refresh(stack, "not a token!")
    assert r.status_code == 400 and r.json()["code"] == "invalid_request", r.text
    cl = TradingClient(stack.url, Keypair())
    cl.login()
    assert cl.refresh_token
    digest = hashlib.sha256(cl.refresh_token.encode()).digest()
    stack.sql(
        """UPDATE refresh_tokens SET issued_at = now() - interval '2 hours', expires_at = now() - interval '1 hour'
            WHERE token_hash = %s""",
        digest,
    )
    _problem(_refresh(stack, cl.refresh_token), "refresh_expired")

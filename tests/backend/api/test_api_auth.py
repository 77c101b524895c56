"""Sign-in attacks: each refused with its own problem code (RFC 9457 document), over HTTP."""

from __future__ import annotations

import re
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from solders.keypair import Keypair

from backend.auth._siws import STATEMENT, SiwsMessage
from backend.auth._tokens import issue_token
from gridx.client import ApiProblem, TradingClient
from tests.backend.api.conftest import Stack


def _login(stack: Stack, message: str, signer: Keypair) -> httpx.Response:
    sig = str(signer.sign_message(message.encode()))
    return httpx.post(stack.url + "/auth/login", json={"message": message, "signature": sig})


def _problem(r: httpx.Response, status: int, code: str) -> dict[str, Any]:
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    body: dict[str, Any] = r.json()
    assert body["code"] == code and body["status"] == status and body["type"].endswith("/" + code), body
    assert body["title"] and "detail" in body
    return body


def _challenge(stack: Stack, kp: Keypair) -> dict[str, Any]:
    r = httpx.get(stack.url + "/auth/challenge", params={"address": str(kp.pubkey())})
    assert r.status_code == 200
    out: dict[str, Any] = r.json()
    return out


def test_sign_in_gives_a_token_that_works(stack: Stack) -> None:
    cl = TradingClient(stack.url, Keypair())
    with pytest.raises(ApiProblem) as exc:
        cl.me()
    assert (exc.value.status, exc.value.code) == (401, "token_missing")
    cl.login()
    assert cl.me() == {"wallet": cl.wallet, "registration": "not_registered", "user_type": None}


def test_replayed_nonce_refused(stack: Stack) -> None:
    kp = Keypair()
    msg = _challenge(stack, kp)["message"]
    assert _login(stack, msg, kp).status_code == 200
    _problem(_login(stack, msg, kp), 401, "nonce_replayed")


def test_foreign_domain_refused(stack: Stack) -> None:
    kp = Keypair()
    msg = _challenge(stack, kp)["message"]
    domain = stack.url.removeprefix("http://")
    _problem(_login(stack, msg.replace(domain, "evil.example", 1), kp), 401, "siws_wrong_domain")


def test_old_issued_at_refused(stack: Stack) -> None:
    kp = Keypair()
    nonce = _challenge(stack, kp)["nonce"]
    old = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=10)
    domain = stack.url.removeprefix("http://")
    addr = str(kp.pubkey())
    msg = SiwsMessage(domain, addr, STATEMENT, stack.url, "localnet", nonce, old, old + timedelta(minutes=5))
    _problem(_login(stack, msg.text(), kp), 401, "siws_stale")


def test_expired_nonce_refused(stack: Stack) -> None:
    kp = Keypair()
    ch = _challenge(stack, kp)
    stack.sql("UPDATE auth_nonces SET expires_at = now() - interval '1 second' WHERE nonce = %s", ch["nonce"])
    _problem(_login(stack, ch["message"], kp), 401, "nonce_expired")


def test_unknown_nonce_and_someone_elses_nonce_refused(stack: Stack) -> None:
    kp, other = Keypair(), Keypair()
    msg = _challenge(stack, kp)["message"]
    _problem(_login(stack, msg.replace(str(kp.pubkey()), str(other.pubkey())), other), 401, "nonce_unknown")
    ch = _challenge(stack, kp)
    _problem(_login(stack, ch["message"].replace(ch["nonce"], "A" * 24), kp), 401, "nonce_unknown")


def test_bad_signature_and_malformed_message_refused(stack: Stack) -> None:
    kp = Keypair()
    msg = _challenge(stack, kp)["message"]
    _problem(_login(stack, msg, Keypair()), 401, "siws_bad_signature")
    _problem(_login(stack, "please let me in", kp), 400, "siws_malformed")
    assert _login(stack, msg, kp).status_code == 200  # the refused attempts did not burn the nonce


def test_tampered_and_expired_tokens_refused(stack: Stack) -> None:
    cl = TradingClient(stack.url, Keypair())
    token = cl.login()
    body, mac = token.split(".")
    forged = issue_token(b"not-the-key", cl.wallet, int(time.time()), 900)
    for bad in (body[:-2] + "AA." + mac, forged, token + "x"):
        r = httpx.get(stack.url + "/me", headers={"Authorization": f"Bearer {bad}"})
        _problem(r, 401, "token_invalid")
    old = issue_token(stack.token_secret.encode(), cl.wallet, int(time.time()) - 1000, 900)
    _problem(httpx.get(stack.url + "/me", headers={"Authorization": f"Bearer {old}"}), 401, "token_expired")


def test_unknown_route_and_bad_input_are_problem_documents(stack: Stack) -> None:
    _problem(httpx.get(stack.url + "/nope"), 404, "not_found")
    _problem(httpx.get(stack.url + "/auth/challenge", params={"address": "xyz"}), 400, "invalid_request")
    _problem(httpx.post(stack.url + "/auth/login", content=b"{" * 10), 400, "invalid_request")
    _problem(httpx.post(stack.url + "/auth/login", content=b"x" * 100_000), 413, "payload_too_large")
    schema = httpx.get(stack.url + "/schema/openapi.json").json()
    ops = [op.get("operationId") for path in schema["paths"].values() for op in path.values()]
    assert all(ops) and len(set(ops)) == len(ops)
    assert schema["openapi"].startswith("3.1")
    _problem(httpx.get(stack.url + "/metrics"), 404, "not_found")  # not on the public API port
    metrics = httpx.get(stack.metrics_url).text
    assert 'gridx_api_problems_total{code="not_found"} ' in metrics
    assert 'gridx_api_http_requests_total{method="GET",path="/auth/challenge",status_code="400"}' in metrics
    names = set(re.findall(r"^(gridx_[a-z0-9_]+)", metrics, re.M))
    assert all(n.startswith("gridx_api_") for n in names), names  # the API's registry only

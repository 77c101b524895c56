"""Paying in THB over HTTP: the API against a real anvil with our contracts and the local chain.
The seed's order (A sells 15 GRXE at 3 GRX; 1 GRX = 10 THB) is quoted at 450 THBC before
anything is locked; B opens a swap and its EVM wallet signs and sends the unsigned approve and
lock it is given; the lock lands on the escrow with exactly the swap's terms; status and
history show it. Every refusal is a problem document with a stable code."""

from __future__ import annotations

import hashlib
import secrets
from typing import Any

import schemathesis
from eth_account import Account
from eth_account.signers.local import LocalAccount
from hypothesis import HealthCheck, given, settings

from backend.payments import EvmLockState, HtlcContracts, evm_lock_id
from gridx.client import TradingClient
from gridx.db import connect
from gridx.services import AnvilNode
from tests.backend.api.conftest import UNIT, Stack, mint_grxe
from tests.backend.api.test_api_schema import _conforms
from tests.backend.api.thb import ETH, THBC, link, open_sell, refused, send


def test_thb_buy_over_http(thb_stack: Stack, contracts: HtlcContracts, anvil: AnvilNode, issuer: LocalAccount) -> None:
    a, b, stranger = thb_stack.user("prosumer"), thb_stack.user("consumer"), thb_stack.user("consumer")
    mint_grxe(thb_stack, a.keypair, [15 * UNIT])
    order_id = open_sell(a, 15 * UNIT, 3 * UNIT)
    q = b.request("GET", "/payments/thb/quote", params={"order_id": order_id})
    assert (q["grxe"], q["grx"], q["thb_per_grx"], q["thbc"]) == (15 * UNIT, 45 * UNIT, "10", 450 * THBC)
    assert q["evm_deadline"] > q["lock_by_evm"]  # the buyer locks first, with the longer deadline
    assert b.request("GET", "/payments/thb/quote", params={"order_id": order_id, "amount": 5 * UNIT})["thbc"] == (
        150 * THBC
    )

    a_evm, b_evm = Account.create(), Account.create()
    s = secrets.token_bytes(32)  # made and kept by B's client
    body = {"order_id": order_id, "hashlock": "0x" + hashlib.sha256(s).hexdigest(), "thbc": 450 * THBC}
    assert refused(lambda: b.request("POST", "/payments/thb/swaps", json=body)) == (422, "evm_address_not_linked")
    link(thb_stack, b.wallet, b_evm)
    assert refused(lambda: b.request("POST", "/payments/thb/swaps", json=body)) == (422, "seller_evm_not_linked")
    link(thb_stack, a.wallet, a_evm)
    assert refused(lambda: a.request("POST", "/payments/thb/swaps", json=body)) == (422, "own_order")
    stale = {**body, "thbc": 449 * THBC}
    assert refused(lambda: b.request("POST", "/payments/thb/swaps", json=stale)) == (409, "quote_changed")

    opened = b.request("POST", "/payments/thb/swaps", json=body)
    assert opened["quote"]["thbc"] == 450 * THBC
    approve, lock = opened["transactions"]
    assert (approve["to"], lock["to"]) == (contracts.thbc.address, contracts.htlc.address)
    assert lock["from"] == b_evm.address and lock["chainId"] == contracts.evm.chain_id

    anvil.fund(b_evm.address, ETH)
    contracts.mint(issuer, b_evm.address, 450 * THBC)
    for tx in opened["transactions"]:
        send(contracts, b_evm, tx)
    deadline = opened["quote"]["evm_deadline"]
    lock_id = evm_lock_id(
        b_evm.address, a_evm.address, contracts.thbc.address, 450 * THBC, hashlib.sha256(s).digest(), deadline
    )
    assert contracts.get_lock(lock_id).state is EvmLockState.LOCKED
    assert contracts.balance(b_evm.address) == 0

    view = b.request("GET", f"/payments/thb/swaps/{opened['swap_id']}")
    assert (view["thbc"], view["buyer_evm"], view["seller_evm"]) == (450 * THBC, b_evm.address, a_evm.address)
    assert view["steps"][0]["step"] == "quoted" and "buyer_secret" not in view
    assert a.request("GET", f"/payments/thb/swaps/{opened['swap_id']}")["swap_id"] == opened["swap_id"]
    assert [h["swap_id"] for h in b.request("GET", "/payments/thb/swaps")] == [opened["swap_id"]]
    assert [h["swap_id"] for h in a.request("GET", "/payments/thb/swaps")] == [opened["swap_id"]]
    assert stranger.request("GET", "/payments/thb/swaps") == []
    get_other = lambda: stranger.request("GET", f"/payments/thb/swaps/{opened['swap_id']}")  # noqa: E731
    assert refused(get_other) == (403, "not_swap_party")

    claim = f"/payments/thb/swaps/{opened['swap_id']}/claim"
    for who, sec, want in (
        (b, secrets.token_bytes(32), (422, "swap_wrong_secret")),
        (b, s[:31], (422, "swap_bad_secret_length")),
        (b, s + b"\0", (422, "swap_bad_secret_length")),
        (a, s, (403, "not_swap_party")),  # only the buyer hands over its secret
    ):
        assert refused(lambda: who.request("POST", claim, json={"secret": "0x" + sec.hex()})) == want  # noqa: B023
    assert b.request("POST", claim, json={"secret": "0x" + s.hex()})["status"] == "claim_requested"
    with connect(thb_stack.dsn, autocommit=True) as conn:
        rows = conn.execute("SELECT buyer_secret FROM payment_swaps WHERE swap_id = %s", [opened["swap_id"]])
        assert rows.fetchall() == [(s,)]


def test_thb_refusals(thb_stack: Stack) -> None:
    b = thb_stack.user("consumer")
    quote = lambda **p: b.request("GET", "/payments/thb/quote", params=p)  # noqa: E731
    assert refused(lambda: quote(order_id=987_654_321)) == (404, "sell_order_unknown")
    a = thb_stack.user("prosumer")
    mint_grxe(thb_stack, a.keypair, [2 * UNIT])
    order_id = open_sell(a, 2 * UNIT, 3 * UNIT)
    assert refused(lambda: quote(order_id=order_id, amount=3 * UNIT)) == (422, "amount_exceeds_order")
    assert refused(lambda: quote(order_id="x")) == (400, "invalid_request")
    body = {"order_id": order_id, "hashlock": "0x" + "00" * 31, "thbc": 60 * THBC}
    assert refused(lambda: b.request("POST", "/payments/thb/swaps", json=body)) == (400, "invalid_request")
    assert refused(lambda: b.request("GET", "/payments/thb/swaps/" + "0" * 8 + "-0000-4000-8000-" + "0" * 12)) == (
        404,
        "swap_unknown",
    )
    anon = TradingClient(thb_stack.url, b.keypair)  # not signed in
    assert refused(lambda: anon.request("GET", "/payments/thb/swaps")) == (401, "token_missing")
    assert refused(lambda: anon.request("POST", "/payments/thb/swaps", json=body)) == (401, "token_missing")


def test_thb_reused_hashlock_refused(thb_stack: Stack) -> None:
    """A hash lock opens one swap only: once its secret is revealed by a claim anyone can open a
    second lock under it, so a reused one (by the same buyer, on another order, or by another
    buyer) is refused with its own problem code, not a database error."""
    a, b, c2 = thb_stack.user("prosumer"), thb_stack.user("consumer"), thb_stack.user("consumer")
    mint_grxe(thb_stack, a.keypair, [4 * UNIT])
    first, second = open_sell(a, 2 * UNIT, 3 * UNIT), open_sell(a, 2 * UNIT, 3 * UNIT)
    for who in (a, b, c2):
        link(thb_stack, who.wallet, Account.create())
    hashlock = "0x" + hashlib.sha256(secrets.token_bytes(32)).hexdigest()
    body = {"order_id": first, "hashlock": hashlock, "thbc": 60 * THBC}
    b.request("POST", "/payments/thb/swaps", json=body)
    for who, order_id in ((b, first), (b, second), (c2, second)):
        again = {**body, "order_id": order_id}
        assert refused(lambda: who.request("POST", "/payments/thb/swaps", json=again)) == (  # noqa: B023
            409,
            "swap_hashlock_used",
        )
    rows = thb_stack.sql("SELECT count(*) FROM payment_swaps WHERE hashlock = %s", bytes.fromhex(hashlock[2:]))
    assert rows == [(1,)]


def test_thb_routes_only_where_configured(stack: Stack) -> None:
    b = stack.user("consumer")
    assert refused(lambda: b.request("GET", "/payments/thb/swaps")) == (404, "not_found")
    assert not any(p.startswith("/payments") for p in b.request("GET", "/schema/openapi.json")["paths"])


def test_thb_operations_conform(thb_stack: Stack) -> None:
    """schemathesis on the payment operations (the package's schema test runs where they are absent)."""
    token = thb_stack.user("consumer").token or ""
    schema = schemathesis.openapi.from_url(thb_stack.url + "/schema/openapi.json")
    ops = [r.ok() for r in schema.get_all_operations()]
    ops = [op for op in ops if op.path.startswith("/payments/")]
    assert {op.definition.raw["operationId"] for op in ops} == {
        "quoteThb",
        "openThbSwap",
        "getThbSwap",
        "listMyThbSwaps",
        "requestThbSwapClaim",
        "prepareThbSellerLock",
        "challengeEvmLink",
        "linkEvmAddress",
        "getMyEvmLink",
        "prepareThbSellerClose",
    }
    for op in ops:

        @given(case=op.as_strategy())
        @settings(max_examples=15, deadline=None, suppress_health_check=list(HealthCheck), database=None)
        def check(case: Any) -> None:
            _conforms(case, token)

        check()

"""Paying in THB over HTTP: the API against a real anvil with our contracts and the local chain.
The seed's order (A sells 15 GRXE at 3 GRX; 1 GRX = 10 THB) is quoted at 450 THBC before
anything is locked; B opens a swap and its EVM wallet signs and sends the unsigned approve and
lock it is given; the lock lands on the escrow with exactly the swap's terms; status and
history show it. Every refusal is a problem document with a stable code."""

from __future__ import annotations

import dataclasses
import hashlib
import secrets
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
import schemathesis
from eth_account import Account
from eth_account.messages import encode_defunct
from eth_account.signers.local import LocalAccount
from hypothesis import HealthCheck, given, settings
from solders.keypair import Keypair

from backend.payments import (
    Evm,
    EvmLockState,
    EvmSettings,
    HtlcContracts,
    deploy_contracts,
    evm_lock_id,
    issue_link,
    link_evm_address,
)
from gridx.client import ApiProblem, TradingClient
from gridx.db import connect
from gridx.services import AnvilNode
from gridx.services._proc import stop_process
from tests.backend.api.conftest import UNIT, Stack, mint_grxe, start_api
from tests.backend.api.test_api_schema import _conforms
from tests.helpers.gateway import wait_until

ETH, THBC = 10**18, 10**6


@pytest.fixture(scope="module")
def anvil(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AnvilNode]:
    node = AnvilNode(tmp_path_factory.mktemp("anvil")).start()
    yield node
    node.stop()


@pytest.fixture(scope="module")
def issuer(anvil: AnvilNode) -> LocalAccount:
    acct: LocalAccount = Account.create()
    anvil.fund(acct.address, 10 * ETH)
    return acct


@pytest.fixture(scope="module")
def contracts(anvil: AnvilNode, issuer: LocalAccount) -> HtlcContracts:
    return deploy_contracts(Evm(EvmSettings(anvil.url)), issuer, min_duration_s=60, max_duration_s=86_400)


@pytest.fixture(scope="module")
def thb_stack(stack: Stack, tmp_path_factory: pytest.TempPathFactory, contracts: HtlcContracts) -> Iterator[Stack]:
    """A second API process on the package's chain and database, with THB payments configured
    (the package's own API has none: its routes answer 503). The first one matches and indexes."""
    env = {
        "GRIDX_API_EVM_RPC_URL": contracts.evm.settings.rpc_url,
        "GRIDX_API_EVM_THBC": contracts.thbc.address,
        "GRIDX_API_EVM_HTLC": contracts.htlc.address,
        "GRIDX_API_MATCHER": "false",
        "GRIDX_API_INDEXER": "false",
    }
    proc, url, log = start_api(stack.dsn, stack.rpc_url, stack.keys, tmp_path_factory.mktemp("api_thb"), **env)
    try:
        wait_until(lambda: TradingClient(url, Keypair()).request("GET", "/health")["status"] == "ok", 30, "API")
        yield dataclasses.replace(stack, url=url, proc=proc, log=log)
    finally:
        stop_process(proc)


def link(stack: Stack, wallet: str, acct: LocalAccount) -> None:
    """B's EVM wallet signs the Sign-In-With-Ethereum message (the key never leaves the client)."""
    now = datetime.now(UTC)
    with connect(stack.dsn, autocommit=True) as conn:
        msg = issue_link(conn, "gridx.test", "http://gridx.test", wallet, acct.address, 31337, now)
        nonce = next(line.split(": ", 1)[1] for line in msg.splitlines() if line.startswith("Nonce: "))
        sig = "0x" + acct.sign_message(encode_defunct(text=msg)).signature.hex()
        link_evm_address(conn, "gridx.test", "http://gridx.test", 31337, nonce, msg, sig, now)


def open_sell(seller: TradingClient, grxe: int, price: int) -> int:
    order_id = int(seller.sell(grxe, price)["order_id"])
    wait_until(lambda: seller.get_order(order_id)["status"] == "open", 20, "the indexer opened the order")
    return order_id


def refused(call: Any) -> tuple[int, str]:
    with pytest.raises(ApiProblem) as exc:
        call()
    assert exc.value.body["type"].endswith(exc.value.code)
    return exc.value.status, exc.value.code


def send(contracts: HtlcContracts, acct: LocalAccount, tx: dict[str, Any]) -> None:
    """What B's EVM wallet does with an unsigned transaction: nonce, gas, fees, sign, send."""
    w3 = contracts.evm.w3
    tx = {**tx, "nonce": w3.eth.get_transaction_count(acct.address), "gas": 300_000}
    tx |= {"maxFeePerGas": 10**10, "maxPriorityFeePerGas": 10**9}
    receipt = w3.eth.wait_for_transaction_receipt(
        w3.eth.send_raw_transaction(acct.sign_transaction(tx).raw_transaction)
    )
    assert receipt["status"] == 1


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
        assert conn.execute("SELECT buyer_secret FROM payment_swaps").fetchall() == [(s,)]


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


def test_thb_routes_only_where_configured(stack: Stack) -> None:
    b = stack.user("consumer")
    assert refused(lambda: b.request("GET", "/payments/thb/swaps")) == (404, "not_found")
    assert not any(p.startswith("/payments") for p in b.request("GET", "/schema/openapi.json")["paths"])


def test_thb_operations_conform(thb_stack: Stack) -> None:
    """schemathesis on the THB operations (the package's schema test runs where they are absent)."""
    token = thb_stack.user("consumer").token or ""
    schema = schemathesis.openapi.from_url(thb_stack.url + "/schema/openapi.json")
    ops = [r.ok() for r in schema.get_all_operations()]
    ops = [op for op in ops if op.path.startswith("/payments/thb")]
    assert {op.definition.raw["operationId"] for op in ops} == {
        "quoteThb",
        "openThbSwap",
        "getThbSwap",
        "listMyThbSwaps",
        "requestThbSwapClaim",
    }
    for op in ops:

        @given(case=op.as_strategy())
        @settings(max_examples=15, deadline=None, suppress_health_check=list(HealthCheck), database=None)
        def check(case: Any) -> None:
            _conforms(case, token)

        check()

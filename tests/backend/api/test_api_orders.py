"""Orders over HTTP: what a user may not do is refused with a named problem, before anything
reaches the chain; a transaction altered after the API built it is refused."""

from __future__ import annotations

import base64

import pytest
from solders.keypair import Keypair
from solders.transaction import Transaction

import gridx.chain as c
from gridx.client import ApiProblem, TradingClient
from tests.backend.api.conftest import UNIT, Stack, mint_grxe
from tests.helpers.gateway import wait_until


def _refused(fn: object, status: int, code: str) -> ApiProblem:
    with pytest.raises(ApiProblem) as exc:
        fn()  # type: ignore[operator]
    assert (exc.value.status, exc.value.code) == (status, code), exc.value
    return exc.value


@pytest.fixture(scope="module")
def seller(stack: Stack) -> TradingClient:
    a = stack.user("prosumer")
    mint_grxe(stack, a.keypair, [10 * UNIT])
    a.faucet(100 * UNIT)
    return a


def test_cannot_sell_more_than_held_or_trade_unregistered(stack: Stack, seller: TradingClient) -> None:
    p = _refused(lambda: seller.prepare_order("sell", 11 * UNIT, 3 * UNIT), 422, "insufficient_balance")
    assert p.body["held"] <= 10 * UNIT and p.body["needed"] == 11 * UNIT
    _refused(lambda: seller.prepare_order("buy", 100 * UNIT, 2 * UNIT), 422, "insufficient_balance")
    stranger = stack.client()
    stranger.login()
    stranger.faucet(10 * UNIT)
    _refused(lambda: stranger.prepare_order("buy", UNIT, UNIT), 422, "not_registered")
    _refused(lambda: seller.prepare_order("sell", UNIT, 3 * UNIT + 1), 422, "price_off_tick")
    _refused(lambda: seller.prepare_order("sell", UNIT + 1, 3 * UNIT), 422, "amount_off_lot")


def test_altered_or_unsigned_transaction_refused(stack: Stack, seller: TradingClient) -> None:
    prepared = seller.prepare_order("sell", UNIT, 5 * UNIT)
    tx = Transaction.from_bytes(base64.b64decode(prepared["transaction"]))
    msg = bytearray(bytes(tx.message))
    msg[-9] ^= 0x01  # a byte of the instruction data (the price): the wallet signs the altered one
    altered = Transaction.populate(type(tx.message).from_bytes(bytes(msg)), tx.signatures)
    altered.sign([seller.keypair], altered.message.recent_blockhash)
    body = {"transaction": base64.b64encode(bytes(altered)).decode()}
    _refused(lambda: seller.request("POST", f"/transactions/{prepared['tx_id']}", json=body), 422, "tx_altered")
    unsigned = {"transaction": prepared["transaction"]}
    _refused(
        lambda: seller.request("POST", f"/transactions/{prepared['tx_id']}", json=unsigned), 422, "tx_signature_invalid"
    )
    other = TradingClient(stack.url, Keypair())
    other.login()
    signed = c.sign_prepared_tx(base64.b64decode(prepared["transaction"]), [seller.keypair])
    theirs = {"transaction": base64.b64encode(signed).decode()}
    _refused(lambda: other.request("POST", f"/transactions/{prepared['tx_id']}", json=theirs), 404, "not_found")
    assert seller.sign_and_submit(prepared)["status"] == "confirmed"  # the genuine one still goes through
    _refused(lambda: seller.sign_and_submit(prepared), 409, "tx_already_submitted")


def test_idempotency_key(stack: Stack, seller: TradingClient) -> None:
    first = seller.prepare_order("sell", UNIT, 7 * UNIT, key="k-1")
    assert seller.prepare_order("sell", UNIT, 7 * UNIT, key="k-1") == first
    _refused(lambda: seller.prepare_order("sell", 2 * UNIT, 7 * UNIT, key="k-1"), 422, "idempotency_key_reused")
    stack.sql("INSERT INTO idempotency_keys (wallet, key, fingerprint) VALUES (%s, 'k-2', 'x')", seller.wallet)
    _refused(lambda: seller.prepare_order("sell", UNIT, 7 * UNIT, key="k-2"), 422, "idempotency_key_reused")


def test_cancel_only_by_owner_returns_escrow(stack: Stack, seller: TradingClient) -> None:
    before = seller.balances()["grxe"]
    oid = seller.sell(2 * UNIT, 9 * UNIT)["order_id"]
    assert seller.balances()["grxe"] == before - 2 * UNIT
    wait_until(lambda: any(lv["price"] == 9 * UNIT for lv in seller.book()["asks"]), 10, "order in book")
    other = stack.user("consumer")
    _refused(lambda: other.request("POST", f"/orders/{oid}/cancel"), 403, "not_order_owner")
    _refused(lambda: other.get_order(oid), 404, "not_found")
    assert seller.cancel(oid)["status"] == "confirmed"
    assert seller.get_order(oid)["status"] == "cancelled"
    assert seller.balances()["grxe"] == before
    wait_until(lambda: all(lv["price"] != 9 * UNIT for lv in seller.book()["asks"]), 10, "order out of the book")
    _refused(lambda: seller.request("POST", f"/orders/{oid}/cancel"), 409, "order_not_open")


def test_cannot_trade_with_oneself(stack: Stack, seller: TradingClient) -> None:
    sell = seller.sell(UNIT, 4 * UNIT)["order_id"]
    grx = seller.balances()["grx"]
    buy = seller.buy(UNIT, 4 * UNIT)["order_id"]
    # removed by self-trade prevention, and its escrow released to the owner by the market
    # authority (release_order): the owner signs nothing for an order that never rested
    wait_until(lambda: seller.get_order(buy)["status"] == "cancelled", 20, "self-trade prevention, escrow released")
    assert seller.get_order(buy)["reason"] == "self_trade"
    assert seller.balances()["grx"] == grx
    assert seller.get_order(sell)["status"] == "open"
    assert [t for t in seller.trades(mine=True) if sell in (t["sell_order"], t["buy_order"])] == []
    assert seller.cancel(sell)["status"] == "confirmed"

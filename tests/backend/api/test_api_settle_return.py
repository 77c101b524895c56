"""A failed settlement moves nothing on chain, so the counterparty gets its amount back in
the book (engine and database); an order cancelled on chain outside the API leaves the
matcher's engine instead of being matched against."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from solders.pubkey import Pubkey

import gridx.chain as c
from gridx.client import TradingClient
from tests.backend.api.conftest import UNIT, Stack, api_stack, mint_grxe
from tests.helpers.gateway import wait_until


def _cancel_on_chain(s: Stack, owner: TradingClient, order_id: int) -> None:
    """The owner cancels with its own key straight on chain, not through the API."""
    keys = c.load_deployment(s.keys).market_keys()
    ix = c.build_cancel_order_ix(Pubkey.from_string(owner.wallet), keys, order_id, True)
    c.run_on_chain(s.rpc_url, lambda cl: c.send_and_confirm(cl, [ix], [owner.keypair]))


def _seller_and_buyer(s: Stack) -> tuple[TradingClient, TradingClient, int]:
    a, b = s.user("prosumer"), s.user("consumer")
    mint_grxe(s, a.keypair, [5 * UNIT])
    b.faucet(15 * UNIT)
    sell = a.sell(5 * UNIT, 3 * UNIT)["order_id"]
    wait_until(lambda: a.book()["asks"] == [{"price": 3 * UNIT, "amount": 5 * UNIT, "orders": 1}], 10, "ask")
    return a, b, sell


@pytest.fixture
def blind_stack(pg_server: object, tmp_path: Path) -> Iterator[Stack]:
    """No indexer: the API does not learn of a cancel made outside it, so the matcher trades
    against an order the chain no longer has, and that settlement fails."""
    node = c.LocalNode.start()
    try:
        with api_stack(pg_server, node, tmp_path, GRIDX_API_INDEXER="false") as s:
            yield s
    finally:
        node.stop()


def test_failed_settlement_returns_the_counterpartys_amount(blind_stack: Stack) -> None:
    s = blind_stack
    a, b, sell = _seller_and_buyer(s)
    _cancel_on_chain(s, a, sell)
    buy = b.buy(5 * UNIT, 3 * UNIT)["order_id"]
    wait_until(lambda: s.sql("SELECT status FROM trades") == [("failed",)], 30, "the settlement failed")
    (reason,) = s.sql("SELECT reason FROM trades")[0]
    assert reason
    wait_until(lambda: b.get_order(buy)["status"] == "open", 10, "the buy back in the book")
    assert b.get_order(buy)["remaining"] == 5 * UNIT
    assert a.get_order(sell)["status"] == "cancelled"
    bid = [{"price": 3 * UNIT, "amount": 5 * UNIT, "orders": 1}]
    wait_until(lambda: b.book()["bids"] == bid and b.book()["asks"] == [], 10, "the bid in the engine's book")
    # the trading area (orders, escrow, trades): without the indexer this stack has no mint rows
    # for the mint area and the owners' wallets to be checked against
    assert s.reconcile(strict_balances=False)["areas"]["trading"]["drift"] == 0
    # the returned order is a live order: a new seller fills it, and it settles on chain
    c2 = s.user("prosumer")
    mint_grxe(s, c2.keypair, [5 * UNIT])
    c2.sell(5 * UNIT, 3 * UNIT)
    wait_until(lambda: b.get_order(buy)["status"] == "filled", 10, "the returned bid filled")
    wait_until(lambda: [t["status"] for t in b.trades(mine=True)] == ["confirmed", "failed"], 30, "settled")
    assert s.chain_balance(b.wallet, "grxe") == 5 * UNIT and s.chain_balance(c2.wallet, "grx") == 15 * UNIT
    assert s.reconcile(strict_balances=False)["areas"]["trading"]["drift"] == 0


def test_order_cancelled_outside_the_api_leaves_the_engine(stack: Stack) -> None:
    failed_rounds = stack.log.read_text().count("matcher_round_failed")
    a, b, sell = _seller_and_buyer(stack)
    _cancel_on_chain(stack, a, sell)
    wait_until(lambda: a.get_order(sell)["status"] == "cancelled", 20, "the indexer saw the cancel")
    buy = b.buy(5 * UNIT, 3 * UNIT)["order_id"]
    wait_until(lambda: b.book()["bids"] == [{"price": 3 * UNIT, "amount": 5 * UNIT, "orders": 1}], 10, "bid rests")
    assert b.get_order(buy)["status"] == "open"
    assert b.trades(mine=True) == []  # nothing matched against the cancelled ask
    # ... and not by luck: no matching round failed on it and rebuilt the engine from the database
    assert stack.log.read_text().count("matcher_round_failed") == failed_rounds

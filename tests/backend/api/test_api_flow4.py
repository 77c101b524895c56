"""The seed's Flow 4 over HTTP with the client: A and B sign in and register; mints give A
23 GRXE; A sells 15 GRXE at 3 GRX; B buys; A ends with 8 GRXE and +45 GRX, B with 15 GRXE,
on chain and in the API, settled once by the matcher with the market authority's key."""

from __future__ import annotations

from tests.backend.api.conftest import UNIT, Stack, mint_grxe
from tests.helpers.gateway import wait_until


def test_flow4_trade_over_http(stack: Stack) -> None:
    a, b = stack.user("prosumer"), stack.user("consumer")
    assert a.me()["registration"] == "registered" and b.me()["user_type"] == "consumer"
    mint_grxe(stack, a.keypair, [2 * UNIT, 8 * UNIT, 13 * UNIT])
    b.faucet(45 * UNIT)
    assert a.balances()["grxe"] == 23 * UNIT and b.balances()["grx"] == 45 * UNIT
    market = a.markets()[0]
    assert market["fee_bps"] == 0  # shown before signing: the seed's market has no fee

    sold = a.sell(15 * UNIT, 3 * UNIT)
    assert sold["status"] == "confirmed"
    assert a.balances()["grxe"] == 8 * UNIT  # 15 GRXE escrowed on chain
    wait_until(lambda: a.book()["asks"] == [{"price": 3 * UNIT, "amount": 15 * UNIT, "orders": 1}], 10, "ask in book")
    bought = b.buy(15 * UNIT, 3 * UNIT)
    assert bought["status"] == "confirmed"

    def settled() -> bool:
        return [t["status"] for t in b.trades(mine=True)] == ["confirmed"]

    wait_until(settled, 30, "trade settled on chain")
    (trade,) = a.trades(mine=True)
    assert (trade["amount"], trade["price"], trade["payment"], trade["fee"]) == (15 * UNIT, 3 * UNIT, 45 * UNIT, 0)
    assert trade["tx_signature"] and trade["slot"]
    assert (stack.chain_balance(a.wallet, "grxe"), stack.chain_balance(a.wallet, "grx")) == (8 * UNIT, 45 * UNIT)
    assert (stack.chain_balance(b.wallet, "grxe"), stack.chain_balance(b.wallet, "grx")) == (15 * UNIT, 0)
    assert (a.balances()["grxe"], a.balances()["grx"]) == (8 * UNIT, 45 * UNIT)
    assert b.balances()["grxe"] == 15 * UNIT
    assert a.get_order(sold["order_id"])["status"] == "filled"
    assert b.get_order(bought["order_id"])["status"] == "filled"
    assert a.book()["asks"] == [] and a.book()["bids"] == []
    # settled exactly once: one trade row, one TradeExecuted indexed
    # (this trade's events only: the package's stack is shared, other tests trade on it too)
    n_events = "SELECT count(*) FROM chain_events WHERE name = 'TradeExecuted' AND signature = %s"
    wait_until(lambda: stack.sql(n_events, trade["tx_signature"]) == [(1,)], 10, "the indexer saw the trade")
    rep = stack.reconcile()
    assert rep["drift"] == 0, rep

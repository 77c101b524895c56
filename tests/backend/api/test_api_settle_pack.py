"""Several trades settle in one match_order transaction; a pack that the chain refuses as a
whole (one of its trades is bad) is split, so the bad trade fails by name and the others
settle, each exactly once."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from solders.hash import Hash
from solders.keypair import Keypair
from solders.pubkey import Pubkey

import gridx.chain as c
from backend.matcher import MAX_PER_TX, PACKET_BYTES, pack, tx_size
from gridx.client import TradingClient
from tests.backend.api.conftest import UNIT, Stack, api_stack, mint_grxe
from tests.helpers.gateway import wait_until

pytestmark = pytest.mark.slow


def _market_trades(s: Stack) -> tuple[int, int]:
    keys = c.load_deployment(s.keys).market_keys()
    m = c.run_on_chain(s.rpc_url, lambda cl: c.fetch_decoded(cl, "trading", keys.address))
    return int(m.trade_count), int(m.volume)


def _sellers(s: Stack, n: int) -> list[tuple[TradingClient, int]]:
    out = []
    for _ in range(n):
        a = s.user("prosumer")
        mint_grxe(s, a.keypair, [5 * UNIT])
        out.append((a, int(a.sell(5 * UNIT, 3 * UNIT)["order_id"])))
    asks = [{"price": 3 * UNIT, "amount": 5 * n * UNIT, "orders": n}]
    wait_until(lambda: out[0][0].book()["asks"] == asks, 10, "asks rest")
    return out


def test_pack_fills_a_packet_and_keeps_the_engines_order() -> None:
    payer, bh = Keypair().pubkey(), Hash.default()
    keys = c.MarketKeys(Pubkey.new_unique(), Pubkey.new_unique(), Pubkey.new_unique())
    buyer = Pubkey.new_unique()
    items = [
        (i, c.build_match_order_ix(payer, keys, Pubkey.new_unique(), i, buyer, 1, UNIT)) for i in range(3 * MAX_PER_TX)
    ]
    packs = pack(items, payer, bh)
    assert [i for p in packs for i, _ in p] == list(range(3 * MAX_PER_TX))  # all, in order
    assert len(packs) > 1 and all(1 <= len(p) <= MAX_PER_TX for p in packs)
    for p in packs:
        assert tx_size([ix for _, ix in p], payer, bh) <= PACKET_BYTES
    # a full pack: the next trade would not have fitted
    first, nxt = packs[0], packs[1][0]
    assert len(first) == MAX_PER_TX or tx_size([ix for _, ix in [*first, nxt]], payer, bh) > PACKET_BYTES


def test_trades_of_one_round_settle_in_one_transaction(stack: Stack) -> None:
    s = stack
    before = _market_trades(s)
    sellers = _sellers(s, 3)
    b = s.user("consumer")
    b.faucet(45 * UNIT)
    b.buy(15 * UNIT, 3 * UNIT)  # crosses all three asks in one matching round
    mine = "SELECT status, tx_signature FROM trades WHERE buyer = %s"
    wait_until(lambda: [r[0] for r in s.sql(mine, b.wallet)] == ["confirmed"] * 3, 30, "three trades confirmed")
    assert len({r[1] for r in s.sql(mine, b.wallet)}) == 1  # one match_order transaction
    assert _market_trades(s) == (before[0] + 3, before[1] + 15 * UNIT)  # each executed once
    assert s.chain_balance(b.wallet, "grxe") == 15 * UNIT
    for a, _ in sellers:
        assert (s.chain_balance(a.wallet, "grxe"), s.chain_balance(a.wallet, "grx")) == (0, 15 * UNIT)
    assert s.reconcile()["drift"] == 0
    # the settlement metrics move (they were declared and never set): one send-to-confirmation
    # time per transaction, and no trade left open
    samples = dict(_samples(s))
    assert samples["gridx_api_settle_seconds_count"] >= 1 and samples["gridx_api_settle_seconds_sum"] > 0
    wait_until(lambda: ("gridx_api_settlements_open", 0.0) in _samples(s), 10, "no settlement open")


def _samples(s: Stack) -> set[tuple[str, float]]:
    """The settlement series of the API's /metrics, as (name with labels, value)."""
    import httpx

    lines = [ln for ln in httpx.get(s.metrics_url).text.splitlines() if ln.startswith("gridx_api_settle")]
    return {(ln.split(" ")[0], float(ln.split(" ")[1])) for ln in lines}


@pytest.fixture
def blind_stack(pg_server: object, tmp_path: Path) -> Iterator[Stack]:
    """No indexer: a cancel made on chain outside the API stays unknown, so the matcher trades
    against an order the chain no longer has."""
    node = c.LocalNode.start()
    try:
        with api_stack(pg_server, node, tmp_path, GRIDX_API_INDEXER="false") as s:
            yield s
    finally:
        node.stop()


def test_a_bad_trade_fails_alone_and_its_pack_mates_settle(blind_stack: Stack) -> None:
    s = blind_stack
    (a, gone), (a2, _ok) = _sellers(s, 2)
    keys = c.load_deployment(s.keys).market_keys()
    ix = c.build_cancel_order_ix(Pubkey.from_string(a.wallet), keys, gone, True)
    c.run_on_chain(s.rpc_url, lambda cl: c.send_and_confirm(cl, [ix], [a.keypair]))
    b = s.user("consumer")
    b.faucet(30 * UNIT)
    b.buy(10 * UNIT, 3 * UNIT)  # two trades in one round: one pack, one of them bad
    q = "SELECT sell_order, status, reason IS NOT NULL, solo FROM trades ORDER BY id"
    wait_until(lambda: all(r[1] in ("confirmed", "failed") for r in s.sql(q)), 30, "both settled")
    assert s.sql(q) == [(gone, "failed", True, True), (_ok, "confirmed", False, True)]
    assert _market_trades(s) == (1, 5 * UNIT)
    assert s.chain_balance(b.wallet, "grxe") == 5 * UNIT
    assert (s.chain_balance(a2.wallet, "grxe"), s.chain_balance(a2.wallet, "grx")) == (0, 15 * UNIT)
    assert s.sql("SELECT count(*) FROM trades WHERE attempts = 2") == [(2,)]  # the pack, then alone
    # the trading area: without the indexer this stack has no mint rows for the mint area
    assert s.reconcile(strict_balances=False)["areas"]["trading"]["drift"] == 0

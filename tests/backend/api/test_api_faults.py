"""Settlement survives a SIGKILL between send and record, and a chain outage mid-settlement:
every trade settles exactly once afterwards and reconcile finds no drift."""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

import gridx.chain as c
from backend.matcher import MATCH_BATCH
from gridx.client import TradingClient
from tests.backend.api.conftest import UNIT, Stack, api_stack, mint_grxe
from tests.helpers.gateway import wait_until

pytestmark = pytest.mark.slow


@pytest.fixture
def node() -> Iterator[c.LocalNode]:
    n = c.LocalNode.start()
    yield n
    n.stop()


def _trade(s: Stack) -> tuple[TradingClient, TradingClient]:
    a, b = s.user("prosumer"), s.user("consumer")
    mint_grxe(s, a.keypair, [10 * UNIT, 13 * UNIT])
    b.faucet(45 * UNIT)
    a.sell(15 * UNIT, 3 * UNIT)
    b.buy(15 * UNIT, 3 * UNIT)
    return a, b


def _settled_once(s: Stack, a: TradingClient, b: TradingClient) -> None:
    wait_until(lambda: s.sql("SELECT status FROM trades") == [("confirmed",)], 30, "trade confirmed")
    market = c.run_on_chain(
        s.rpc_url, lambda cl: c.fetch_decoded(cl, "trading", c.load_deployment(s.keys).market_keys().address)
    )
    assert (market.trade_count, market.volume) == (1, 15 * UNIT)  # one match_order landed, not two
    assert (s.chain_balance(a.wallet, "grxe"), s.chain_balance(a.wallet, "grx")) == (8 * UNIT, 45 * UNIT)
    assert (s.chain_balance(b.wallet, "grxe"), s.chain_balance(b.wallet, "grx")) == (15 * UNIT, 0)
    rep = s.reconcile()
    assert rep["drift"] == 0, rep


def test_settler_killed_between_send_and_record(pg_server: object, node: c.LocalNode, tmp_path: Path) -> None:
    env = {"GRIDX_API_FAILPOINT": "settle_after_send", "GRIDX_API_SETTLE_LEASE_S": "1"}
    with api_stack(pg_server, node, tmp_path, **env) as s:
        a, b = _trade(s)
        assert s.proc.wait(60) == -9, s.log.read_text()[-3000:]
        # landed on chain, not recorded: the row holds the signed transaction, still 'sent'
        assert s.sql("SELECT status, tx_signature IS NOT NULL, slot FROM trades") == [("sent", True, None)]
        assert s.chain_balance(b.wallet, "grxe") == 15 * UNIT
        s.restart(GRIDX_API_SETTLE_LEASE_S="1")
        _settled_once(s, a, b)
        assert s.sql("SELECT attempts FROM trades") == [(2,)]


def test_chain_outage_mid_settlement(pg_server: object, tmp_path: Path) -> None:
    journal = tmp_path / "ledger.bin"
    node = c.LocalNode.start(c.NodeConfig(journal=journal))
    port = int(node.url.rsplit(":", 1)[1])
    try:
        with api_stack(pg_server, node, tmp_path, GRIDX_API_SETTLE_LEASE_S="1", GRIDX_API_MATCHER="false") as s:
            a, b = _trade(s)  # both orders on chain; no matcher yet
            node.stop()
            s.restart(GRIDX_API_SETTLE_LEASE_S="1")  # matcher on: the trade is made, the chain is gone
            wait_until(lambda: s.sql("SELECT count(*) FROM trades WHERE attempts >= 2") == [(1,)], 30, "retries")
            assert s.sql("SELECT status FROM trades") in ([("sent",)], [("pending",)])
            health = TradingClient(s.url, a.keypair).request("GET", "/health")
            assert health == {"status": "degraded", "database": True, "chain": False}
            node = c.LocalNode.start(c.NodeConfig(port=port, journal=journal))
            _settled_once(s, a, b)
    finally:
        node.stop()


def test_chain_node_dies_between_send_and_confirm(pg_server: object, tmp_path: Path) -> None:
    """The node commits (and journals) the settler's match_order and dies before any reply: the
    settler holds a signature it never saw confirmed. After the node is back, that same
    transaction is found on chain and recorded; nothing is rebuilt or sent to land twice."""
    journal = tmp_path / "ledger.bin"
    node = c.LocalNode.start(c.NodeConfig(journal=journal))
    port = int(node.url.rsplit(":", 1)[1])
    try:
        with api_stack(pg_server, node, tmp_path, GRIDX_API_SETTLE_LEASE_S="1", GRIDX_API_MATCHER="false") as s:
            a, b = _trade(s)  # both orders on chain; no matcher yet
            authority = c.load_keypair(s.keys / "market_authority.json").pubkey()
            down = node.crash_after_commit(lambda rec: bool(rec.account_keys) and rec.account_keys[0] == authority)
            s.restart(GRIDX_API_SETTLE_LEASE_S="1")  # matcher on: the trade is made and sent
            assert down.wait(60), "the settler never sent match_order"
            node.stop()
            ((status, sig),) = s.sql("SELECT status, tx_signature FROM trades")
            assert status == "sent" and sig, (status, sig)  # signed and stored, confirmation never seen
            wait_until(lambda: s.sql("SELECT count(*) FROM trades WHERE attempts >= 2") == [(1,)], 30, "retries")
            node = c.LocalNode.start(c.NodeConfig(port=port, journal=journal))
            _settled_once(s, a, b)
            assert s.sql("SELECT tx_signature FROM trades") == [(sig,)]  # the landed one, not a rebuilt one
    finally:
        node.stop()


def test_settler_killed_mid_pipeline_settles_every_chunk_once(
    pg_server: object, node: c.LocalNode, tmp_path: Path
) -> None:
    """One buy order fills 70 sell orders: 70 trades, more than a chunk, so when the first
    chunk confirms the next is claimed (and maybe built and stored) but not sent. Killed there,
    the restarted settler settles each of the 70 exactly once, the buy order's fills included."""
    n, lot, price = 70, 10_000, 3 * UNIT
    env = {"GRIDX_API_FAILPOINT": "settle_after_send", "GRIDX_API_SETTLE_LEASE_S": "1"}
    assert n <= MATCH_BATCH  # the sells and the buy enter the engine in one round or two
    with api_stack(pg_server, node, tmp_path, **env) as s:
        a, b = s.user("prosumer"), s.user("consumer")
        mint_grxe(s, a.keypair, [UNIT])
        b.faucet(n * lot * price // UNIT)
        with ThreadPoolExecutor(8) as pool:
            list(pool.map(lambda _i: a.sell(lot, price), range(n)))
        wait_until(lambda: a.book()["asks"] == [{"price": price, "amount": n * lot, "orders": n}], 30, "asks rest")
        b.buy(n * lot, price)
        assert s.proc.wait(60) == -9, s.log.read_text()[-3000:]
        rows = s.sql("SELECT count(*), count(*) FILTER (WHERE status = 'confirmed') FROM trades")
        assert rows == [(n, 0)], rows  # killed before any outcome was recorded
        s.restart(GRIDX_API_SETTLE_LEASE_S="1")
        wait_until(lambda: s.sql("SELECT count(*) FROM trades WHERE status = 'confirmed'") == [(n,)], 60, "settled")
        keys = c.load_deployment(s.keys).market_keys()
        market = c.run_on_chain(s.rpc_url, lambda cl: c.fetch_decoded(cl, "trading", keys.address))
        assert (market.trade_count, market.volume) == (n, n * lot)  # each trade landed once
        assert s.chain_balance(b.wallet, "grxe") == n * lot
        assert s.chain_balance(a.wallet, "grx") == n * lot * price // UNIT
        assert s.chain_balance(a.wallet, "grxe") == UNIT - n * lot
        rep = s.reconcile()
        assert rep["drift"] == 0, rep

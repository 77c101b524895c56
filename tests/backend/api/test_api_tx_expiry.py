"""A user's transaction that never lands does not strand its order: the API dies after marking a
cancel submitted and before sending it (the same state a node unreachable at send time leaves);
once the chain's block height passes the transaction's last valid height, the restarted API
fails it with reason 'expired', counts it, and the order is back in the book, where a new
cancel goes through. The chain node runs fast slots so that a blockhash expires in seconds."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

import gridx.chain as c
from gridx.client import TradingClient
from tests.backend.api.conftest import UNIT, Stack, api_stack, mint_grxe
from tests.helpers.gateway import wait_until

pytestmark = pytest.mark.slow


@pytest.fixture
def node() -> Iterator[c.LocalNode]:
    n = c.LocalNode.start(c.NodeConfig(slot_ms=40))  # 150 blocks of blockhash validity: about 6 s
    yield n
    n.stop()


def _order(s: Stack, oid: int) -> tuple[object, ...]:
    return s.sql("SELECT status, in_engine FROM orders WHERE id = %s", oid)[0]


def test_lost_cancel_expires_and_the_order_returns(pg_server: object, node: c.LocalNode, tmp_path: Path) -> None:
    with api_stack(pg_server, node, tmp_path) as s:
        a = s.user("prosumer")
        mint_grxe(s, a.keypair, [3 * UNIT])
        oid = int(a.sell(3 * UNIT, 5 * UNIT)["order_id"])
        wait_until(lambda: _order(s, oid) == ("open", True), 20, "the order in the matcher's book")

        s.restart(GRIDX_API_FAILPOINT="submit_before_send")
        a = TradingClient(s.url, a.keypair)
        a.login()
        with pytest.raises(httpx.HTTPError):  # the API is killed while it holds the signed cancel
            a.cancel(oid)
        assert s.proc.wait(30) == -9, s.log.read_text()[-3000:]
        assert _order(s, oid)[0] == "cancelling"
        tx = s.sql(
            "SELECT id, status, last_valid_height FROM prepared_txs WHERE order_id = %s AND kind = 'cancel'", oid
        )
        assert [status for _, status, _ in tx] == ["submitted"]

        s.restart()
        a = TradingClient(s.url, a.keypair)
        a.login()
        wait_until(lambda: _order(s, oid) == ("open", True), 60, "the expired cancel's order back in the book")
        assert s.sql("SELECT status, reason FROM prepared_txs WHERE id = %s", tx[0][0]) == [("failed", "expired")]
        height = c.run_on_chain(s.rpc_url, lambda cl: c.rpc_call(cl.get_block_height()))
        assert int(height.value) > int(tx[0][2])  # type: ignore[arg-type]
        metrics = httpx.get(s.metrics_url).text
        assert 'gridx_api_tx_expired_total{kind="cancel"} 1.0' in metrics
        assert any(lv["price"] == 5 * UNIT for lv in a.book()["asks"])

        before = s.chain_balance(a.wallet, "grxe")
        assert a.cancel(oid)["status"] == "confirmed"  # a new cancel, on a fresh blockhash
        assert _order(s, oid)[0] == "cancelled"
        assert s.chain_balance(a.wallet, "grxe") == before + 3 * UNIT

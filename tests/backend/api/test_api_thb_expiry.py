"""A seller's hash lock that never lands does not strand its sell order in 'swap_locking': an API
process dies after marking the lock submitted and before sending it; the matcher holds the
lock's amount back (the rest keeps its place); once the chain's block height passes the lock's
last valid height, the other API process fails it with reason 'expired', records
'seller_lock_failed' on the swap, and the order is back in the book with all it has; the seller
prepares the lock again and it lands. Fast slots make a blockhash expire in seconds."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from eth_account import Account
from eth_account.signers.local import LocalAccount

import gridx.chain as c
from backend.payments import HtlcContracts
from gridx.client import TradingClient
from gridx.services import AnvilNode, stop_process
from tests.backend.api.conftest import UNIT, Stack, api_stack, mint_grxe, start_api
from tests.backend.api.test_api_thb_lock import _open_locked_swap, _order_row
from tests.backend.api.thb import ETH, link_over_http, open_sell
from tests.helpers.gateway import wait_until

pytestmark = pytest.mark.slow


@pytest.fixture
def node() -> Iterator[c.LocalNode]:
    n = c.LocalNode.start(c.NodeConfig(slot_ms=100))  # 150 blocks of blockhash validity: about 15 s
    yield n
    n.stop()


def _relogin(s: Stack, cl: TradingClient) -> TradingClient:
    out = TradingClient(s.url, cl.keypair)
    out.login()
    return out


def test_lost_seller_lock_expires_and_the_order_returns(
    pg_server: object,
    node: c.LocalNode,
    tmp_path: Path,
    contracts: HtlcContracts,
    anvil: AnvilNode,
    issuer: LocalAccount,
) -> None:
    evm = {
        "GRIDX_API_EVM_RPC_URL": contracts.evm.settings.rpc_url,
        "GRIDX_API_EVM_THBC": contracts.thbc.address,
        "GRIDX_API_EVM_HTLC": contracts.htlc.address,
    }
    with api_stack(pg_server, node, tmp_path, **evm) as s:
        a, b = s.user("prosumer"), s.user("consumer")
        mint_grxe(s, a.keypair, [6 * UNIT])
        order_id = open_sell(a, 6 * UNIT, 3 * UNIT)
        b_evm = Account.create()
        link_over_http(a, Account.create())
        link_over_http(b, b_evm)
        anvil.fund(b_evm.address, ETH)
        parties = {"a": a, "b": b, "b_evm": b_evm, "order_id": order_id}
        opened, _ = _open_locked_swap(s, contracts, anvil, issuer, parties, 4 * UNIT)
        lock_path = f"/payments/thb/swaps/{opened['swap_id']}/lock"

        # a second API process (no matcher) takes the seller's lock and dies holding it; the
        # first one matches, and holds the lock's 4 back in the book until the lock expires
        proc, url, log = start_api(
            s.dsn, s.rpc_url, s.keys, tmp_path, GRIDX_API_FAILPOINT="submit_before_send",
            GRIDX_API_MATCHER="false", GRIDX_API_INDEXER="false", **evm,
        )  # fmt: skip
        try:
            a_there = _relogin(dataclasses.replace(s, url=url), a)
            prepared = a_there.request("POST", lock_path)
            with pytest.raises(httpx.HTTPError):  # the API is killed while it holds the signed lock
                a_there.sign_and_submit(prepared)
            assert proc.wait(30) == -9, log.read_text()[-3000:]
        finally:
            stop_process(proc)
        held = "SELECT status, held, in_engine FROM orders WHERE id = %s"
        wait_until(lambda: s.sql(held, order_id) == [("swap_locking", 4 * UNIT, True)], 20, "the lock's 4 held back")
        wait_until(lambda: [lv["amount"] for lv in a.book()["asks"]] == [2 * UNIT], 20, "the rest in the book")

        wait_until(lambda: _order_row(s, order_id) == ("open", 6 * UNIT, True), 60, "the order back in the book")
        assert s.sql(held, order_id) == [("open", 0, True)]
        wait_until(lambda: [lv["amount"] for lv in a.book()["asks"]] == [6 * UNIT], 20, "all 6 in the book again")
        assert s.sql("SELECT status, reason FROM prepared_txs WHERE id = %s", prepared["tx_id"]) == [
            ("failed", "expired")
        ]
        steps = a.request("GET", f"/payments/thb/swaps/{opened['swap_id']}")["steps"]
        failed = [st["detail"] for st in steps if st["step"] == "seller_lock_failed"]
        assert failed == [{"tx_id": prepared["tx_id"], "reason": "expired"}]

        again = a.sign_and_submit(a.request("POST", lock_path))  # prepared again, on a fresh blockhash
        assert (again["status"], again["kind"]) == ("confirmed", "swap_lock")
        wait_until(lambda: _order_row(s, order_id) == ("open", 2 * UNIT, True), 20, "the order reopened")

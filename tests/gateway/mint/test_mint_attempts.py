"""The mint worker's attempt limit: a row the chain keeps sending back is closed as 'failed'
after ``max_attempts`` sends, alone, while other meters' rows keep being minted. Real
PostgreSQL and the SBF programs in the in-process LiteSVM node behind JSON-RPC."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from pathlib import Path

import pytest

from gateway.mint import MintWorker
from gridx.chain import LocalNode, NodeConfig
from tests.helpers.gateway import Meter, scalar, setup_db, wait_until
from tests.helpers.mint import HOUR, ChainSetup, MintThread, bootstrap_chain, outbox_counts, store_for_mint

EDGE = "edge-att"


@pytest.fixture
def chain(pg_dsn: str, tmp_path: Path) -> Iterator[ChainSetup]:
    node = LocalNode.start(NodeConfig())
    try:
        setup_db(pg_dsn)
        yield bootstrap_chain(node.url, tmp_path / "keys", pg_dsn, node)
    finally:
        node.stop()


def _hourly(meter_id: str, first_window: int) -> Meter:
    m = Meter(meter_id, EDGE, rated_power_w=30_000)
    m.window_end = first_window
    return m


def _next(m: Meter, produced: int):  # type: ignore[no-untyped-def]
    u = m.unsigned(produced, 0, window_end=m.window_end + HOUR)
    m.advance(u)
    return m.sign(u)


def test_a_row_that_keeps_coming_back_fails_after_the_limit_and_others_flow(chain: ChainSetup) -> None:
    now_hour = scalar(chain.dsn, "SELECT extract(epoch FROM now())::bigint") // HOUR * HOUR
    # A signed reading of a window two days ahead: the program answers WindowInFuture, a
    # transient refusal (the window may become mintable), so the row goes back to the queue
    # every time -- until the attempt limit closes it.
    stuck = _hourly("stuck", now_hour + 48 * HOUR)
    chain.enroll(stuck, interval_s=HOUR)
    store_for_mint(chain.dsn, _next(stuck, 1_000), EDGE)
    flowing = _hourly("flowing", now_hour - 6 * HOUR)
    owner = chain.enroll(flowing, interval_s=HOUR)

    thread = MintThread(chain.settings())
    cfg = thread.worker.cfg
    assert cfg.max_attempts == 20  # what the worker's docs promise the operator
    # retries back off from retry_after_s (doubling, capped): small here so 20 sends are quick
    thread.worker = MintWorker(dataclasses.replace(cfg, retry_after_s=0.002))
    thread.start()
    try:
        wait_until(lambda: scalar(chain.dsn, "SELECT attempts FROM mint_outbox") >= 3, 60, "the stuck row retried")
        # rows of another meter arrive while the stuck one is being retried: they are minted
        for produced in (1_000, 2_000, 3_000):
            store_for_mint(chain.dsn, _next(flowing, produced), EDGE)
        wait_until(lambda: outbox_counts(chain.dsn) == {"confirmed": 3, "failed": 1}, 120, "all judged")
    finally:
        thread.stop()
    row = "SELECT {} FROM mint_outbox WHERE meter_id = 'stuck'"
    assert scalar(chain.dsn, row.format("reason")) == "20 attempts"
    # every send before the limit was a real attempt the chain answered with the transient code
    assert scalar(chain.dsn, row.format("tx_signature")) is None
    assert chain.grxe_balance(str(owner.pubkey())) == 6_000_000
    assert scalar(chain.dsn, "SELECT count(*) FROM token_mints WHERE meter_id = 'stuck'") == 0
    assert chain.reconcile().drift == 0

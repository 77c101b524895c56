"""Mint path under faults: the worker killed between send and record (with one pass or two in
flight) and the chain node stopped mid-stream; every window is minted exactly once afterwards.
Real mosquitto, PostgreSQL and SBF programs in the local chain."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from gridx.services import MosquittoBroker
from tests.helpers.gateway import GatewayThread, Meter, Publisher, gateway_config, scalar, setup_db, wait_until
from tests.helpers.mint import (
    EDGE,
    ChainSetup,
    MintThread,
    bootstrap_chain,
    expected_grxe,
    hourly,
    outbox_counts,
    stream,
)


def _killed_then_restarted(
    chain: ChainSetup, broker: MosquittoBroker, log: Path, meters: list[Meter], settings: Any, left: Callable[[], None]
) -> None:
    """Two windows of every meter are stored; a worker with ``settings`` (a failpoint) dies by
    SIGKILL; ``left()`` checks what it left behind; a fresh worker then confirms every row.
    Afterwards each owner holds exactly its surplus and the chain reconciles with drift 0."""
    from tests.helpers.mint import mint_process

    owners = [chain.enroll(m) for m in meters]
    batches = stream(meters, 2)
    total = len(meters) * 2
    gw = GatewayThread(gateway_config(broker, chain.dsn)).start()
    pub = Publisher(broker, EDGE)
    try:
        for batch in batches:
            pub.publish(batch)
        wait_until(lambda: outbox_counts(chain.dsn) == {"pending": total}, 30, f"{total} pending mints")
        proc = mint_process(settings, log)
        assert proc.wait(60) == -9, log.read_text()
        left()
        assert scalar(chain.dsn, "SELECT count(*) FROM token_mints") == 0
        worker = MintThread(chain.settings()).start()
        try:
            wait_until(lambda: outbox_counts(chain.dsn) == {"confirmed": total}, 30, f"{total} mints confirmed")
        finally:
            worker.stop()
    finally:
        pub.close()
        gw.stop()
    expected = expected_grxe(batches)
    assert sum(chain.grxe_balance(str(o.pubkey())) for o in owners) == expected
    rep = chain.reconcile()
    assert rep.drift == 0, rep
    assert rep.supply == expected


def test_killed_between_send_and_record_mints_once(chain: ChainSetup, broker: MosquittoBroker, tmp_path: Path) -> None:
    """The worker dies by SIGKILL after its transactions confirmed, before it records them."""
    settings = chain.settings(failpoint="after_send", lease_s=1.0)
    left = lambda: assert_equal(outbox_counts(chain.dsn), {"sent": 10})  # noqa: E731
    _killed_then_restarted(chain, broker, tmp_path / "mint.log", _meters("kill", 5), settings, left)
    assert scalar(chain.dsn, "SELECT count(*) FROM mint_outbox WHERE reason = 'already_done'") == 10
    # found on chain: the creating transaction's signature was recovered, not left unknown
    assert scalar(chain.dsn, "SELECT count(*) FROM token_mints WHERE tx_signature = 'unknown'") == 0


def test_killed_with_two_passes_in_flight_mints_once(
    chain: ChainSetup, broker: MosquittoBroker, tmp_path: Path
) -> None:
    """Passes overlap: the worker dies after one pass's transactions confirmed, while the next
    pass (other meters) is already claimed, signed and noted. Restarted, every window is minted
    exactly once: the chain is asked about every noted signature before anything is resent."""
    # a claim of 4 rows: two meters' two windows per pass, so a second pass has other meters
    settings = chain.settings(failpoint="after_send_overlapped", lease_s=1.0, claim_batch=4)
    noted = "SELECT count(DISTINCT meter_id) FROM mint_outbox WHERE status = 'sent' AND sent_signatures IS NOT NULL"
    left = lambda: assert_equal(scalar(chain.dsn, noted), 4)  # noqa: E731 (two passes of two meters in flight)
    _killed_then_restarted(chain, broker, tmp_path / "mint.log", _meters("pipe", 8), settings, left)
    # the first pass landed before the kill: found on chain by its noted signatures
    assert scalar(chain.dsn, "SELECT count(*) FROM mint_outbox WHERE reason = 'already_done'") >= 4


def _meters(prefix: str, n: int) -> list[Meter]:
    return [hourly(f"{prefix}-{i}") for i in range(n)]


def assert_equal(got: object, want: object) -> None:
    assert got == want, (got, want)


@pytest.mark.slow
def test_chain_outage_queues_and_drains(pg_dsn: str, broker: MosquittoBroker, tmp_path: Path) -> None:
    """The chain node is stopped for 30 s mid-stream: mints queue, then all land once."""
    import subprocess
    import time

    from gridx.paths import ROOT
    from gridx.services import free_port, gridx_command, stop_process, wait_for_port

    port = free_port()
    cmd = gridx_command("chain", "node", "--port", str(port), "--journal", str(tmp_path / "ledger.bin"))
    log = (tmp_path / "node.log").open("ab")

    def start_node() -> subprocess.Popen[bytes]:
        p = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, cwd=ROOT)
        wait_for_port(port, p, 30)
        return p

    node = start_node()
    setup_db(pg_dsn)
    chain = bootstrap_chain(f"http://127.0.0.1:{port}", tmp_path / "keys", pg_dsn)
    # a node in its own process has only wall time: 1-second windows after the enrolment
    meters = [Meter(f"out-{i}", EDGE, rated_power_w=3_600_000) for i in range(4)]
    owners = [chain.enroll(m, interval_s=1) for m in meters]
    start = int(time.time()) + 1
    batches = []
    for w in range(4):
        batch = []
        for i, m in enumerate(meters):
            u = m.unsigned(100 + i, 40, window_start=start + w, window_end=start + w + 1)
            m.advance(u)
            batch.append(m.sign(u))
        batches.append(batch)
    wait_until(lambda: time.time() >= start + 5, 10, "the four 1-second windows have ended")
    gw = GatewayThread(gateway_config(broker, chain.dsn)).start()
    worker = MintThread(chain.settings()).start()
    pub = Publisher(broker, EDGE)
    try:
        pub.publish(batches[0])
        wait_until(lambda: outbox_counts(chain.dsn) == {"confirmed": 4}, 30, "first window minted")
        stop_process(node)
        for batch in batches[1:]:
            pub.publish(batch)
        wait_until(lambda: scalar(chain.dsn, "SELECT count(*) FROM readings") == 16, 30, "readings stored meanwhile")
        time.sleep(30)  # the outage itself (not a wait for a result)
        assert outbox_counts(chain.dsn).get("confirmed") == 4
        node = start_node()
        wait_until(lambda: outbox_counts(chain.dsn) == {"confirmed": 16}, 60, "queued mints drained")
    finally:
        pub.close()
        worker.stop()
        gw.stop()
    try:
        assert sum(chain.grxe_balance(str(o.pubkey())) for o in owners) == expected_grxe(batches)
        rep = chain.reconcile()
        assert rep.drift == 0, rep
    finally:
        stop_process(node)

"""A backfilled window behind its meter's on-chain high-water mark (a late reading credited in a
skipped hole after later windows were minted) can never be minted: the worker closes it as
'behind_chain', counted, without a transaction, and the meter's later windows go on.
Real PostgreSQL, real SBF programs in the local LiteSVM node."""

from __future__ import annotations

from typing import Any

import psycopg

from tests.helpers.gateway import scalar, wait_until
from tests.helpers.mint import EDGE, ChainSetup, MintThread, hourly, outbox_counts, reading


def _store(dsn: str, r: Any) -> None:
    """As the gateway stores an accepted reading: the reading and its outbox row."""
    with psycopg.connect(dsn) as conn:
        conn.execute(
            "INSERT INTO readings (meter_id, window_start, window_end, seq, produced_wh, consumed_wh, surplus_wh,"
            " produced_total_wh, consumed_total_wh, prev_hash, hash, sig, edge_id, sent_at_ms)"
            " VALUES (%s, to_timestamp(%s), to_timestamp(%s), %s, %s, %s, %s, %s, %s, %s, '', %s, %s, 0)",
            (r.meter_id, r.window_start, r.window_end, r.seq, r.produced_wh, r.consumed_wh,
             r.produced_wh - r.consumed_wh, r.produced_total_wh, r.consumed_total_wh, r.prev_hash, r.sig, EDGE),
        )  # fmt: skip
        conn.execute(
            "INSERT INTO mint_outbox (meter_id, window_start, window_end, surplus_wh, amount)"
            " VALUES (%s, to_timestamp(%s), to_timestamp(%s), %s, %s)",
            (r.meter_id, r.window_start, r.window_end, r.produced_wh - r.consumed_wh,
             (r.produced_wh - r.consumed_wh) * 1000),
        )  # fmt: skip


def test_a_backfill_behind_the_high_water_mark_is_behind_chain_not_sent(chain: ChainSetup) -> None:
    m = hourly("backfilled")
    owner = chain.enroll(m)
    r1, r2, r3 = reading(m, 2_000, 500), reading(m, 2_000, 500), reading(m, 2_000, 500)
    _store(chain.dsn, r2)  # seq 1 late: the gateway skipped its hole and credited 2 and 3
    _store(chain.dsn, r3)
    worker = MintThread(chain.settings()).start()
    behind = worker.worker.metrics.outcomes.labels("behind_chain", "WindowBehindHighWaterMark")
    try:
        wait_until(lambda: outbox_counts(chain.dsn) == {"confirmed": 2}, 30, "windows 2 and 3 minted")
        _store(chain.dsn, r1)  # the backfill arrives, proven by seq 2's prev_hash
        wait_until(lambda: outbox_counts(chain.dsn) == {"confirmed": 2, "behind_chain": 1}, 30, "backfill judged")
        r4 = reading(m, 2_000, 500)
        _store(chain.dsn, r4)
        wait_until(lambda: outbox_counts(chain.dsn) == {"confirmed": 3, "behind_chain": 1}, 30, "the meter goes on")
    finally:
        worker.stop()
    row = "FROM mint_outbox WHERE status = 'behind_chain'"
    assert scalar(chain.dsn, f"SELECT reason {row}") == "WindowBehindHighWaterMark"
    assert scalar(chain.dsn, f"SELECT sent_signatures IS NULL {row}"), "no transaction carried it"
    assert scalar(chain.dsn, f"SELECT extract(epoch FROM window_start)::bigint {row}") == r1.window_start
    assert behind._value.get() == 1  # the worker's own registry: counted once
    assert chain.grxe_balance(str(owner.pubkey())) == 3 * 1_500_000

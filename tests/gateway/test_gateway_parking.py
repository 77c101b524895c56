"""A reading that overtakes its predecessor (consecutive messages of one edge on two gateways of
the share group) waits briefly in memory instead of the quarantine round trip, which cost 3
readings in 4 a quarantine row, a re-parse and a second signature check in ``gridx bench
ingest --meters 1000``; and the bounds that keep one edge from holding up another."""

from __future__ import annotations

import asyncio
from typing import Any

import psycopg

from gateway._judge import Candidate
from gateway._parking import Parking
from gateway._store import flush
from gridx.errors import Reason
from gridx.wire import Reading, reading_hash
from tests.gateway.test_gateway_defects import POLICY
from tests.gateway.test_gateway_meter_ops import entry_of
from tests.helpers.gateway import Meter, scalar, setup_db


def cand(ref: object, r: Reading, entry: Any = None) -> Candidate[Any]:
    return Candidate(ref, r, entry, reading_hash(r), 0.0, 0)


# -- the bounds, pure -------------------------------------------------------------------------
def test_a_parked_reading_is_released_when_its_chain_moves_or_its_time_is_up():
    m = Meter("m1", "edge-a")
    r1, r2 = m.next(), m.next()
    p: Parking[Any] = Parking(hold_s=2.0, max_messages=10)
    a, b = cand("msg-a", r1), cand("msg-b", r2)
    assert p.admitter(100.0)(a)
    p.hold([a, b], 100.0)
    assert a.park_until == 102.0 and len(p) == 2
    assert p.release({"other"}, 101.0) == []
    assert p.release({"m1"}, 101.0) == [a, b] and len(p) == 0
    # judged again and parked again: the clock does not start over
    p.hold([a], 101.5)
    assert a.park_until == 102.0
    assert p.release(set(), 101.9) == []
    assert p.release(set(), 102.0) == [a]
    assert not p.admitter(102.0)(a), "its time is up: the quarantine, not another wait"


def test_at_most_max_messages_wait_and_requarantined_rows_never():
    m = Meter("m1", "edge-a")
    rs = [m.next() for _ in range(5)]
    p: Parking[Any] = Parking(hold_s=2.0, max_messages=2)
    admit = p.admitter(0.0)
    verdicts = [admit(cand(f"msg-{i}", r)) for i, r in enumerate(rs)]
    assert verdicts == [True, True, False, False, False]
    assert admit(cand("msg-0", rs[4])), "another reading of a message already waiting"
    p.hold([cand("msg-0", rs[0]), cand("msg-1", rs[1])], 0.0)
    assert not p.admitter(0.0)(cand("msg-9", rs[2])), "the budget counts what is held"
    readmitted = cand("msg-0", rs[3])
    readmitted.quarantine_id = 7
    assert not p.admitter(0.0)(readmitted)
    assert not Parking(hold_s=0.0).admitter(0.0)(cand("x", rs[0])), "park_s 0: never"
    assert len(p.close()) == 2 and not p.admitter(0.0)(cand("msg-0", rs[0])), "stopping"


# -- against PostgreSQL -----------------------------------------------------------------------
def _flush(dsn: str, cands: list[Candidate[Any]], parking: Parking[Any] | None) -> Any:
    async def go() -> Any:
        async with await psycopg.AsyncConnection.connect(dsn) as conn:
            return await flush(conn, cands, [], policy=POLICY, parking=parking)

    return asyncio.run(go())


def test_a_reading_whose_predecessor_is_in_flight_waits_in_memory(pg_dsn):
    """Gateway B flushes seq 2 while gateway A still holds seq 1: seq 2 is parked (nothing
    quarantined, its message not acknowledged); once seq 1 is committed it is stored."""
    setup_db(pg_dsn)
    m = Meter("m1", "edge-a").enroll(pg_dsn)
    e = entry_of(pg_dsn, m)
    r1, r2 = m.next(), m.next()
    gw_b: Parking[Any] = Parking(hold_s=60.0, max_messages=10)
    out = _flush(pg_dsn, [cand("msg-b", r2, e)], gw_b)
    assert [c.reading.seq for c in out.judgement.parked] == [2] and not out.judgement.rejected
    gw_b.hold(out.judgement.parked, 0.0)
    assert scalar(pg_dsn, "SELECT count(*) FROM quarantine") == 0
    out = _flush(pg_dsn, [cand("msg-a", r1, e)], Parking[Any]())  # gateway A commits seq 1
    assert [c.reading.seq for c in out.judgement.accepted] == [1]
    out = _flush(pg_dsn, gw_b.release(None, 1.0), gw_b)  # A's progress notification
    assert [c.reading.seq for c in out.judgement.accepted] == [2]
    assert scalar(pg_dsn, "SELECT count(*) FROM readings") == 2
    assert scalar(pg_dsn, "SELECT count(*) FROM quarantine") == 0


def test_a_hole_still_open_when_the_time_is_up_is_quarantined_as_chain_gap(pg_dsn):
    setup_db(pg_dsn)
    m = Meter("m1", "edge-a").enroll(pg_dsn)
    e = entry_of(pg_dsn, m)
    m.next()  # seq 1 never arrives
    r2 = m.next()
    p: Parking[Any] = Parking(hold_s=0.5, max_messages=10)
    c = cand("msg", r2, e)
    out = _flush(pg_dsn, [c], p)
    p.hold(out.judgement.parked, 0.0)
    assert p.release(set(), 0.4) == []
    out = _flush(pg_dsn, p.release(set(), 0.5), p)
    assert not out.judgement.parked
    assert [q.reason for q in out.judgement.rejected] == [Reason.CHAIN_GAP]
    assert scalar(pg_dsn, "SELECT reason FROM quarantine") == "chain_gap"

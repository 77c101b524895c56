"""The pure checks, without broker or database: one crafted reading per verdict."""

from __future__ import annotations

import pytest
from nacl.signing import SigningKey

from gateway._checks import (
    ChainHole,
    MeterState,
    Policy,
    RegistryEntry,
    check_reading,
    parse_message,
    topic_edge,
)
from gateway._judge import Candidate, judge
from gridx.errors import ReadingRejected, Reason
from gridx.wire import GENESIS_HASH, encode_batch, reading_hash
from tests.helpers.gateway import INTERVAL, Meter

NOW = 1_800_000_000 // INTERVAL * INTERVAL
POLICY = Policy(max_age_s=3600, max_future_s=120)


def meter() -> Meter:
    return Meter("m1", "edge-a", rated_power_w=6000, window_end=NOW - 600)


def entry(m: Meter, **kw: object) -> RegistryEntry:
    base: dict[str, object] = dict(
        meter_id=m.meter_id,
        pubkey_hex=m.pubkey_hex,
        owner_wallet=m.owner,
        edge_id=m.edge_id,
        rated_power_w=m.rated_power_w,
        active=True,
    )
    base.update(kw)
    return RegistryEntry(**base)  # type: ignore[arg-type]


def verdict(item: object, m: Meter, state: MeterState | None = None, **kw: object) -> Reason:
    with pytest.raises(ReadingRejected) as exc:
        check_reading(
            item,  # type: ignore[arg-type]
            edge_id=kw.pop("edge_id", "edge-a"),  # type: ignore[arg-type]
            entry=kw.pop("entry", entry(m)),  # type: ignore[arg-type]
            state=state or MeterState(m.meter_id),
            now_s=NOW,
            policy=POLICY,
            stored_windows=kw.pop("stored", ()),  # type: ignore[arg-type]
        )
    return exc.value.reason


def accepted_state(m: Meter) -> MeterState:
    first = m.next()
    return MeterState(m.meter_id).after(first, reading_hash(first))


def test_a_good_chain_is_accepted_and_advances_the_state():
    m = meter()
    state = MeterState(m.meter_id)
    for _ in range(3):
        r = m.next()
        _, state = check_reading(r, edge_id="edge-a", entry=entry(m), state=state, now_s=NOW, policy=POLICY)
    assert state.last_seq == 3 and state.last_hash == m.last_hash


def test_each_reason():
    m = meter()
    assert verdict({"meter_id": "m1"}, m) is Reason.MALFORMED
    assert verdict(m.sign(m.unsigned(v=7)), m) is Reason.UNSUPPORTED_VERSION
    assert verdict({"v": 3, "meter_id": "m1"}, m) is Reason.UNSUPPORTED_VERSION
    assert verdict(m.sign(m.unsigned()), m, entry=None) is Reason.UNKNOWN_METER
    assert verdict(m.sign(m.unsigned()), m, entry=entry(m, active=False)) is Reason.REVOKED_METER
    assert verdict(m.sign(m.unsigned()), m, edge_id="edge-b") is Reason.WRONG_EDGE
    assert verdict(m.sign(m.unsigned(), key=SigningKey.generate()), m) is Reason.BAD_SIGNATURE
    # a valid signature by a key carried nowhere but the attacker's hands: enrolled key decides
    other = Meter("m2", "edge-a")
    assert verdict(m.sign(m.unsigned(), key=other.key), m) is Reason.BAD_SIGNATURE
    state = accepted_state(m)
    first_window = m.window_end - INTERVAL
    assert verdict(m.sign(m.unsigned(seq=1)), m, state) is Reason.REPLAYED
    dup = m.sign(m.unsigned(window_start=first_window, window_end=m.window_end))
    assert verdict(dup, m, state, stored={first_window}) is Reason.DUPLICATE
    assert verdict(dup, m, state) is Reason.IMPLAUSIBLE  # overlap, when the window is not known stored
    stale = m.sign(m.unsigned(window_start=NOW - 7200, window_end=NOW - 7140))
    assert verdict(stale, m, state) is Reason.STALE_OR_FUTURE
    future = m.sign(m.unsigned(window_start=NOW + 60, window_end=NOW + 180))
    assert verdict(future, m, state) is Reason.STALE_OR_FUTURE
    assert verdict(m.sign(m.unsigned(produced=101)), m, state) is Reason.IMPLAUSIBLE  # 6 kW * 60 s = 100 Wh
    assert verdict(m.sign(m.unsigned(consumed=-5)), m, state) is Reason.IMPLAUSIBLE
    # a counter that goes back, but not to (near) zero, is a fault: meter 20 Wh back from 100,000 Wh
    high = Meter("m1", "edge-a", rated_power_w=6000, window_end=NOW - 600, key=m.key)
    high.produced_total = high.consumed_total = 100_000
    high_state = accepted_state(high)
    back = high.sign(high.unsigned(produced=0, consumed=0, consumed_total_wh=high.consumed_total - 20))
    assert verdict(back, high, high_state) is Reason.IMPLAUSIBLE
    empty = m.sign(m.unsigned(window_end=m.window_end))
    assert verdict(empty, m, state) is Reason.IMPLAUSIBLE
    assert verdict(m.sign(m.unsigned(prev_hash=GENESIS_HASH)), m, state) is Reason.CHAIN_GAP


def test_message_level_verdicts():
    m = meter()
    with pytest.raises(ReadingRejected) as exc:
        parse_message(encode_batch("edge-b", [m.next()], 0), "edge-a")
    assert exc.value.reason is Reason.WRONG_EDGE
    with pytest.raises(ReadingRejected) as exc:
        parse_message(b"\xff\x00garbage", "edge-a")
    assert exc.value.reason is Reason.MALFORMED
    with pytest.raises(ReadingRejected) as exc:
        topic_edge("gridtokenx/edge/a/b/readings")
    assert exc.value.reason is Reason.MALFORMED


def test_a_reading_whose_predecessor_is_late_is_parked_then_accepted():
    m = meter()
    e = entry(m)
    r1, r2, r3 = m.next(), m.next(), m.next()

    def cand(r, seen=0.0):
        return Candidate("msg", r, e, reading_hash(r), seen, 0)

    kw = dict(now_s=NOW, policy=POLICY, grace_s=5.0)
    j = judge([cand(r3), cand(r2)], {}, mono_now=1.0, **kw)
    assert not j.accepted and len(j.parked) == 2 and not j.rejected
    # r1 arrives (through another gateway, say): the parked ones follow it in seq order
    j = judge([cand(r1), *j.parked], {}, mono_now=2.0, **kw)
    assert [c.reading.seq for c in j.accepted] == [1, 2, 3] and j.states["m1"].last_seq == 3
    # never arrives: once the chain has not moved for the grace, it is a chain gap
    j = judge([cand(r3)], {}, mono_now=10.0, **kw)
    assert len(j.parked) == 1
    j = judge(j.parked, {}, mono_now=14.0, **kw)
    assert len(j.parked) == 1
    j = judge(j.parked, {}, mono_now=15.5, **kw)
    assert [q.reason for q in j.rejected] == [Reason.CHAIN_GAP]


def test_the_parking_grace_restarts_while_the_chain_advances():
    m = meter()
    e = entry(m)
    rs = [m.next() for _ in range(4)]
    kw = dict(now_s=NOW, policy=POLICY, grace_s=5.0)
    j = judge([Candidate("msg", rs[3], e, reading_hash(rs[3]), 0.0, 0)], {}, mono_now=0.0, **kw)
    state = MeterState("m1")
    for i, t in enumerate((4.0, 8.0, 12.0)):  # one predecessor committed (elsewhere) every 4 s
        state = state.after(rs[i], reading_hash(rs[i]))
        j = judge(j.parked, {"m1": state}, mono_now=t, **kw)
    assert [c.reading.seq for c in j.accepted] == [4]


def test_chain_hole_is_a_chain_gap():
    assert issubclass(ChainHole, ReadingRejected)
    assert ChainHole("x").reason is Reason.CHAIN_GAP


def test_a_counter_reset_to_zero_continues_the_chain():
    """After a reset the edge re-baselines: the next reading's counter holds its own delta plus at
    most one window's worth; that is accepted, and the chain and deltas go on from there."""
    m = meter()
    m.produced_total = m.consumed_total = 100_000
    state = accepted_state(m)
    # ...not a drop whose counter holds more than a window can explain (6 kW * 60 s = 100 Wh)
    too_much = m.unsigned(produced=10, consumed=10, produced_total_wh=500, consumed_total_wh=10)
    assert verdict(m.sign(too_much), m, state) is Reason.IMPLAUSIBLE
    # reset to 0, 30 Wh counted before the poll that saw it, then a 50/20 Wh window
    u = m.unsigned(produced=50, consumed=20, produced_total_wh=80, consumed_total_wh=20)
    r = m.sign(u)
    _, after = check_reading(r, edge_id="edge-a", entry=entry(m), state=state, now_s=NOW, policy=POLICY)
    assert after.produced_total_wh == 80 and after.consumed_total_wh == 20 and after.last_seq == r.seq
    m.advance(u)
    nxt = m.next(produced=40, consumed=10)
    _, after = check_reading(nxt, edge_id="edge-a", entry=entry(m), state=after, now_s=NOW, policy=POLICY)
    assert after.produced_total_wh == 120

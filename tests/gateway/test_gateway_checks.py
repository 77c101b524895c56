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
        interval_s=INTERVAL,
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
    first = m.next()
    state = MeterState(m.meter_id).after(first, reading_hash(first))
    first_window = m.window_end - INTERVAL
    assert verdict(first, m, state) is Reason.REPLAYED
    # same seq, other content: two readings on one predecessor is a fork, not a replay
    assert verdict(m.sign(m.unsigned(seq=1)), m, state) is Reason.FORKED
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
    assert verdict(m.sign(m.unsigned(prev_hash=GENESIS_HASH)), m, state) is Reason.FORKED


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


def test_a_reading_whose_predecessor_is_late_is_held_then_skipped_past_the_grace():
    """Nothing waits in memory (one edge's holes would hold up every edge): a hole is a
    chain_gap at once; judged again with the hole skipped, it is accepted and the hole named."""
    m = meter()
    e = entry(m)
    r1, r2, r3 = m.next(), m.next(), m.next()

    def cand(r, **kw):
        return Candidate("msg", r, e, reading_hash(r), 0.0, 0, **kw)

    kw = dict(now_s=NOW, policy=POLICY)
    j = judge([cand(r3), cand(r2)], {}, **kw)
    assert not j.accepted and [q.reason for q in j.rejected] == [Reason.CHAIN_GAP] * 2
    # r1 arrives: the held ones follow it in seq order when judged again
    j = judge([cand(r1), cand(r2), cand(r3)], {}, **kw)
    assert [c.reading.seq for c in j.accepted] == [1, 2, 3] and j.states["m1"].last_seq == 3
    # r1 never arrives: past the grace r2 is accepted across the hole, which is recorded
    j = judge([cand(r2, skip_hole=True), cand(r3)], {}, **kw)
    assert [c.reading.seq for c in j.accepted] == [2, 3]
    assert j.holes == [("m1", 0, 2, GENESIS_HASH)]


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

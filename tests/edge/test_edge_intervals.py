"""The pure snapshot → interval reading step of the edge agent."""

from __future__ import annotations

from dataclasses import replace

from hypothesis import given, settings
from hypothesis import strategies as st

from edge._intervals import STUCK_AFTER_MWH, MeterState, Outcome, step
from gridx.registers import MAP_VERSION, STATUS_OK, MeterSnapshot
from gridx.wire import GENESIS_HASH, reading_hash

MID = "GTX-SIM-000001"
SNAP = MeterSnapshot(1_000, 5_000, 0, 500, 2300, 5000, STATUS_OK, MAP_VERSION, MID)


def _at(p: int, c: int, **kw: int) -> MeterSnapshot:
    return replace(SNAP, produced_total_wh=p, consumed_total_wh=c, **kw)  # type: ignore[arg-type]


def _run(snaps: list[tuple[float, MeterSnapshot]], interval: int = 60, max_w: int = 50_000) -> list:  # type: ignore[type-arg]
    state: MeterState | None = None
    steps = []
    for t, s in snaps:
        st = step(state, MID, s, t, interval, max_w)
        state = st.state
        steps.append(st)
    return steps


def test_first_snapshot_is_a_baseline_then_windows_close_on_boundaries() -> None:
    steps = _run([(125.0, _at(1000, 5000)), (150.0, _at(1001, 5003)), (180.4, _at(1002, 5010))])
    assert [s.outcome for s in steps] == [Outcome.BASELINE, Outcome.SAME_WINDOW, Outcome.READING]
    r = steps[2].reading
    assert (r.window_start, r.window_end, r.seq, r.prev_hash) == (120, 180, 1, GENESIS_HASH)
    assert (r.produced_wh, r.consumed_wh, r.produced_total_wh, r.consumed_total_wh) == (2, 10, 1002, 5010)
    assert steps[2].state.last_hash == reading_hash(r)


def test_a_gap_yields_a_reading_per_interval_with_all_the_energy() -> None:
    steps = _run([(60.2, _at(0, 0)), (120.1, _at(1, 10)), (420.3, _at(9, 60))])
    rs = steps[2].readings
    assert [(r.window_start, r.window_end, r.seq) for r in rs] == [
        (s, s + 60, 2 + i) for i, s in enumerate(range(120, 420, 60))
    ]
    assert sum(r.consumed_wh for r in rs) == 50 and sum(r.produced_wh for r in rs) == 8
    assert rs[0].prev_hash == reading_hash(steps[1].reading)


def test_rollback_rebaselines_without_a_delta_across_the_reset() -> None:
    steps = _run([(60.2, _at(500, 900)), (120.1, _at(510, 950)), (180.1, _at(2, 3)), (240.1, _at(5, 20))])
    assert steps[2].outcome is Outcome.ROLLBACK and steps[2].reading is None
    r = steps[3].reading
    assert (r.seq, r.window_start, r.produced_wh, r.consumed_wh) == (2, 180, 3, 17)
    assert r.prev_hash == reading_hash(steps[1].reading)


def test_garbage_changes_nothing() -> None:
    good = _run([(60.2, _at(500, 900))])[0].state
    for bad in (
        replace(SNAP, serial="GTX-SIM-000002"),
        replace(SNAP, map_version=7),
        replace(SNAP, status=0),
        replace(SNAP, voltage_dv=60_000),
        replace(SNAP, produced_total_wh=2**64 - 1),
    ):
        st = step(good, MID, bad, 120.5, 60, 50_000)
        assert st.outcome is Outcome.GARBAGE and st.state == good and st.reading is None


def test_an_implausible_jump_is_not_signed() -> None:
    # 50 kW for 60 s (plus one interval of read lateness) is at most ~1.7 kWh
    steps = _run([(60.2, _at(0, 0)), (120.1, _at(0, 5_000))])
    assert steps[1].outcome is Outcome.IMPLAUSIBLE and steps[1].reading is None
    assert steps[1].state.seq == 0 and steps[1].state.consumed_total_wh == 5_000


def test_a_still_counter_under_load_is_flagged_once() -> None:
    snaps = [(60.0 * k + 0.2, _at(0, 100, consumption_w=2_000)) for k in range(1, 8)]
    steps = _run(snaps)
    flagged = [i for i, s in enumerate(steps) if s.stuck_suspect]
    # 2 kW for a minute is 33 Wh expected: the first closed window already exceeds the bound
    assert 2_000 * 60 * 1000 // 3600 >= STUCK_AFTER_MWH
    assert flagged == [1]
    assert all(s.reading is not None for s in steps[1:])  # still signed: a zero delta never over-credits


@st.composite
def _histories(draw: st.DrawFn) -> list[tuple[float, MeterSnapshot, tuple[int, int]]]:
    """Polls at increasing times with counters that mostly grow, sometimes reset to zero, jump
    (a glitch, not energy) or read garbage. Each entry: (time, snapshot, energy that really
    flowed so far as (produced, consumed))."""
    t, p, c = draw(st.floats(0, 1e6)), draw(st.integers(0, 10**9)), draw(st.integers(0, 10**9))
    true_p = true_c = 0
    out = []
    for _ in range(draw(st.integers(1, 40))):
        t += draw(st.floats(0.01, 400))
        event = draw(st.sampled_from(["grow"] * 6 + ["reset", "garbage", "jump"]))
        if event == "reset":
            p = c = 0
        elif event == "jump":
            p += draw(st.integers(10**6, 10**7))
        grow_p, grow_c = draw(st.integers(0, 200)), draw(st.integers(0, 200))
        p, c, true_p, true_c = p + grow_p, c + grow_c, true_p + grow_p, true_c + grow_c
        snap = _at(p, c) if event != "garbage" else replace(_at(p, c), serial="WRONG")
        out.append((t, snap, (true_p, true_c)))
    return out


@settings(max_examples=300)
@given(_histories(), st.sampled_from([1, 15, 60, 900]))
def test_emitted_readings_form_a_chain_and_never_over_credit(
    history: list[tuple[float, MeterSnapshot, tuple[int, int]]], interval: int
) -> None:
    state: MeterState | None = None
    base_true = (0, 0)  # real energy at the poll the baseline counters came from
    prev = None
    for t, snap, true in history:
        st_ = step(state, MID, snap, t, interval, 50_000)
        if st_.readings:
            assert state is not None
            totals = (state.produced_total_wh, state.consumed_total_wh)
            # resets and glitches may lose energy, never invent it (a gap's intervals together)
            assert sum(r.produced_wh for r in st_.readings) <= true[0] - base_true[0]
            assert sum(r.consumed_wh for r in st_.readings) <= true[1] - base_true[1]
        for r in st_.readings:
            assert r.produced_wh == r.produced_total_wh - totals[0] >= 0
            assert r.consumed_wh == r.consumed_total_wh - totals[1] >= 0
            totals = (r.produced_total_wh, r.consumed_total_wh)
            assert r.window_start % interval == 0 and r.window_end - r.window_start == interval
            assert r.window_end <= t
            if prev is None:
                assert r.seq == 1 and r.prev_hash == GENESIS_HASH
            else:
                assert r.seq == prev.seq + 1 and r.prev_hash == reading_hash(prev)
                assert r.window_start >= prev.window_end
            prev = r
        if st_.outcome not in (Outcome.SAME_WINDOW, Outcome.GARBAGE):
            base_true = true
        state = st_.state


def test_an_outage_is_one_reading_per_interval() -> None:
    """The chain mints windows of exactly the meter's interval: 2.5 days of outage at 900 s
    become 240 chained readings, aligned, whose energy adds up exactly and whose counters end
    at the meter's."""
    from gridx.plausibility import Counters, counter_problem, energy_problem, window_problem

    day = 86_400
    steps = _run([(900.5, _at(100, 200)), (1800.5, _at(110, 205)), (1800 + 2.5 * day + 0.5, _at(9_110, 7_205))], 900)
    rs = steps[2].readings
    assert len(rs) == 240 and {r.window_end - r.window_start for r in rs} == {900}
    assert sum(r.produced_wh for r in rs) == 9_000 and sum(r.consumed_wh for r in rs) == 7_000
    assert rs[-1].produced_total_wh == 9_110 and rs[-1].consumed_total_wh == 7_205
    prev = steps[1].reading
    for r in rs:
        assert r.prev_hash == reading_hash(prev) and r.seq == prev.seq + 1 and r.window_start == prev.window_end
        assert window_problem(r.window_start, r.window_end, 900) is None
        assert energy_problem(r.produced_wh, r.consumed_wh, r.window_end - r.window_start, 50_000) is None
        last = Counters(prev.produced_total_wh, prev.consumed_total_wh)
        now = Counters(r.produced_total_wh, r.consumed_total_wh)
        assert counter_problem(last, now, r.produced_wh, r.consumed_wh, 0) is None
        prev = r
    assert steps[2].state.last_hash == reading_hash(rs[-1])

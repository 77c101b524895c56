"""A scripted meter (``gridx sim meters --script``) read by the edge's own windowing: every
window's reading carries exactly the scripted surplus, whatever the poll phase and however late
the edge's first read, so a demo can show the user's Flow 4 figures exactly."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from edge._intervals import Outcome, step
from firmware_sim._fleet import Fleet, FleetConfig
from firmware_sim._script import ScriptedMeter, parse_script
from gridx.registers import STATUS_HAS_PV

FLOW4 = [2000, 8000, 13000, 0, 0, 10000, 7000, 2000]  # Wh per window


def _windows(meter: ScriptedMeter, first_read: float, poll_s: float, interval_s: int) -> list[int]:
    """What the edge cuts from polls every ``poll_s`` seconds from ``first_read`` on."""
    from gridx.registers import MAP_VERSION, STATUS_OK, MeterSnapshot

    prev, out, t = None, [], first_read
    end = first_read + (len(meter.surplus_wh) + 3) * interval_s
    while t < end:
        prod, cons = meter.counters_wh(t)
        snap = MeterSnapshot(prod, cons, 0, 0, 2300, 5000, STATUS_OK | STATUS_HAS_PV, MAP_VERSION, "GTX-SIM-000001")
        s = step(prev, "GTX-SIM-000001", snap, t, interval_s, 10**9)
        assert s.outcome in (Outcome.BASELINE, Outcome.SAME_WINDOW, Outcome.READING), s.detail
        out += [r.produced_wh - r.consumed_wh for r in s.readings]
        prev, t = s.state, t + poll_s
    return out


@given(first=st.floats(min_value=1e9, max_value=2e9), poll=st.floats(min_value=0.1, max_value=4.9))
def test_every_window_carries_its_scripted_surplus(first: float, poll: float) -> None:
    meter = ScriptedMeter(10, FLOW4, initial_produced_wh=123_456, initial_consumed_wh=789)
    cut = _windows(meter, first, poll, 10)
    # the window of the baseline is empty, then the script, then nothing more
    assert cut[1 : 1 + len(FLOW4)] == FLOW4 and sum(cut) == sum(FLOW4) == meter.total_wh


def test_fleet_plays_the_script_from_the_profile_counters() -> None:
    fleet = Fleet(FleetConfig(count=3, seed=7, speed=60))
    fleet.set_script(2, 10, [2000, 8000])
    p = fleet.profile(2)
    snap = fleet.snapshot(2)  # the first read starts the script: nothing played yet
    assert (snap.produced_total_wh, snap.consumed_total_wh) == (p.initial_produced_wh, p.initial_consumed_wh)
    assert snap.status & STATUS_HAS_PV and snap.production_w == snap.consumption_w == 0


@pytest.mark.parametrize("bad", ["1=10", "x=10:1", "1=0:5", "1=10:", "1=10:5,-1", "-1=10:5"])
def test_a_malformed_script_is_refused(bad: str) -> None:
    with pytest.raises(ValueError):
        parse_script(bad)
    assert parse_script("3=10:2000,0,13000") == (3, 10, [2000, 0, 13000])

"""Pure turning of meter snapshots into interval readings (DESIGN §3).

Windows are contiguous, aligned and one interval long (the chain mints nothing else): a poll
closes [previous window_end, current boundary), where the boundary is the latest multiple of
``interval_s`` at or before the poll. Normally that is one interval; after the meter or the
edge was unreachable (or a poll came late) it is several, reported as one reading per
interval, so the energy of the gap is still reported (never invented, never dropped) and the
cumulative counters stay continuous: ``prev.total + produced_wh == total``.

A counter that went backwards (meter reset/replaced) or jumped beyond what ``max_power_w``
allows starts a new baseline and emits nothing for that poll, so a delta across a reset is
never signed. The hash chain (seq, prev_hash) continues across a re-baseline; the next
reading starts at the boundary at or before the poll that saw the reset (so at most the
window being closed by that poll is skipped), carries only energy counted after the reset
(it may under-report, never over-report), and its cumulative counters are lower than the
previous reading's, which is how the gateway sees that the meter was reset.
"""

from __future__ import annotations

import enum
import itertools
from dataclasses import dataclass

from gridx.plausibility import energy_problem
from gridx.registers import MAP_VERSION, STATUS_OK, MeterSnapshot
from gridx.wire import GENESIS_HASH, UnsignedReading, reading_hash

__all__ = ["MeterState", "Outcome", "Step", "check_snapshot", "step"]

_U63 = 2**63 - 1
# expected-but-uncounted energy (mWh) after which a still counter is reported as stuck
STUCK_AFTER_MWH = 5_000


class Outcome(enum.StrEnum):
    READING = "reading"
    BASELINE = "baseline"  # first snapshot of a meter: nothing to difference against
    SAME_WINDOW = "same_window"  # the window has not closed yet
    GARBAGE = "garbage"
    ROLLBACK = "rollback"
    IMPLAUSIBLE = "implausible"


@dataclass(frozen=True, slots=True)
class MeterState:
    """What must survive a restart for one meter."""

    meter_id: str
    seq: int  # seq of the last emitted reading, 0 before the first
    window_end: int
    produced_total_wh: int
    consumed_total_wh: int
    last_hash: str = GENESIS_HASH
    still_mwh: int = 0  # energy the power registers promised while the counters stood still


@dataclass(frozen=True, slots=True)
class Step:
    state: MeterState | None
    outcome: Outcome
    readings: tuple[UnsignedReading, ...] = ()  # in chain order; several after a long outage
    detail: str = ""
    stuck_suspect: bool = False

    @property
    def reading(self) -> UnsignedReading | None:
        """The last (or only) reading of this step."""
        return self.readings[-1] if self.readings else None


def check_snapshot(meter_id: str, s: MeterSnapshot) -> str | None:
    """Why the snapshot cannot be trusted, or None."""
    if s.map_version != MAP_VERSION:
        return f"map_version {s.map_version}"
    if s.serial != meter_id:
        return f"serial {s.serial!r} is not {meter_id!r}"
    if not s.status & STATUS_OK:
        return f"status {s.status:#06x}"
    if not 1800 <= s.voltage_dv <= 2800 or not 4500 <= s.frequency_chz <= 6500:
        return f"voltage {s.voltage_dv} dV / frequency {s.frequency_chz} cHz out of range"
    if s.produced_total_wh > _U63 or s.consumed_total_wh > _U63:
        return "counter beyond 63 bits"
    return None


def _baseline(prev: MeterState | None, meter_id: str, s: MeterSnapshot, boundary: int) -> MeterState:
    return MeterState(
        meter_id=meter_id,
        seq=prev.seq if prev else 0,
        window_end=boundary,
        produced_total_wh=s.produced_total_wh,
        consumed_total_wh=s.consumed_total_wh,
        last_hash=prev.last_hash if prev else GENESIS_HASH,
    )


def step(
    prev: MeterState | None, meter_id: str, s: MeterSnapshot, now_s: float, interval_s: int, max_power_w: int
) -> Step:
    problem = check_snapshot(meter_id, s)
    if problem is not None:
        return Step(prev, Outcome.GARBAGE, detail=problem)
    boundary = int(now_s // interval_s) * interval_s
    if prev is None:
        return Step(_baseline(None, meter_id, s, boundary), Outcome.BASELINE)
    dp = s.produced_total_wh - prev.produced_total_wh
    dc = s.consumed_total_wh - prev.consumed_total_wh
    if dp < 0 or dc < 0:
        return Step(_baseline(prev, meter_id, s, boundary), Outcome.ROLLBACK, detail=f"delta {dp}/{dc} Wh")
    if boundary <= prev.window_end:
        return Step(prev, Outcome.SAME_WINDOW)
    span = boundary - prev.window_end
    # the shared plausibility rule; the counters are read up to one interval after the
    # boundary, hence the allowance of one interval more than the span
    problem = energy_problem(dp, 0, span + interval_s, max_power_w) or energy_problem(
        dc, 0, span + interval_s, max_power_w
    )
    if problem is not None:
        return Step(
            _baseline(prev, meter_id, s, boundary), Outcome.IMPLAUSIBLE, detail=f"delta {dp}/{dc} Wh: {problem}"
        )
    readings = _split(prev, meter_id, boundary, dp, dc, interval_s)
    reading = readings[-1]
    # a register that stopped counting under load is reported, not corrected: a zero delta
    # can only under-credit, and the meter's counter is the legal record
    still = prev.still_mwh + (s.production_w + s.consumption_w) * span * 1000 // 3600 if dp == dc == 0 else 0
    new = MeterState(
        meter_id=meter_id,
        seq=reading.seq,
        window_end=boundary,
        produced_total_wh=s.produced_total_wh,
        consumed_total_wh=s.consumed_total_wh,
        last_hash=reading_hash(reading),
        still_mwh=still,
    )
    suspect = still >= STUCK_AFTER_MWH and prev.still_mwh < STUCK_AFTER_MWH
    return Step(new, Outcome.READING, readings=readings, stuck_suspect=suspect)


def _split(
    prev: MeterState, meter_id: str, boundary: int, dp: int, dc: int, interval_s: int
) -> tuple[UnsignedReading, ...]:
    """[prev.window_end, boundary) as chained readings of one interval each (the chain mints
    a window of exactly the meter's interval, nothing longer). An outage's energy is spread in
    proportion to time, in whole Wh, so the totals and the counters at the end are exact;
    between them the counters are the same proportion (the meter was not read then)."""
    start, span = prev.window_end, boundary - prev.window_end
    edges = [*range(start, boundary, interval_s), boundary]
    out: list[UnsignedReading] = []
    seq, prev_hash = prev.seq, prev.last_hash
    for a, b in itertools.pairwise(edges):
        pa, pb = dp * (a - start) // span, dp * (b - start) // span
        ca, cb = dc * (a - start) // span, dc * (b - start) // span
        seq += 1
        r = UnsignedReading(
            meter_id=meter_id,
            seq=seq,
            window_start=a,
            window_end=b,
            produced_wh=pb - pa,
            consumed_wh=cb - ca,
            produced_total_wh=prev.produced_total_wh + pb,
            consumed_total_wh=prev.consumed_total_wh + cb,
            prev_hash=prev_hash,
        )
        prev_hash = reading_hash(r)
        out.append(r)
    return tuple(out)

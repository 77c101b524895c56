"""What a meter can have produced (DESIGN §4): one set of rules for the edge, which must not
sign what the gateway will refuse, and for the gateway, which credits only what passes.

Pure functions over integers: each returns why a reading is implausible, or None.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = [
    "Counters",
    "counter_problem",
    "energy_problem",
    "window_problem",
]


@dataclass(frozen=True, slots=True)
class Counters:
    """A meter's signed cumulative counters (Wh) at the end of a reading."""

    produced_total_wh: int
    consumed_total_wh: int


def window_problem(window_start: int, window_end: int, interval_s: int, credit_from: int | None = None) -> str | None:
    """Exactly one of the meter's intervals, on its grid, and not before ``credit_from`` (the
    meter's registration on chain, or a moment after it: the mirror's row is written once the
    chain confirmed). These are the energy_token program's own rules (``check_window``): a
    window it would refuse is never credited, so the stored surplus is what gets minted."""
    span = window_end - window_start
    if span <= 0:
        return f"window [{window_start}, {window_end}) is empty"
    if span != interval_s:
        return f"window of {span} s is not one {interval_s} s interval of the meter"
    if window_start % interval_s:
        return f"window [{window_start}, {window_end}) is not aligned to the meter's {interval_s} s interval"
    if credit_from is not None and window_start < credit_from:
        return f"window starts at {window_start}, before the meter's enrolment at {credit_from}"
    return None


def energy_problem(produced_wh: int, consumed_wh: int, span_s: int, rated_power_w: int) -> str | None:
    """Non-negative, and production within rated power over the window (integer form of
    produced_wh <= rated_power_w * span_s / 3600)."""
    if produced_wh < 0 or consumed_wh < 0:
        return f"negative energy {produced_wh}/{consumed_wh} Wh"
    if produced_wh * 3600 > rated_power_w * span_s:
        return f"{produced_wh} Wh in {span_s} s exceeds rated {rated_power_w} W"
    return None


def counter_problem(
    prev: Counters | None, now: Counters, produced_wh: int, consumed_wh: int, allowance_wh: int, *, hole: bool = False
) -> str | None:
    """The deltas must be what the signed counters say.

    * first reading (no ``prev``): each delta at most its counter;
    * counter not lower than before: the delta is exactly the difference (``hole``: the
      readings in between were skipped, so the difference holds theirs as well: at least);
    * counter lower than before: a reset to zero, recognised when the counter holds no more
      than the reading's own delta plus ``allowance_wh`` (what one window can accumulate
      after the reset: the edge signs no delta across a reset, so it re-baselines on the poll
      that sees it). Anything else went backwards.
    """
    pairs = (
        ("produced", prev.produced_total_wh if prev else None, now.produced_total_wh, produced_wh),
        ("consumed", prev.consumed_total_wh if prev else None, now.consumed_total_wh, consumed_wh),
    )
    for name, last, total, delta in pairs:
        if last is None or total < last:
            if delta > total:
                return f"{name} delta {delta} Wh exceeds its counter {total}"
            if last is not None and total - delta > allowance_wh:
                return f"cumulative {name} counter went backwards: {last} -> {total}"
        elif (total - last < delta) if hole else (total - last != delta):
            return f"{name} delta {delta} Wh does not match its counter {last} -> {total}"
    return None

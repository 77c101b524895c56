"""A meter that plays a fixed surplus per reading window, for a demo whose figures must come out
exact (the user's Flow 4: 2, 8 and 13 kWh in the morning windows, 10, 7 and 2 in the afternoon).

The edge cuts readings at multiples of its ``interval_s`` on the wall clock (UTC) and reads the
counters at its first poll after each boundary, so an energy step made in the middle of a window
lands in that window whatever the poll phase, as long as the edge polls more often than every
half window. The script starts at the meter's first read (the edge's baseline): window k is
``[b0 + (k+1)·W, b0 + (k+2)·W)`` with ``b0`` the boundary at or before that read, so no step can
fall before the baseline however late the edge starts. Consumption stays flat: every Wh
produced is surplus."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

__all__ = ["ScriptedMeter", "parse_script"]


@dataclass
class ScriptedMeter:
    window_s: int
    surplus_wh: list[int]
    initial_produced_wh: int = 0
    initial_consumed_wh: int = 0
    clock: Callable[[], float] = time.time
    b0: int | None = field(default=None, init=False)

    def counters_wh(self, now_s: float | None = None) -> tuple[int, int]:
        """(produced, consumed) shown at ``now_s`` (wall seconds); the first call starts the script."""
        now = self.clock() if now_s is None else now_s
        if self.b0 is None:
            self.b0 = int(now // self.window_s) * self.window_s
        w = self.window_s
        # window k's step is at its middle: b0 + (k+1)·W + W/2
        played = sum(wh for k, wh in enumerate(self.surplus_wh) if now >= self.b0 + (k + 1) * w + w / 2)
        return self.initial_produced_wh + played, self.initial_consumed_wh

    @property
    def total_wh(self) -> int:
        return sum(self.surplus_wh)


def parse_script(spec: str) -> tuple[int, int, list[int]]:
    """``INDEX=WINDOW_S:WH,WH,...`` → (index, window_s, surplus per window in Wh); ValueError if malformed."""
    index, rest = spec.split("=", 1)
    window, values = rest.split(":", 1)
    surplus = [int(v) for v in values.split(",")]
    if int(index) < 0 or int(window) < 1 or not surplus or min(surplus) < 0:
        raise ValueError(f"bad script {spec!r}")
    return int(index), int(window), surplus

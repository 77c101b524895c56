"""Readings that overtook their predecessor: a short, bounded wait in memory before the
quarantine. Pure (the clock is passed in), so every bound is a unit test.

With several gateways on one shared subscription, consecutive messages of one edge go to
different gateways, so a reading often reaches its flush while its predecessor, taken in by
another gateway, is not committed yet. Quarantining it as ``chain_gap`` and re-admitting it
a moment later costs a quarantine row, an update, a re-parse and a second signature check: in
``gridx bench ingest --meters 1000`` that was 3 readings in 4, and 4x the gateway CPU. So a
fresh reading judged to have a hole is parked here first, its message unacknowledged, and
judged again when a chain advances (this gateway's commit, or another gateway's progress
notification).

Both bounds keep one edge from holding up another (the broker sends at most ``receive_max``
unacknowledged messages): a reading stays parked at most ``hold_s`` in all, and at most
``max_messages`` messages have parked readings at once. Past either bound, a reading with a
hole goes to the quarantine as before. Re-admitted quarantine rows are never parked.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from typing import Generic, TypeVar

from gateway._judge import Candidate

__all__ = ["Parking"]

Ref = TypeVar("Ref")


@dataclass(eq=False)
class Parking(Generic[Ref]):
    hold_s: float = 2.0
    max_messages: int = 50
    _parked: list[Candidate[Ref]] = field(default_factory=list)
    _messages: Counter[Ref] = field(default_factory=Counter)  # message -> its parked readings

    def __len__(self) -> int:
        return len(self._parked)

    def admitter(self, now: float) -> Callable[[Candidate[Ref]], bool]:
        """For one judgement: may this candidate with a hole be parked? Messages it admits
        count against ``max_messages`` at once, so a judgement repeated (a conflict round) or
        thrown away (an outage) leaves no trace."""
        fresh: set[Ref] = set()

        def admit(c: Candidate[Ref]) -> bool:
            if self.hold_s <= 0 or c.quarantine_id is not None:
                return False
            if c.park_until is not None and now >= c.park_until:
                return False
            if c.ref in self._messages or c.ref in fresh:
                return True
            if len(self._messages) + len(fresh) >= self.max_messages:
                return False
            fresh.add(c.ref)
            return True

        return admit

    def hold(self, parked: list[Candidate[Ref]], now: float) -> None:
        """The candidates a committed judgement parked; the clock starts at the first park."""
        for c in parked:
            if c.park_until is None:
                c.park_until = now + self.hold_s
            self._parked.append(c)
            self._messages[c.ref] += 1

    def release(self, meters: Collection[str] | None, now: float) -> list[Candidate[Ref]]:
        """The parked readings to judge again: those of ``meters`` (their chain advanced; None:
        any, another gateway made progress) and those whose time is up (judged again, they are
        not admitted, so a hole that is still there goes to the quarantine)."""
        if not self._parked:
            return []
        out: list[Candidate[Ref]] = []
        keep: list[Candidate[Ref]] = []
        for c in self._parked:
            due = meters is None or c.reading.meter_id in meters
            if due or (c.park_until is not None and now >= c.park_until):
                out.append(c)
                self._messages[c.ref] -= 1
                if self._messages[c.ref] <= 0:
                    del self._messages[c.ref]
            else:
                keep.append(c)
        self._parked = keep
        return out

    def close(self) -> list[Candidate[Ref]]:
        """Stopping: nothing is parked any more; every parked reading is judged once more."""
        self.hold_s = 0.0
        out, self._parked = self._parked, []
        self._messages.clear()
        return out

    def next_due(self) -> float | None:
        """When the earliest parked reading's time is up (monotonic seconds), if any."""
        return min((c.park_until for c in self._parked if c.park_until is not None), default=None)

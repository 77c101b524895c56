"""How much of the quarantine one edge may fill: a token bucket per edge. Past it, rejected
readings are still judged, counted and acknowledged, but stored as one summary row per
(edge, reason) and flush, so a flood of garbage cannot fill the database. Held readings
(``chain_gap``) are data waiting for their predecessor and are never summarised."""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = ["QuarantineBudget"]

_EDGES_MAX = 100_000


@dataclass
class QuarantineBudget:
    per_s: float = 50.0  # sustained rows per edge per second
    burst: float = 5_000.0
    _buckets: dict[str, tuple[float, float]] = field(default_factory=dict)  # edge -> (tokens, at)

    def take(self, edge: str, now: float) -> bool:
        tokens, at = self._buckets.pop(edge, (self.burst, now))
        tokens = min(self.burst, tokens + (now - at) * self.per_s)
        ok = tokens >= 1.0
        self._buckets[edge] = (tokens - 1.0 if ok else tokens, now)
        while len(self._buckets) > _EDGES_MAX:  # least recently seen first
            del self._buckets[next(iter(self._buckets))]
        return ok

"""Figures the benchmarks report, computed one way."""

from __future__ import annotations

from collections.abc import Sequence

__all__ = ["percentile"]


def percentile(values: Sequence[float], q: float, weights: Sequence[int] | None = None) -> float:
    """Nearest-rank percentile of ``values`` sorted ascending (``0 <= q <= 1``); ``weights[i]``
    counts ``values[i]`` that many times (a latency shared by a whole batch). 0.0 when empty."""
    if not 0.0 <= q <= 1.0:
        raise ValueError(f"q must be within [0, 1], not {q}")
    counts = weights if weights is not None else [1] * len(values)
    rank = q * sum(counts)
    seen = 0
    for value, count in zip(values, counts, strict=True):
        seen += count
        if seen >= rank:
            return float(value)
    return float(values[-1]) if values else 0.0

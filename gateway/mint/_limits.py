"""Mint rate limits: a token bucket per meter and one global ceiling.

Pure and clock-injected so it is unit-testable; the worker asks before it packs a mint into a
transaction and leaves rows it may not send yet pending for a later pass (nothing is dropped).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

__all__ = ["MintLimits", "RateLimiter"]


@dataclass(frozen=True)
class MintLimits:
    """Rates are mints per second; bursts are how many may go at once after idling."""

    per_meter_per_s: float = 2.0
    per_meter_burst: int = 10
    global_per_s: float = 5000.0
    global_burst: int = 5000


@dataclass
class _Bucket:
    tokens: float
    stamp: float

    def take(self, now: float, rate: float, burst: int) -> bool:
        # workers sharing a bucket read the clock at different moments: time never runs back
        self.tokens = min(float(burst), self.tokens + max(0.0, now - self.stamp) * rate)
        self.stamp = max(self.stamp, now)
        if self.tokens >= 1.0:
            self.tokens -= 1.0
            return True
        return False

    def give_back(self) -> None:
        self.tokens += 1.0


@dataclass
class RateLimiter:
    limits: MintLimits
    _global: _Bucket | None = None
    _meters: dict[str, _Bucket] = field(default_factory=dict)
    # the workers of one process share a limiter and ask from their claim threads
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def allow(self, meter_id: str, now: float) -> bool:
        """Take one token from the meter's bucket and from the global one, or neither."""
        with self._lock:
            return self._allow(meter_id, now)

    def _allow(self, meter_id: str, now: float) -> bool:
        lim = self.limits
        if self._global is None:
            self._global = _Bucket(float(lim.global_burst), now)
        bucket = self._meters.get(meter_id)
        if bucket is None:
            bucket = self._meters[meter_id] = _Bucket(float(lim.per_meter_burst), now)
        if not bucket.take(now, lim.per_meter_per_s, lim.per_meter_burst):
            return False
        if not self._global.take(now, lim.global_per_s, lim.global_burst):
            bucket.give_back()
            return False
        return True

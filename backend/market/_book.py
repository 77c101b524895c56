"""One side of the continuous book: per-tick FIFO levels, flat per-tick totals, and a lazy
heap of occupied ticks (see ``_engine`` for why this layout)."""

from __future__ import annotations

from collections import deque
from heapq import heappop, heappush
from typing import Any

__all__ = ["_Side"]

_COMPACT_AT = 32  # corpses per level tolerated before the deque is rebuilt


class _Side:
    """One side of the book. ``sign`` makes the heap a min-heap of ``tick * sign``: +1 for asks
    (best = lowest), -1 for bids (best = highest)."""

    __slots__ = ("amt", "cnt", "dead", "heap", "inheap", "levels", "sign")

    def __init__(self, n: int, sign: int) -> None:
        self.levels: list[Any] = [None] * n  # deque[list] per tick, created on first use
        self.amt = [0] * n
        self.cnt = [0] * n
        self.dead = [0] * n
        self.heap: list[int] = []
        self.inheap = bytearray(n)
        self.sign = sign

    def best_key(self) -> int | None:
        heap, cnt, sign = self.heap, self.cnt, self.sign
        while heap:
            k = heap[0]
            if cnt[k * sign]:
                return k
            t = heappop(heap) * sign
            self.inheap[t] = 0
        return None

    def add(self, o: list[Any], t: int) -> None:
        dq = self.levels[t]
        if dq is None:
            dq = self.levels[t] = deque()
        dq.append(o)
        self.amt[t] += o[0]
        self.cnt[t] += 1
        if not self.inheap[t]:
            heappush(self.heap, t * self.sign)
            self.inheap[t] = 1

    def remove(self, o: list[Any], t: int) -> None:
        """Take a live order out of the level in O(1): it stays in the deque as a corpse."""
        self.amt[t] -= o[0]
        self.cnt[t] -= 1
        o[0] = 0
        dq = self.levels[t]
        assert dq is not None
        if not self.cnt[t]:
            dq.clear()
            self.dead[t] = 0
        elif dq[-1] is o:
            dq.pop()
        else:
            self.dead[t] += 1
            if self.dead[t] > _COMPACT_AT and self.dead[t] > self.cnt[t]:
                live = [x for x in dq if x[0]]
                dq.clear()
                dq.extend(live)
                self.dead[t] = 0

    def fillable(self, kl: int, amount: int, owner: str, skip_own: bool) -> tuple[int, bool]:
        """Walk, without touching them, the orders a taker with heap-key limit ``kl`` would
        meet, in priority order: (amount it could fill, whether it met its owner's order first).
        ``skip_own``: own orders are passed over (they would be cancelled, not traded)."""
        sign, cnt, levels, avail = self.sign, self.cnt, self.levels, 0
        best = self.heap[0]  # the caller has just cleaned the top: it is a live level
        # walk the ticks in price order when that is short, else sort the occupied ones
        keys = range(best, kl + 1) if kl - best < 2 * len(self.heap) else sorted(k for k in self.heap if k <= kl)
        for k in keys:
            t = k * sign
            if not cnt[t]:
                continue
            for m in levels[t]:
                r = m[0]
                if not r:
                    continue
                if m[2] == owner:
                    if skip_own:
                        continue
                    return avail, True
                avail += r
                if avail >= amount:
                    return avail, False
        return avail, False

    def ticks(self) -> list[int]:
        """Live ticks, best first."""
        sign = self.sign
        return [k * sign for k in sorted(set(self.heap)) if self.cnt[k * sign]]

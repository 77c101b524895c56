"""The continuous double auction: price-time priority over price levels indexed by tick.

Layout, chosen for CPython speed (see ``gridx bench match``):

- an order is a 5-slot list ``[remaining, order_id, owner, side, tick]`` (a list is the
  cheapest mutable record to build and index), found by id in one dict;
- each side keeps, per tick, a FIFO deque of orders plus the level's live amount and count in
  flat lists, and a heap of the ticks that have orders (lazy: an emptied level leaves the heap
  when it reaches the top), so the best price is ``heap[0]`` for any tick range;
- a cancel is O(1): the order is zeroed and forgotten, and its corpse leaves the deque when
  matching reaches it (or when the level empties, or when corpses outnumber live orders).

What bounds the speed in CPython is per-order object work, not the book: every order builds its
record and 2-4 event tuples (``Accepted``, ``Trade``..., ``LevelChanged``), and building a
NamedTuple instance costs several times a plain tuple. A loop that does only that (unpack the
command, one record, one dict insert, two events, no book at all) runs at roughly twice the
engine's rate on the same machine; see the closing note of issue 10 for the figures.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable
from heapq import heappop, heappush
from typing import Any, cast

from backend.market._book import _Side
from backend.market._checks import new_order_verdict
from backend.market._types import (
    U64_MAX,
    Accepted,
    Amend,
    Amended,
    Book,
    Cancel,
    Cancelled,
    CancelReason,
    Command,
    Event,
    Level,
    LevelChanged,
    MarketSpec,
    MarketSpecError,
    Mechanism,
    NewOrder,
    Rejected,
    RejectReason,
    RestingOrder,
    Side,
    StpMode,
    TimeInForce,
    Trade,
)

__all__ = ["Engine"]

_U64_MAX = U64_MAX
_new = tuple.__new__  # builds a NamedTuple without its Python-level __new__ (hot path)
_BUY, _SELL = Side.BUY, Side.SELL
_GTC, _IOC, _FOK, _POST = TimeInForce.GTC, TimeInForce.IOC, TimeInForce.FOK, TimeInForce.POST_ONLY
_TIFS = frozenset(TimeInForce)
_STPS = frozenset(StpMode)
_CMAKER, _CTAKER, _ABORT = StpMode.CANCEL_MAKER, StpMode.CANCEL_TAKER, StpMode.ABORT
_R_STP, _R_UNFILLED, _R_USER = CancelReason.SELF_TRADE, CancelReason.UNFILLED, CancelReason.USER


class Engine:
    """A continuous double auction for one market (see the package docstring for the contract)."""

    def __init__(self, spec: MarketSpec) -> None:
        if spec.mechanism != Mechanism.CONTINUOUS:
            raise MarketSpecError(f"market {spec.market_id} is not continuous")
        self.spec = spec
        self._tick = spec.tick
        self._fee_bps = spec.fee_bps
        self._seq = 0
        self._orders: dict[int, list[Any]] = {}
        n = spec.max_ticks + 1
        self._asks, self._bids = _Side(n, 1), _Side(n, -1)
        self._sides = (self._asks, self._bids)  # indexed by Side: SELL (0) rests on the asks
        self._stp = spec.stp
        self._limits = (spec.tick, spec.lot, spec.max_price, spec.max_amount, self._orders)

    @property
    def seq(self) -> int:
        return self._seq

    @classmethod
    def replay(cls, spec: MarketSpec, commands: Iterable[Command]) -> Engine:
        eng = cls(spec)
        for cmd in commands:
            eng.apply(cmd)
        return eng

    def apply(self, cmd: Command) -> list[Event]:
        # The new-order path is written out inline, with every field checked in one expression:
        # it is what ``gridx bench match`` measures, and each extra call or attribute load shows.
        if type(cmd) is not NewOrder:
            return self._other(cmd)
        try:
            oid, owner, side, price, amount, tif, stp = cmd
        except ValueError:
            return self._reject(0, RejectReason.BAD_COMMAND)
        tick, lot, maxp, maxa, orders = self._limits
        if (
            type(oid) is not int
            or type(owner) is not str
            or type(price) is not int
            or type(amount) is not int
            or not 0 <= oid <= _U64_MAX
            or oid in orders
            or (side is not _BUY and side is not _SELL)
            or not 0 < price <= maxp
            or price % tick
            or not 0 < amount <= maxa
            or amount % lot
            or (tif is not _GTC and tif is not _IOC and tif is not _FOK and tif is not _POST)
            or (stp is not None and stp is not _CTAKER and stp is not _CMAKER and stp is not _ABORT)
        ):
            return self._reject(oid if type(oid) is int else 0, self._verdict(cmd))
        lim = price // tick
        if side is _BUY:
            maker, kl = self._asks, lim  # the taker crosses maker levels whose heap key is <= kl
        else:
            maker, kl = self._bids, -lim
        heap = maker.heap
        crosses = False
        if heap:
            cnt, sign = maker.cnt, maker.sign
            while heap:
                k = heap[0]
                if cnt[k * sign]:
                    crosses = k <= kl
                    break
                maker.inheap[heappop(heap) * sign] = 0
        if stp is None:
            stp = self._stp
        if crosses:
            if tif is _POST:
                return self._reject(oid, RejectReason.POST_ONLY_WOULD_TAKE)
            if tif is _FOK or stp is _ABORT:
                avail, blocked = maker.fillable(kl, amount, owner, stp is _CMAKER)
                if blocked and stp is _ABORT:
                    return self._reject(oid, RejectReason.SELF_TRADE)
                if tif is _FOK and avail < amount:
                    return self._reject(oid, RejectReason.FOK_UNFILLABLE)
        elif tif is _FOK:
            return self._reject(oid, RejectReason.FOK_UNFILLABLE)
        seq = self._seq + 1
        ev: list[Event] = [_new(Accepted, (seq, oid, owner, side, price, amount, tif))]
        o: list[Any] = [amount, oid, owner, side, lim]
        if crosses:
            self._seq = seq
            stopped = self._take(o, maker, kl, stp is _CMAKER, ev)
            amount = o[0]
            if not amount:
                return ev
            seq = self._seq
        else:
            stopped = False
        seq += 1
        self._seq = seq  # the order's last event: its Cancelled or its level's LevelChanged
        if stopped or tif is _IOC:
            ev.append(_new(Cancelled, (seq, oid, amount, _R_STP if stopped else _R_UNFILLED)))
            return ev
        own = self._bids if side is _BUY else self._asks
        levels, amt, cnt, inheap = own.levels, own.amt, own.cnt, own.inheap
        dq = levels[lim]
        if dq is None:
            dq = levels[lim] = deque()
        dq.append(o)
        a = amt[lim] + amount
        amt[lim] = a
        n = cnt[lim] + 1
        cnt[lim] = n
        if not inheap[lim]:
            heappush(own.heap, lim * own.sign)
            inheap[lim] = 1
        orders[oid] = o
        ev.append(_new(LevelChanged, (seq, side, price, a, n)))
        return ev

    def _other(self, cmd: object) -> list[Event]:
        t = type(cmd)
        if t is Cancel:
            return self._cancel(cast(Cancel, cmd))
        if t is Amend:
            return self._amend(cast(Amend, cmd))
        oid = getattr(cmd, "order_id", 0)
        return self._reject(oid if type(oid) is int else 0, RejectReason.BAD_COMMAND)

    def _reject(self, oid: int, reason: RejectReason) -> list[Event]:
        self._seq += 1
        return [_new(Rejected, (self._seq, oid, reason))]

    def _verdict(self, cmd: NewOrder) -> RejectReason:
        """Why a new order failed the inline check (the shared, ordered verdict)."""
        return new_order_verdict(self.spec, cmd, self._orders) or RejectReason.BAD_COMMAND

    def _take(self, o: list[Any], maker: _Side, kl: int, cancel_maker: bool, ev: list[Event]) -> bool:
        """Match taker ``o`` against ``maker`` levels with heap key <= ``kl``; True when
        self-trade prevention stopped the taker. Trades are priced at the sell order's limit."""
        q, oid, owner, side, lim = o
        taker_buy = side is _BUY
        tick, fee_bps, orders = self._tick, self._fee_bps, self._orders
        heap, inheap, levels, amt, cnt, dead, sign = (
            maker.heap,
            maker.inheap,
            maker.levels,
            maker.amt,
            maker.cnt,
            maker.dead,
            maker.sign,
        )
        seq = self._seq
        sell_price = lim * tick
        touched = []
        stopped = False
        append = ev.append
        while q:
            while heap:
                k = heap[0]
                t = k * sign
                if cnt[t]:
                    break
                heappop(heap)
                inheap[t] = 0
            else:
                break
            if k > kl:
                break
            dq = levels[t]
            price = t * tick if taker_buy else sell_price
            a = a0 = amt[t]  # the level's totals live in locals while it is worked on
            c = cnt[t]
            while q:
                m = dq[0]
                r = m[0]
                if not r:  # a cancelled order's corpse
                    dq.popleft()
                    dead[t] -= 1
                    continue
                mid = m[1]
                mo = m[2]
                if mo == owner:
                    if not cancel_maker:
                        stopped = True
                        break
                    seq += 1
                    append(_new(Cancelled, (seq, mid, r, _R_STP)))
                    f = r
                else:
                    f = r if r < q else q
                    pay = f * price // 1_000_000
                    fee = pay * fee_bps // 10_000
                    seq += 1
                    if taker_buy:
                        append(_new(Trade, (seq, price, f, pay, fee, mid, oid, mo, owner, mid)))
                    else:
                        append(_new(Trade, (seq, price, f, pay, fee, oid, mid, owner, mo, mid)))
                    q -= f
                a -= f
                if f == r:  # the maker is done: out of the queue and the index
                    dq.popleft()
                    del orders[mid]
                    c -= 1
                    if not c:
                        dq.clear()
                        dead[t] = 0
                        break
                else:
                    m[0] = r - f
            amt[t] = a
            cnt[t] = c
            if a != a0:
                touched.append(t)
            if stopped:
                break
        mside = _SELL if taker_buy else _BUY
        for t in touched:
            seq += 1
            append(_new(LevelChanged, (seq, mside, t * tick, amt[t], cnt[t])))
        o[0] = q
        self._seq = seq
        return stopped

    def _live(self, order_id: object, owner: object) -> list[Any] | RejectReason:
        if type(order_id) is not int or type(owner) is not str:
            return RejectReason.BAD_COMMAND
        o = self._orders.get(order_id)
        if o is None:
            return RejectReason.UNKNOWN_ORDER
        if o[2] != owner:
            return RejectReason.NOT_OWNER
        return o

    def _cancel(self, cmd: Cancel) -> list[Event]:
        o = self._live(cmd.order_id, cmd.owner) if len(cmd) == 2 else RejectReason.BAD_COMMAND
        if type(o) is RejectReason:
            return self._reject(cmd.order_id if type(cmd.order_id) is int else 0, o)
        o = cast(list[Any], o)
        rem, oid, _, side, t = o
        del self._orders[oid]
        sd = self._sides[side]
        sd.remove(o, t)
        s = self._seq
        self._seq = s + 2
        return [
            _new(Cancelled, (s + 1, oid, rem, _R_USER)),
            _new(LevelChanged, (s + 2, side, t * self._tick, sd.amt[t], sd.cnt[t])),
        ]

    def _amend(self, cmd: Amend) -> list[Event]:
        o = self._live(cmd.order_id, cmd.owner) if len(cmd) == 3 else RejectReason.BAD_COMMAND
        if type(o) is RejectReason:
            return self._reject(cmd.order_id if type(cmd.order_id) is int else 0, o)
        o = cast(list[Any], o)
        new = cmd.remaining
        if type(new) is not int or not 0 < new < o[0]:
            return self._reject(cmd.order_id, RejectReason.NOT_DOWN)
        if new % self.spec.lot:
            return self._reject(cmd.order_id, RejectReason.BAD_AMOUNT)
        rem, oid, _, side, t = o
        sd = self._sides[side]
        sd.amt[t] -= rem - new
        o[0] = new
        s = self._seq
        self._seq = s + 2
        return [
            _new(Amended, (s + 1, oid, new)),
            _new(LevelChanged, (s + 2, side, t * self._tick, sd.amt[t], sd.cnt[t])),
        ]

    # ------------------------------------------------------------------ reading the state

    def order(self, order_id: int) -> RestingOrder | None:
        o = self._orders.get(order_id)
        if o is None:
            return None
        return RestingOrder(o[1], o[2], Side(o[3]), o[4] * self._tick, o[0])

    def book(self, depth: int | None = None) -> Book:
        """Aggregated levels, best first, at most ``depth`` per side (None: all)."""
        out = []
        for sd in self._sides:
            ticks = sd.ticks()[:depth]
            out.append(tuple(Level(t * self._tick, sd.amt[t], sd.cnt[t]) for t in ticks))
        return Book(self._seq, bids=out[1], asks=out[0])

    def resting(self) -> list[RestingOrder]:
        """Every live order, asks then bids, each best price first and in queue order: with
        ``restore`` the way to rebuild the engine from stored open orders."""
        out: list[RestingOrder] = []
        for sd in self._sides:
            for t in sd.ticks():
                for o in sd.levels[t]:
                    if o[0]:
                        out.append(RestingOrder(o[1], o[2], Side(o[3]), t * self._tick, o[0]))
        return out

    @classmethod
    def restore(cls, spec: MarketSpec, seq: int, orders: Iterable[RestingOrder]) -> Engine:
        """An engine holding ``orders`` (queue order as ``resting()`` lists them) at ``seq``;
        it then behaves exactly like the engine they were read from."""
        eng = cls(spec)
        for r in orders:
            evs = eng.apply(NewOrder(r.order_id, r.owner, r.side, r.price, r.remaining))
            if [type(e) for e in evs] != [Accepted, LevelChanged]:
                raise MarketSpecError(f"cannot restore order {r.order_id}: {evs[-1]}")
        eng._seq = seq
        return eng

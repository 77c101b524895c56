"""Uniform-price (pay-as-clear) auction per slot: orders are collected, then ``Clear(slot)``
matches them all at one price by sort-and-sweep over price ticks (never bids x offers).

The clearing rule, in order:

1. The price maximises the matched volume ``min(D(p), S(p))``, where ``D(p)`` is the buy amount
   with limit >= p and ``S(p)`` the sell amount with limit <= p.
2. Among those prices, it minimises the surplus ``|D(p) - S(p)|``.
3. Those prices form one interval of ticks; the price is its midpoint, rounded down to a tick.

Allocation at that price: the short side fills completely. The long side fills by price
priority; at its marginal price the remainder is shared pro rata to the orders' remaining
amounts in whole lots, rounded down, and the lots left over go one each to the earliest orders
at that price. Fills are then paired sell-by-sell against buy-by-buy, both in priority order,
into ``Trade`` events at the clearing price (``maker_order_id`` is the sell order).

Self-trade prevention acts at entry: an owner may never hold a buy and a sell that cross
(buy limit >= sell limit) in one slot, so no clearing price can fill both. ``cancel_maker``
cancels the owner's crossing orders and accepts the new one; ``cancel_taker`` and ``abort``
refuse the new order (``self_trade``).

After a clear, unfilled IOC orders are cancelled (``unfilled``); GTC orders expire
(``expired``) unless the market rolls them over, keeping their time priority.

Settlement note: ``match_order`` on chain today pays at the sell order's own limit, so
auction trades priced at the clearing price need a program instruction that settles at a given
price within both limits; until then ``Trade.payment`` states what the auction owes.
"""

from __future__ import annotations

from collections.abc import Iterable
from itertools import accumulate
from operator import itemgetter
from typing import Any

from backend.market._checks import new_order_verdict
from backend.market._types import (
    PRICE_SCALE,
    Accepted,
    Amend,
    Amended,
    Book,
    Cancel,
    Cancelled,
    CancelReason,
    Clear,
    Cleared,
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

__all__ = ["Auction", "clearing_tick"]

_TIFS = frozenset({TimeInForce.GTC, TimeInForce.IOC})
_new = tuple.__new__  # builds a NamedTuple without its Python-level __new__
_REM, _OID, _OWNER, _SIDE, _TICK, _ARRIVAL, _TIF = range(7)  # an order: a 7-slot list


def clearing_tick(bids: dict[int, int], asks: dict[int, int]) -> tuple[int, int] | None:
    """(clearing tick, volume) by the module's rule from amount per tick, or None if nothing
    crosses. O(ticks between the lowest and highest order price), all in C-speed builtins."""
    if not bids or not asks:
        return None
    lo, hi = min(asks), max(bids)
    if lo > hi:
        return None
    n = hi - lo + 1
    b, a = [0] * n, [0] * n
    for t, v in bids.items():
        if t >= lo:
            b[t - lo] += v
    for t, v in asks.items():
        if t <= hi:
            a[t - lo] += v
    demand = list(accumulate(reversed(b)))[::-1]  # D(p): buys at p or above
    supply = list(accumulate(a))  # S(p): sells at p or below
    vol = list(map(min, demand, supply))
    vmax = max(vol)
    if not vmax:
        return None
    best = min(abs(demand[i] - supply[i]) for i in range(n) if vol[i] == vmax)
    tied = [i for i in range(n) if vol[i] == vmax and abs(demand[i] - supply[i]) == best]
    return lo + (tied[0] + tied[-1]) // 2, vmax


def _allocate(side: list[list[Any]], volume: int, lot: int, best_first: int) -> list[tuple[list[Any], int]]:
    """Fills for one side's eligible orders: price priority, pro rata in lots at the margin."""
    # ``side`` comes in arrival order (the orders dict's) and sorting is stable, also reversed
    side.sort(key=itemgetter(_TICK), reverse=best_first < 0)
    out: list[tuple[list[Any], int]] = []
    i, left = 0, volume
    while left and i < len(side):
        j = i
        while j < len(side) and side[j][_TICK] == side[i][_TICK]:
            j += 1
        level = side[i:j]
        total = sum(o[_REM] for o in level)
        if total <= left:
            out += [(o, o[_REM]) for o in level]
            left -= total
        else:
            want, have = left // lot, total // lot
            lots = [o[_REM] // lot * want // have for o in level]
            for k in range(want - sum(lots)):  # fewer than len(level): one each, earliest first
                lots[k] += 1
            out += [(o, n * lot) for o, n in zip(level, lots, strict=True) if n]
            left = 0
        i = j
    return out


class Auction:
    """A uniform-price auction for one market (see the module docstring for the rules)."""

    def __init__(self, spec: MarketSpec) -> None:
        if spec.mechanism != Mechanism.AUCTION:
            raise MarketSpecError(f"market {spec.market_id} is not an auction")
        self.spec = spec
        self._seq = 0
        self._arrival = 0
        self._slot: int | None = None
        self._orders: dict[int, list[Any]] = {}
        self._by_owner: dict[str, dict[int, list[Any]]] = {}
        self._levels: tuple[dict[int, list[int]], dict[int, list[int]]] = ({}, {})  # per side: tick -> [amt, n]

    @property
    def seq(self) -> int:
        return self._seq

    @classmethod
    def replay(cls, spec: MarketSpec, commands: Iterable[Command]) -> Auction:
        auc = cls(spec)
        for cmd in commands:
            auc.apply(cmd)
        return auc

    def _emit(self, ev: list[Event], cls: type, *fields: object) -> None:
        self._seq += 1
        ev.append(_new(cls, (self._seq, *fields)))

    def _level(self, ev: list[Event], side: Side, t: int) -> None:
        amt, n = self._levels[side].get(t, (0, 0))
        self._emit(ev, LevelChanged, side, t * self.spec.tick, amt, n)

    def _move(self, o: list[Any], delta: int, dn: int) -> None:
        lv = self._levels[o[_SIDE]].setdefault(o[_TICK], [0, 0])
        lv[0] += delta
        lv[1] += dn
        if not lv[1]:
            del self._levels[o[_SIDE]][o[_TICK]]

    def _drop(self, o: list[Any]) -> None:
        self._move(o, -o[_REM], -1)
        del self._orders[o[_OID]]
        mine = self._by_owner[o[_OWNER]]
        del mine[o[_OID]]
        if not mine:
            del self._by_owner[o[_OWNER]]

    def apply(self, cmd: Command) -> list[Event]:
        ev: list[Event] = []
        t = type(cmd)
        if t is NewOrder:
            self._new(cmd, ev)  # type: ignore[arg-type]
        elif t is Cancel or t is Amend:
            self._change(cmd, ev)  # type: ignore[arg-type]
        elif t is Clear and type(cmd.slot) is int:  # type: ignore[union-attr]
            self._clear(cmd.slot, ev)  # type: ignore[union-attr]
        else:
            oid = getattr(cmd, "order_id", 0)
            self._emit(ev, Rejected, oid if type(oid) is int else 0, RejectReason.BAD_COMMAND)
        return ev

    def _new(self, c: NewOrder, ev: list[Event]) -> None:
        bad = new_order_verdict(self.spec, c, self._orders, _TIFS)
        oid = c.order_id if type(c.order_id) is int else 0
        if bad is not None:
            self._emit(ev, Rejected, oid, bad)
            return
        t = c.price // self.spec.tick
        crossing = [
            o
            for o in self._by_owner.get(c.owner, {}).values()
            if o[_SIDE] != c.side and (o[_TICK] <= t if c.side == Side.BUY else o[_TICK] >= t)
        ]
        if crossing and (c.stp or self.spec.stp) != StpMode.CANCEL_MAKER:
            self._emit(ev, Rejected, oid, RejectReason.SELF_TRADE)
            return
        self._emit(ev, Accepted, oid, c.owner, c.side, c.price, c.amount, c.tif)
        for o in sorted(crossing, key=lambda o: o[_ARRIVAL]):
            self._drop(o)
            self._emit(ev, Cancelled, o[_OID], o[_REM], CancelReason.SELF_TRADE)
            self._level(ev, o[_SIDE], o[_TICK])
        self._arrival += 1
        o = [c.amount, oid, c.owner, c.side, t, self._arrival, c.tif]
        self._orders[oid] = o
        self._by_owner.setdefault(c.owner, {})[oid] = o
        self._move(o, c.amount, 1)
        self._level(ev, c.side, t)

    def _change(self, c: Cancel | Amend, ev: list[Event]) -> None:
        o = self._orders.get(c.order_id) if type(c.order_id) is int and type(c.owner) is str else None
        reason = None
        if o is None:
            reason = RejectReason.UNKNOWN_ORDER if type(c.order_id) is int else RejectReason.BAD_COMMAND
        elif o[_OWNER] != c.owner:
            reason = RejectReason.NOT_OWNER
        elif type(c) is Amend and (type(c.remaining) is not int or not 0 < c.remaining < o[_REM]):
            reason = RejectReason.NOT_DOWN
        elif type(c) is Amend and c.remaining % self.spec.lot:
            reason = RejectReason.BAD_AMOUNT
        if reason is not None or o is None:
            self._emit(ev, Rejected, c.order_id if type(c.order_id) is int else 0, reason)
            return
        if type(c) is Cancel:
            self._drop(o)
            self._emit(ev, Cancelled, o[_OID], o[_REM], CancelReason.USER)
        elif type(c) is Amend:
            self._move(o, c.remaining - o[_REM], 0)
            o[_REM] = c.remaining
            self._emit(ev, Amended, o[_OID], o[_REM])
        self._level(ev, o[_SIDE], o[_TICK])

    def _clear(self, slot: int, ev: list[Event]) -> None:
        if self._slot is not None and slot <= self._slot:
            self._emit(ev, Rejected, 0, RejectReason.BAD_SLOT)
            return
        self._slot = slot
        found = self.indicative()
        touched: set[tuple[int, int]] = set()
        if found is None:
            self._emit(ev, Cleared, slot, None, 0)
        else:
            price, volume = found
            self._emit(ev, Cleared, slot, price, volume)
            touched = self._trade(price // self.spec.tick, volume, ev)
        self._expire(ev, touched)

    def _trade(self, p: int, volume: int, ev: list[Event]) -> set[tuple[int, int]]:
        live, sell, buy = self._orders.values(), Side.SELL, Side.BUY
        lot, tick, fee_bps = self.spec.lot, self.spec.tick, self.spec.fee_bps
        sells = _allocate([o for o in live if o[_SIDE] is sell and o[_TICK] <= p], volume, lot, 1)
        buys = _allocate([o for o in live if o[_SIDE] is buy and o[_TICK] >= p], volume, lot, -1)
        price = p * tick
        si = bi = 0
        sq, bq = sells[0][1], buys[0][1]
        seq = self._seq
        while si < len(sells):
            s, b = sells[si][0], buys[bi][0]
            f = min(sq, bq)
            pay = f * price // PRICE_SCALE  # fill_payment; MarketSpec rules out overflow
            seq += 1
            fee = pay * fee_bps // 10_000  # fill_fee
            ev.append(_new(Trade, (seq, price, f, pay, fee, s[_OID], b[_OID], s[_OWNER], b[_OWNER], s[_OID])))
            sq, bq = sq - f, bq - f
            if not sq:
                si += 1
                sq = sells[si][1] if si < len(sells) else 0
            if not bq:
                bi += 1
                bq = buys[bi][1] if bi < len(buys) else 0
        self._seq = seq
        levels = self._levels
        for o, f in sells + buys:  # counts do not change here: filled orders leave in _expire
            levels[o[_SIDE]][o[_TICK]][0] -= f
            o[_REM] -= f
        return {(o[_SIDE], o[_TICK]) for o, _ in sells + buys}

    def _expire(self, ev: list[Event], touched: set[tuple[int, int]]) -> None:
        """Slot end: filled orders leave; IOC (and GTC unless rolled over) are cancelled, in
        arrival order (the dict's order); then every level that changed is reported once."""
        keep, seq, gone, gtc, ioc = self.spec.rollover, self._seq, [], TimeInForce.GTC, TimeInForce.IOC
        unfilled, expired, append = CancelReason.UNFILLED, CancelReason.EXPIRED, ev.append
        for o in self._orders.values():
            rem = o[_REM]
            if rem:
                tif = o[_TIF]
                if keep and tif is gtc:
                    continue
                seq += 1
                append(_new(Cancelled, (seq, o[_OID], rem, unfilled if tif is ioc else expired)))
            gone.append(o)
        self._seq = seq
        if len(gone) == len(self._orders):  # the common case: the whole slot goes at once
            touched.update((side, t) for side in (Side.SELL, Side.BUY) for t in self._levels[side])
            self._orders, self._by_owner, self._levels = {}, {}, ({}, {})
        else:
            for o in gone:
                touched.add((o[_SIDE], o[_TICK]))
                self._drop(o)
        for side, t in sorted(touched):
            self._level(ev, Side(side), t)

    # ------------------------------------------------------------------ reading the state

    def order(self, order_id: int) -> RestingOrder | None:
        o = self._orders.get(order_id)
        if o is None:
            return None
        return RestingOrder(o[_OID], o[_OWNER], Side(o[_SIDE]), o[_TICK] * self.spec.tick, o[_REM])

    def indicative(self) -> tuple[int, int] | None:
        """(price, volume) the slot would clear at now, or None: what the book shows."""
        bids, asks = self._levels[Side.BUY], self._levels[Side.SELL]
        found = clearing_tick({t: v[0] for t, v in bids.items()}, {t: v[0] for t, v in asks.items()})
        return None if found is None else (found[0] * self.spec.tick, found[1])

    def book(self, depth: int | None = None) -> Book:
        """The collected orders per price (they do not trade until the slot clears)."""
        tick = self.spec.tick
        bids = sorted(self._levels[Side.BUY].items(), reverse=True)[:depth]
        asks = sorted(self._levels[Side.SELL].items())[:depth]
        return Book(
            self._seq,
            tuple(Level(t * tick, a, n) for t, (a, n) in bids),
            tuple(Level(t * tick, a, n) for t, (a, n) in asks),
        )

    def resting(self) -> list[RestingOrder]:
        """Every collected order in arrival order (``restore`` takes them back)."""
        return [
            RestingOrder(o[_OID], o[_OWNER], Side(o[_SIDE]), o[_TICK] * self.spec.tick, o[_REM])
            for o in sorted(self._orders.values(), key=lambda o: o[_ARRIVAL])
        ]

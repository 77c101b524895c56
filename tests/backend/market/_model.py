"""A slow, obviously-correct continuous double auction: the reference the fast engine must
equal event for event. One flat list of resting orders, re-sorted for every taker; no heaps,
no lazy deletion, no per-tick arrays."""

from __future__ import annotations

from dataclasses import dataclass
from itertools import count

from backend.market import (
    Accepted,
    Amend,
    Amended,
    Cancel,
    Cancelled,
    CancelReason,
    Event,
    LevelChanged,
    MarketSpec,
    NewOrder,
    Rejected,
    RejectReason,
    Side,
    StpMode,
    TimeInForce,
    Trade,
    fill_fee,
    fill_payment,
)


@dataclass
class _O:
    oid: int
    owner: str
    side: Side
    price: int
    rem: int
    arrival: int


class Model:
    def __init__(self, spec: MarketSpec) -> None:
        self.spec = spec
        self.seq = 0
        self.resting: list[_O] = []
        self._arrival = count()
        self.ev: list[Event] = []

    def _emit(self, cls: type, *fields: object) -> None:
        self.seq += 1
        self.ev.append(cls(self.seq, *fields))

    def _find(self, oid: int) -> _O | None:
        return next((o for o in self.resting if o.oid == oid), None)

    def _level(self, side: Side, price: int) -> None:
        at = [o for o in self.resting if o.side == side and o.price == price]
        self._emit(LevelChanged, side, price, sum(o.rem for o in at), len(at))

    def apply(self, cmd: object) -> list[Event]:
        self.ev = []
        if type(cmd) is NewOrder:
            self._new(cmd)
        elif type(cmd) in (Cancel, Amend):
            self._change(cmd)  # type: ignore[arg-type]
        else:
            self._emit(Rejected, getattr(cmd, "order_id", 0), RejectReason.BAD_COMMAND)
        return self.ev

    def _verdict(self, c: NewOrder) -> RejectReason | None:
        s = self.spec
        if not 0 <= c.order_id < 2**64:
            return RejectReason.BAD_ORDER_ID
        if self._find(c.order_id):
            return RejectReason.DUPLICATE_ORDER_ID
        if c.side not in (Side.BUY, Side.SELL):
            return RejectReason.BAD_SIDE
        if not (0 < c.price <= s.max_price and c.price % s.tick == 0):
            return RejectReason.BAD_PRICE
        if not (0 < c.amount <= s.max_amount and c.amount % s.lot == 0):
            return RejectReason.BAD_AMOUNT
        return None

    def _makers(self, c: NewOrder) -> list[_O]:
        """The opposite orders this taker crosses, in the order it meets them."""
        if c.side == Side.BUY:
            ms = [o for o in self.resting if o.side == Side.SELL and o.price <= c.price]
            return sorted(ms, key=lambda o: (o.price, o.arrival))
        ms = [o for o in self.resting if o.side == Side.BUY and o.price >= c.price]
        return sorted(ms, key=lambda o: (-o.price, o.arrival))

    def _new(self, c: NewOrder) -> None:
        bad = self._verdict(c)
        if bad:
            self._emit(Rejected, c.order_id, bad)
            return
        stp = c.stp or self.spec.stp
        makers = self._makers(c)
        if makers and c.tif == TimeInForce.POST_ONLY:
            self._emit(Rejected, c.order_id, RejectReason.POST_ONLY_WOULD_TAKE)
            return
        avail, blocked = 0, False
        for m in makers:
            if avail >= c.amount:
                break
            if m.owner == c.owner:
                if stp == StpMode.CANCEL_MAKER:
                    continue
                blocked = stp == StpMode.ABORT
                break
            avail += m.rem
        if blocked:
            self._emit(Rejected, c.order_id, RejectReason.SELF_TRADE)
            return
        if c.tif == TimeInForce.FOK and avail < c.amount:
            self._emit(Rejected, c.order_id, RejectReason.FOK_UNFILLABLE)
            return
        self._emit(Accepted, c.order_id, c.owner, c.side, c.price, c.amount, c.tif)
        q, stopped, touched = c.amount, False, []
        for m in makers:
            if q == 0:
                break
            if m.owner == c.owner:
                if stp != StpMode.CANCEL_MAKER:
                    stopped = True
                    break
                self._emit(Cancelled, m.oid, m.rem, CancelReason.SELF_TRADE)
                f = m.rem
            else:
                f = min(m.rem, q)
                sell, buy = (m, c) if c.side == Side.BUY else (c, m)
                pay = fill_payment(f, sell.price)
                self._emit(
                    Trade,
                    sell.price,
                    f,
                    pay,
                    fill_fee(pay, self.spec.fee_bps),
                    sell.oid if sell is m else c.order_id,
                    buy.oid if buy is m else c.order_id,
                    sell.owner,
                    buy.owner,
                    m.oid,
                )
                q -= f
            m.rem -= f
            if m.price not in touched:
                touched.append(m.price)
        self.resting = [o for o in self.resting if o.rem > 0]
        for p in touched:
            self._level(Side.SELL if c.side == Side.BUY else Side.BUY, p)
        if q:
            if stopped or c.tif == TimeInForce.IOC:
                reason = CancelReason.SELF_TRADE if stopped else CancelReason.UNFILLED
                self._emit(Cancelled, c.order_id, q, reason)
            else:
                self.resting.append(_O(c.order_id, c.owner, c.side, c.price, q, next(self._arrival)))
                self._level(c.side, c.price)

    def _change(self, c: Cancel | Amend) -> None:
        o = self._find(c.order_id)
        if o is None:
            self._emit(Rejected, c.order_id, RejectReason.UNKNOWN_ORDER)
        elif o.owner != c.owner:
            self._emit(Rejected, c.order_id, RejectReason.NOT_OWNER)
        elif type(c) is Cancel:
            self.resting.remove(o)
            self._emit(Cancelled, o.oid, o.rem, CancelReason.USER)
            self._level(o.side, o.price)
        elif not 0 < c.remaining < o.rem:
            self._emit(Rejected, c.order_id, RejectReason.NOT_DOWN)
        elif c.remaining % self.spec.lot:
            self._emit(Rejected, c.order_id, RejectReason.BAD_AMOUNT)
        else:
            o.rem = c.remaining
            self._emit(Amended, o.oid, o.rem)
            self._level(o.side, o.price)

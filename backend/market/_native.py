"""``backend.market.Engine``: the continuous double auction on the compiled core
(``native/market_core``, Rust with PyO3), behind the pure engine's interface.

The core builds the very same event ``NamedTuple``s, with the same ``seq``, as the pure engine
(``PyEngine``, in ``_engine``), which stays the reference: the property tests run every
command stream through both and through the slow model, and fail on any difference. Why a
compiled core at all: in CPython the per-order object work (the order record, 2-4 typed
events) bounds a pure engine well below the 500,000 orders/s target (see ``_engine``).

No fallback: when the core is not installed, ``Engine(spec)`` raises ``MarketCoreMissing``
(``make setup`` builds it). A silent switch to the pure engine would halve the market's
throughput without anyone noticing, and tests would pass against the wrong implementation;
``PyEngine`` is there for whoever wants the reference explicitly.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from types import SimpleNamespace
from typing import Any

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
from gridx.errors import GridxError

try:
    import gridx_market_core as _core
except ImportError:  # pragma: no cover - the tests need the core (tests/backend/market)
    _core = None

__all__ = ["CORE_AVAILABLE", "Engine", "MarketCoreMissing", "new_market"]

CORE_AVAILABLE = _core is not None
_STPS = (StpMode.CANCEL_MAKER, StpMode.CANCEL_TAKER, StpMode.ABORT)


class MarketCoreMissing(GridxError):
    """The compiled market core is not installed: run ``make setup``
    (``scripts/build_market_core.sh``)."""


def _vocab(spec: MarketSpec) -> SimpleNamespace:
    """What the core needs from ``_types``: event classes and enum members, in the core's code
    order, and the verdict that names the first bad field of a refused new order."""

    def verdict(cmd: NewOrder, live: bool) -> RejectReason:
        return new_order_verdict(spec, cmd, (cmd.order_id,) if live else ()) or RejectReason.BAD_COMMAND

    r = RejectReason
    return SimpleNamespace(
        Accepted=Accepted,
        Rejected=Rejected,
        Trade=Trade,
        Cancelled=Cancelled,
        Amended=Amended,
        LevelChanged=LevelChanged,
        NewOrder=NewOrder,
        Cancel=Cancel,
        Amend=Amend,
        sides=(Side.SELL, Side.BUY),
        tifs=(TimeInForce.GTC, TimeInForce.IOC, TimeInForce.FOK, TimeInForce.POST_ONLY),
        stps=_STPS,
        c_self_trade=CancelReason.SELF_TRADE,
        c_unfilled=CancelReason.UNFILLED,
        c_user=CancelReason.USER,
        bad_command=r.BAD_COMMAND,
        post_only_would_take=r.POST_ONLY_WOULD_TAKE,
        self_trade=r.SELF_TRADE,
        fok_unfillable=r.FOK_UNFILLABLE,
        unknown_order=r.UNKNOWN_ORDER,
        not_owner=r.NOT_OWNER,
        not_down=r.NOT_DOWN,
        bad_amount=r.BAD_AMOUNT,
        verdict=verdict,
    )


class Engine:
    """A continuous double auction for one market (the package docstring has the contract)."""

    def __init__(self, spec: MarketSpec) -> None:
        if spec.mechanism != Mechanism.CONTINUOUS:
            raise MarketSpecError(f"market {spec.market_id} is not continuous")
        if _core is None:
            raise MarketCoreMissing("the compiled market core is not installed: run `make setup`")
        if spec.max_price > U64_MAX or spec.max_amount > U64_MAX:
            raise MarketSpecError("max_price and max_amount must be u64 (as on chain)")
        self.spec = spec
        args = (spec.tick, spec.lot, spec.max_price, spec.max_amount, spec.fee_bps, _STPS.index(spec.stp))
        self._core: Any = _core.Core(*args, _vocab(spec))
        # the core's own method, so a command costs one call into Rust and nothing in Python
        self.apply: Callable[[Command], list[Event]] = self._core.apply

    @property
    def seq(self) -> int:
        return int(self._core.seq)

    @classmethod
    def replay(cls, spec: MarketSpec, commands: Iterable[Command]) -> Engine:
        eng = cls(spec)
        for cmd in commands:
            eng.apply(cmd)
        return eng

    def order(self, order_id: int) -> RestingOrder | None:
        if type(order_id) is not int or not 0 <= order_id <= U64_MAX:
            return None
        o = self._core.order(order_id)
        return None if o is None else RestingOrder(o[0], o[1], Side(o[2]), o[3], o[4])

    def book(self, depth: int | None = None) -> Book:
        """Aggregated levels, best first, at most ``depth`` per side (None: all)."""
        bids, asks = (tuple(Level(*lv) for lv in self._core.levels(s)[:depth]) for s in (Side.BUY, Side.SELL))
        return Book(self.seq, bids=bids, asks=asks)

    def resting(self) -> list[RestingOrder]:
        """Every live order, asks then bids, each best price first and in queue order: with
        ``restore`` the way to rebuild the engine from stored open orders."""
        return [RestingOrder(o[0], o[1], Side(o[2]), o[3], o[4]) for o in self._core.resting()]

    @classmethod
    def restore(cls, spec: MarketSpec, seq: int, orders: Iterable[RestingOrder]) -> Engine:
        """An engine holding ``orders`` (queue order as ``resting()`` lists them) at ``seq``;
        it then behaves exactly like the engine they were read from."""
        eng = cls(spec)
        for r in orders:
            evs = eng.apply(NewOrder(r.order_id, r.owner, r.side, r.price, r.remaining))
            if [type(e) for e in evs] != [Accepted, LevelChanged]:
                raise MarketSpecError(f"cannot restore order {r.order_id}: {evs[-1]}")
        eng._core.seq = seq
        return eng


def new_market(spec: MarketSpec) -> Any:
    """The engine for ``spec.mechanism``: ``Engine`` or ``Auction``."""
    if spec.mechanism == Mechanism.AUCTION:
        from backend.market._auction import Auction

        return Auction(spec)
    return Engine(spec)

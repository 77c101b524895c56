"""The market engine's vocabulary: market spec, commands, events, reasons.

Commands and events are ``NamedTuple``s: immutable, typed, compared and printed field by
field (so two replays can be compared byte for byte), and cheap enough to build half a million
times a second, which a frozen dataclass is not.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import NamedTuple

from gridx.errors import GridxError

__all__ = [
    "MAX_TICKS",
    "PRICE_SCALE",
    "U64_MAX",
    "Accepted",
    "Amend",
    "Amended",
    "Book",
    "Cancel",
    "CancelReason",
    "Cancelled",
    "Clear",
    "Cleared",
    "Command",
    "Event",
    "Level",
    "LevelChanged",
    "MarketSpec",
    "MarketSpecError",
    "Mechanism",
    "NewOrder",
    "RejectReason",
    "Rejected",
    "RestingOrder",
    "Side",
    "StpMode",
    "TimeInForce",
    "Trade",
]

PRICE_SCALE = 1_000_000  # a price is per 1 GRXE = 10**6 energy base units (programs/trading)
U64_MAX = 2**64 - 1
MAX_TICKS = 1_000_000  # per-tick arrays: ~70 bytes per tick per side


class Side(enum.IntEnum):
    """Values as the trading program stores them (``SIDE_SELL = 0``, ``SIDE_BUY = 1``)."""

    SELL = 0
    BUY = 1


class TimeInForce(enum.StrEnum):
    GTC = "gtc"  # rests until filled or cancelled
    IOC = "ioc"  # fills what it can now; the remainder is cancelled
    FOK = "fok"  # fills completely now or is rejected without touching the book
    POST_ONLY = "post_only"  # rests; rejected if it would take liquidity


class StpMode(enum.StrEnum):
    """Self-trade prevention: what happens when an order would meet its owner's resting order."""

    CANCEL_MAKER = "cancel_maker"  # the resting own order is cancelled; matching goes on
    CANCEL_TAKER = "cancel_taker"  # the incoming order's remainder is cancelled; earlier fills stand
    ABORT = "abort"  # the incoming order is rejected whole, before any fill, if it would meet one


class Mechanism(enum.StrEnum):
    CONTINUOUS = "continuous"  # continuous double auction (``Engine``)
    AUCTION = "auction"  # uniform-price auction per slot (``Auction``)


class RejectReason(enum.StrEnum):
    """Why a command changed nothing. Values are stable (stored, shown, used as labels)."""

    BAD_COMMAND = "bad_command"  # not a command this market takes, or a field of the wrong type
    BAD_ORDER_ID = "bad_order_id"  # not a u64 (the trading program's order id)
    BAD_SIDE = "bad_side"
    BAD_TIF = "bad_tif"  # unknown, or not offered by this mechanism
    BAD_STP = "bad_stp"
    BAD_PRICE = "bad_price"  # not a positive multiple of the tick, or above the market's maximum
    BAD_AMOUNT = "bad_amount"  # not a positive multiple of the lot, or above the market's maximum
    DUPLICATE_ORDER_ID = "duplicate_order_id"  # the id is live in this market
    UNKNOWN_ORDER = "unknown_order"  # cancel/amend of an id that is not live
    NOT_OWNER = "not_owner"  # cancel/amend by someone else
    NOT_DOWN = "not_down"  # an amend that does not reduce the remaining amount
    FOK_UNFILLABLE = "fok_unfillable"
    POST_ONLY_WOULD_TAKE = "post_only_would_take"
    SELF_TRADE = "self_trade"  # StpMode.ABORT (and the auction's taker-side modes)
    BAD_SLOT = "bad_slot"  # a Clear whose slot label does not increase


class CancelReason(enum.StrEnum):
    USER = "user"  # a Cancel command
    UNFILLED = "unfilled"  # the remainder of an IOC order (or of a FOK in the auction)
    SELF_TRADE = "self_trade"  # self-trade prevention removed it
    EXPIRED = "expired"  # the auction slot ended and the market does not roll orders over


class MarketSpecError(GridxError):
    """A market's parameters are inconsistent (a fill could pay 0, or overflow u64 on chain)."""


@dataclass(frozen=True, slots=True)
class MarketSpec:
    """One market's rules. Prices are payment-token base units per GRXE, amounts GRXE base
    units; both must be multiples of ``tick`` / ``lot``.

    ``lot * tick >= PRICE_SCALE`` is required, so the smallest possible fill pays at least one
    base unit and the trading program never refuses a fill as ``TradeTooSmall``;
    ``max_amount * max_price`` must keep every escrow and payment within u64.
    """

    market_id: str
    tick: int
    lot: int
    max_price: int
    max_amount: int
    stp: StpMode = StpMode.CANCEL_TAKER  # the default when an order does not choose
    fee_bps: int = 0  # as the market account on chain has it; the engine reports the fee per fill
    mechanism: Mechanism = Mechanism.CONTINUOUS
    rollover: bool = False  # auction: unfilled GTC orders move to the next slot instead of expiring
    slot_s: int = 900  # auction: slot length; the service sends Clear at each slot's end (no clock here)

    def __post_init__(self) -> None:
        for name in ("tick", "lot", "max_price", "max_amount"):
            v = getattr(self, name)
            if type(v) is not int or v <= 0:
                raise MarketSpecError(f"{name} must be a positive int, got {v!r}")
        if self.max_price // self.tick > MAX_TICKS:
            raise MarketSpecError(f"more than {MAX_TICKS} price ticks: the book keeps arrays indexed by tick")
        if self.max_price % self.tick or self.max_amount % self.lot:
            raise MarketSpecError("max_price and max_amount must be multiples of tick and lot")
        if self.lot * self.tick < PRICE_SCALE:
            raise MarketSpecError("lot * tick < 10**6: a one-lot fill at one tick would pay 0 on chain")
        if -(-self.max_amount * self.max_price // PRICE_SCALE) > U64_MAX:
            raise MarketSpecError("max_amount * max_price overflows u64 on chain")
        if type(self.fee_bps) is not int or not 0 <= self.fee_bps <= 10_000:
            raise MarketSpecError("fee_bps must be an int in 0..10000")
        if type(self.slot_s) is not int or self.slot_s <= 0 or 86_400 % self.slot_s:
            raise MarketSpecError("slot_s must divide a day (slots align to midnight UTC)")
        if type(self.stp) is not StpMode or type(self.mechanism) is not Mechanism or type(self.rollover) is not bool:
            raise MarketSpecError("stp, mechanism and rollover must be a StpMode, a Mechanism and a bool")

    @property
    def max_ticks(self) -> int:
        return self.max_price // self.tick


# ---------------------------------------------------------------------------- commands


class NewOrder(NamedTuple):
    """``order_id`` is assigned by the caller (the API's database), unique per market; the
    engine refuses an id that is live. ``stp=None`` takes the market's mode."""

    order_id: int
    owner: str
    side: Side
    price: int
    amount: int
    tif: TimeInForce = TimeInForce.GTC
    stp: StpMode | None = None


class Cancel(NamedTuple):
    order_id: int
    owner: str


class Amend(NamedTuple):
    """Reduce a live order's remaining amount to ``remaining`` (0 < remaining < current);
    it keeps its place in the queue."""

    order_id: int
    owner: str
    remaining: int


class Clear(NamedTuple):
    """Auction only: close the current slot and clear it. ``slot`` is the caller's label for
    the slot (e.g. its start time); it must increase from one Clear to the next."""

    slot: int


Command = NewOrder | Cancel | Amend | Clear

# ---------------------------------------------------------------------------- events
# Every event's first field is ``seq``: 1, 2, 3, ... per market, +1 per event.


class Accepted(NamedTuple):
    seq: int
    order_id: int
    owner: str
    side: Side
    price: int
    amount: int
    tif: TimeInForce


class Rejected(NamedTuple):
    seq: int
    order_id: int
    reason: RejectReason


class Trade(NamedTuple):
    """One fill between one sell order and one buy order, as ``match_order`` settles it:
    ``price`` is the sell order's limit in the continuous market (the chain pays at the sell
    price), the clearing price in the auction; ``payment = fill_payment(amount, price)`` and
    ``fee = fill_fee(payment, fee_bps)``. ``maker_order_id`` is the resting order (the
    auction has no maker; it is the sell order there)."""

    seq: int
    price: int
    amount: int
    payment: int
    fee: int
    sell_order_id: int
    buy_order_id: int
    seller: str
    buyer: str
    maker_order_id: int


class Cancelled(NamedTuple):
    seq: int
    order_id: int
    remaining: int
    reason: CancelReason


class Amended(NamedTuple):
    seq: int
    order_id: int
    remaining: int


class LevelChanged(NamedTuple):
    """The new total at one price of one side; ``amount == 0`` (and ``orders == 0``) means the
    level is gone. Emitted once per touched level per command, after its trades."""

    seq: int
    side: Side
    price: int
    amount: int
    orders: int  # live orders at this price


class Cleared(NamedTuple):
    """Auction: the slot ``slot`` cleared at ``price`` (None when nothing crossed) with
    ``volume`` GRXE base units matched."""

    seq: int
    slot: int
    price: int | None
    volume: int


Event = Accepted | Rejected | Trade | Cancelled | Amended | LevelChanged | Cleared


class Level(NamedTuple):
    price: int
    amount: int
    orders: int  # live orders at this price


class Book(NamedTuple):
    """A snapshot: bids best (highest) first, asks best (lowest) first; ``seq`` is the last
    event's sequence number, so a feed client knows which deltas apply on top."""

    seq: int
    bids: tuple[Level, ...]
    asks: tuple[Level, ...]


class RestingOrder(NamedTuple):
    order_id: int
    owner: str
    side: Side
    price: int
    remaining: int

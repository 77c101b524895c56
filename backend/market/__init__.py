"""The market engine: a continuous double auction (``Engine``) and a uniform-price auction per
slot (``Auction``). Pure: no I/O, no clock, no globals; the API's single-writer market service
feeds it commands and forwards its events.

Contract (stable; the trading API codes against it):

- ``Engine(spec)`` for ``spec.mechanism == Mechanism.CONTINUOUS``, ``Auction(spec)`` for
  ``Mechanism.AUCTION`` (``new_market(spec)`` picks). Both have ``apply(cmd) -> list[Event]``,
  ``book(depth) -> Book``, ``order(order_id) -> RestingOrder | None``, ``seq`` and
  ``replay(spec, commands)``. ``Engine`` runs on the compiled core (``native/market_core``,
  built by ``make setup``; without it ``Engine(spec)`` raises ``MarketCoreMissing``);
  ``PyEngine`` is the same engine in pure Python, the reference the tests hold it to.
- Commands: ``NewOrder(order_id, owner, side, price, amount, tif=GTC, stp=None)``,
  ``Cancel(order_id, owner)``, ``Amend(order_id, owner, remaining)`` (down only, keeps queue
  place), ``Clear(slot)`` (auction only: close and clear the current slot). The caller assigns
  order ids (unique per market); an id that is live is refused.
- Units: ``price`` in payment-token base units per GRXE, ``amount`` in GRXE base units (10**6
  per kWh), multiples of the market's ``tick`` / ``lot``, at most ``max_price`` /
  ``max_amount``. All integers; nothing is ever a float.
- Events, each with ``seq`` first: 1, 2, 3, ... per market, exactly +1 per event:
  ``Accepted``, ``Rejected(reason)``, ``Trade``, ``Cancelled(reason)``, ``Amended``,
  ``LevelChanged`` (new total of one price level, 0 = gone; once per touched level per
  command, after the trades), ``Cleared`` (auction). Every command yields at least one event;
  a command that changes nothing yields exactly one ``Rejected``.
- A trade is priced as the trading program settles it: at the sell order's limit price in the
  continuous market (whichever side rested), at the clearing price in the auction;
  ``Trade.payment == fill_payment(amount, price)``, ``Trade.fee == fill_fee(payment, fee_bps)``.
  ``MarketSpec`` refuses markets where a fill could pay 0 or overflow u64 on chain.
- Deterministic: the same spec and commands give equal events and book, field for field;
  ``replay(spec, commands)`` rebuilds an engine from a command log, and (continuous market)
  ``Engine.restore(spec, seq, resting)`` from its open orders as ``resting()`` lists them.
- Auction: ``Clear(slot)`` is the clock (the service sends it at the slot's end); the rules for
  price, ties and self-trades are in ``_auction``'s docstring. Its trades are priced at the
  clearing price, which today's ``match_order`` (paying the sell limit) cannot settle as such.
- Price-time priority; GTC, IOC, FOK (all or nothing, else ``Rejected(fok_unfillable)``),
  post-only (``Rejected(post_only_would_take)`` if it would take); self-trade prevention
  ``cancel_maker``, ``cancel_taker``, ``abort`` per market, overridable per order: no mode ever
  produces a trade between two orders of one owner.
"""

from __future__ import annotations

from backend.market._auction import Auction
from backend.market._engine import Engine as PyEngine
from backend.market._native import CORE_AVAILABLE, Engine, MarketCoreMissing, new_market
from backend.market._payment import PaymentOverflow, buy_escrow, fill_fee, fill_payment
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

__all__ = [
    "CORE_AVAILABLE",
    "PRICE_SCALE",
    "Accepted",
    "Amend",
    "Amended",
    "Auction",
    "Book",
    "Cancel",
    "CancelReason",
    "Cancelled",
    "Clear",
    "Cleared",
    "Command",
    "Engine",
    "Event",
    "Level",
    "LevelChanged",
    "MarketCoreMissing",
    "MarketSpec",
    "MarketSpecError",
    "Mechanism",
    "NewOrder",
    "PaymentOverflow",
    "PyEngine",
    "RejectReason",
    "Rejected",
    "RestingOrder",
    "Side",
    "StpMode",
    "TimeInForce",
    "Trade",
    "buy_escrow",
    "fill_fee",
    "fill_payment",
    "new_market",
]

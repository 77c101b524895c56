"""What an order must satisfy before the API builds its transaction. Pure."""

from __future__ import annotations

from backend._errors import ApiError, Problem
from backend._state import MarketInfo
from backend.market import Side, buy_escrow

__all__ = ["MAX_AMOUNT", "MAX_PRICE", "check_order", "escrow_of"]

MAX_PRICE = 10**9  # 1,000 GRX per kWh
MAX_AMOUNT = 10**12  # 1 GWh


def escrow_of(side: Side, amount: int, price: int) -> int:
    """Base units the order escrows: GRXE for a sell, ceil(amount * price / 10^6) GRX for a buy."""
    return amount if side == Side.SELL else buy_escrow(amount, price)


def check_order(market: MarketInfo, side: Side, price: int, amount: int) -> int:
    """The escrow; refuses off-tick prices, off-lot amounts and out-of-range values."""
    if price <= 0 or price > MAX_PRICE or price % market.price_tick:
        raise ApiError(Problem.OFF_TICK, f"price must be a positive multiple of {market.price_tick} up to {MAX_PRICE}")
    if amount <= 0 or amount > MAX_AMOUNT or amount % market.lot:
        raise ApiError(Problem.OFF_LOT, f"amount must be a positive multiple of {market.lot} up to {MAX_AMOUNT}")
    return escrow_of(side, amount, price)

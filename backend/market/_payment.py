"""What the trading program pays per fill, to the base unit (``programs/trading``,
``match_order``): ``payment = floor(amount * price / 10**6)`` at the sell order's price, and
``fee = floor(payment * fee_bps / 10**4)`` out of the seller's proceeds. Each fill is rounded on
its own, so an order filled in pieces can be paid up to one base unit per fill less than its
total would round to; the engine reports exactly what the chain will move.
"""

from __future__ import annotations

from backend.market._types import PRICE_SCALE, U64_MAX
from gridx.errors import GridxError

__all__ = ["PaymentOverflow", "buy_escrow", "fill_fee", "fill_payment"]

_BPS = 10_000


class PaymentOverflow(GridxError):
    """The chain's checked arithmetic would refuse this fill (a result above u64)."""


def fill_payment(amount: int, price: int) -> int:
    """Payment-token base units the buyer pays for ``amount`` GRXE base units at ``price``
    (``mul_div_floor(amount, price, PRICE_SCALE)`` on chain)."""
    if not (0 <= amount <= U64_MAX and 0 <= price <= U64_MAX):
        raise PaymentOverflow(f"amount {amount} or price {price} is not a u64")
    q = amount * price // PRICE_SCALE
    if q > U64_MAX:
        raise PaymentOverflow(f"{amount} * {price} / 10**6 overflows u64")
    return q


def fill_fee(payment: int, fee_bps: int) -> int:
    """The market's cut of one fill's payment (``mul_div_floor(payment, fee_bps, 10**4)``)."""
    return payment * fee_bps // _BPS


def buy_escrow(amount: int, price: int) -> int:
    """What a buy order escrows when created: ``ceil(amount * price / 10**6)``."""
    q = -(-amount * price // PRICE_SCALE)
    if q > U64_MAX:
        raise PaymentOverflow(f"{amount} * {price} / 10**6 overflows u64")
    return q

"""The verdict on a new order's fields, shared by both mechanisms: the first failing field,
always in the same order, so a rejected command means the same thing in every market."""

from __future__ import annotations

from collections.abc import Container

from backend.market._types import U64_MAX, MarketSpec, NewOrder, RejectReason, Side, StpMode, TimeInForce

__all__ = ["new_order_verdict"]


def new_order_verdict(
    spec: MarketSpec, cmd: NewOrder, live: Container[int], tifs: Container[TimeInForce] = frozenset(TimeInForce)
) -> RejectReason | None:
    if len(cmd) != 7 or type(cmd.order_id) is not int or type(cmd.owner) is not str:
        return RejectReason.BAD_COMMAND
    if not 0 <= cmd.order_id <= U64_MAX:
        return RejectReason.BAD_ORDER_ID
    if cmd.order_id in live:
        return RejectReason.DUPLICATE_ORDER_ID
    if cmd.side is not Side.BUY and cmd.side is not Side.SELL:
        return RejectReason.BAD_SIDE
    p = cmd.price
    if type(p) is not int or not 0 < p <= spec.max_price or p % spec.tick:
        return RejectReason.BAD_PRICE
    a = cmd.amount
    if type(a) is not int or not 0 < a <= spec.max_amount or a % spec.lot:
        return RejectReason.BAD_AMOUNT
    if type(cmd.tif) is not TimeInForce or cmd.tif not in tifs:
        return RejectReason.BAD_TIF
    if cmd.stp is not None and type(cmd.stp) is not StpMode:
        return RejectReason.BAD_STP
    return None

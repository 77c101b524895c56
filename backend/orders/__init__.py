"""Orders: preparation (rules, balance, unsigned escrow transaction), cancel, queries."""

from backend.orders._rules import MAX_AMOUNT, MAX_PRICE, check_order, escrow_of

__all__ = ["MAX_AMOUNT", "MAX_PRICE", "check_order", "escrow_of"]

"""Uniform-price auction per slot (written next)."""

from __future__ import annotations

from backend.market._types import MarketSpec

__all__ = ["Auction"]


class Auction:
    def __init__(self, spec: MarketSpec) -> None:
        self.spec = spec

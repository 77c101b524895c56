"""Prometheus metrics of one mint worker, in its own registry (the convention is ``gridx.metrics``)."""

from __future__ import annotations

from dataclasses import dataclass, field

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from gridx.metrics import new_registry

__all__ = ["MintMetrics"]


@dataclass
class MintMetrics:
    registry: CollectorRegistry = field(default_factory=new_registry)

    def __post_init__(self) -> None:
        r = self.registry
        self.pending = Gauge("gridx_mints_pending", "Mint outbox rows not yet confirmed or refused", registry=r)
        self.outcomes = Counter("gridx_mints_total", "Mint outcomes", ["outcome", "reason"], registry=r)
        self.latency = Histogram(
            "gridx_mint_latency_seconds",
            "Reading accepted to mint confirmed",
            buckets=(0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60),
            registry=r,
        )

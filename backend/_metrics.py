"""Prometheus metrics of the API (served at /metrics with Litestar's request metrics)."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

__all__ = ["INDEXED", "INDEX_REJECTED", "ORDERS", "PROBLEMS", "SETTLE_PENDING", "TRADES", "TX_SUBMITTED"]

PROBLEMS = Counter("gridx_api_problems_total", "Problem documents returned, by code", ["code"])
ORDERS = Counter("gridx_api_orders_total", "Orders prepared, by side", ["side"])
TX_SUBMITTED = Counter("gridx_api_tx_submitted_total", "User-signed transactions submitted, by kind", ["kind"])
TRADES = Counter("gridx_api_trades_total", "Trades by settlement outcome", ["status"])
SETTLE_PENDING = Gauge("gridx_api_settlements_open", "Trades not yet confirmed or failed")
INDEXED = Counter("gridx_api_indexed_events_total", "Chain events applied by the indexer", ["name"])
INDEX_REJECTED = Counter(
    "gridx_api_index_rejected_total", "Chain events the indexer could not apply (kept in chain_events)", ["name"]
)
SETTLE_SECONDS = Histogram("gridx_api_settle_seconds", "match_order send to confirmation")

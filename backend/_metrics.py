"""Prometheus metrics of the API process (its matcher, settler and indexer included), in the
API's own registry (the convention is ``gridx.metrics``), served on ``metrics_host:metrics_port``.

The registry is per process, not per app: the counters are module names the handlers import."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, cast

from prometheus_client import Counter, Gauge, Histogram

from gridx.metrics import new_registry

if TYPE_CHECKING:
    from litestar.types import ASGIApp, HTTPScope, Message, Receive, Scope, Send

__all__ = [
    "INDEXED",
    "INDEX_REJECTED",
    "ORDERS",
    "PROBLEMS",
    "REGISTRY",
    "SETTLE_PENDING",
    "TRADES",
    "TX_EXPIRED",
    "TX_SUBMITTED",
    "http_metrics",
]

REGISTRY = new_registry()

PROBLEMS = Counter("gridx_api_problems_total", "Problem documents returned, by code", ["code"], registry=REGISTRY)
ORDERS = Counter("gridx_api_orders_total", "Orders prepared, by side", ["side"], registry=REGISTRY)
TX_SUBMITTED = Counter(
    "gridx_api_tx_submitted_total", "User-signed transactions submitted, by kind", ["kind"], registry=REGISTRY
)
TX_EXPIRED = Counter(
    "gridx_api_tx_expired_total",
    "Submitted transactions that never landed before their blockhash expired, by kind",
    ["kind"],
    registry=REGISTRY,
)
TRADES = Counter("gridx_api_trades_total", "Trades by settlement outcome", ["status"], registry=REGISTRY)
SETTLE_PENDING = Gauge("gridx_api_settlements_open", "Trades not yet confirmed or failed", registry=REGISTRY)
INDEXED = Counter("gridx_api_indexed_events_total", "Chain events applied by the indexer", ["name"], registry=REGISTRY)
INDEX_REJECTED = Counter(
    "gridx_api_index_rejected_total",
    "Chain events the indexer could not apply (kept in chain_events)",
    ["name"],
    registry=REGISTRY,
)
SETTLE_SECONDS = Histogram("gridx_api_settle_seconds", "match_order send to confirmation", registry=REGISTRY)
HTTP_REQUESTS = Counter(
    "gridx_api_http_requests_total",
    "HTTP requests, by method, route and status",
    ["method", "path", "status_code"],
    registry=REGISTRY,
)
HTTP_SECONDS = Histogram(
    "gridx_api_http_request_duration_seconds",
    "HTTP request time, by method and route",
    ["method", "path"],
    registry=REGISTRY,
)


def http_metrics(app: ASGIApp) -> ASGIApp:
    """Litestar middleware counting requests into :data:`REGISTRY` (Litestar's own Prometheus
    middleware registers in the process-global registry). The route's template is the label,
    never the raw path: a client must not be able to mint label values."""

    async def middleware(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await app(scope, receive, send)
            return
        method = cast("HTTPScope", scope)["method"]
        status = 500  # no response started: the handler raised past the exception handlers

        async def send_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        started = time.perf_counter()
        try:
            await app(scope, receive, send_status)
        finally:
            path = str(scope.get("path_template") or "unmatched")
            HTTP_REQUESTS.labels(method, path, str(status)).inc()
            HTTP_SECONDS.labels(method, path).observe(time.perf_counter() - started)

    return middleware

"""``create_app(settings)``: the application, read top to bottom like a table of contents."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

from litestar import Litestar, get
from litestar.datastructures import State
from litestar.di import Provide
from litestar.middleware.rate_limit import RateLimitConfig
from litestar.openapi import OpenAPIConfig
from litestar.openapi.plugins import SwaggerRenderPlugin
from pydantic import BaseModel

from ._config import ApiSettings
from ._deps import provide_services, provide_wallet
from ._errors import exception_handlers
from ._metrics import REGISTRY, http_metrics
from ._ratelimit import CountingRateLimit
from ._state import Services

__all__ = ["create_app"]


class Health(BaseModel):
    status: str
    database: bool
    chain: bool


@get("/health", operation_id="health", tags=["ops"])
async def health(services: Services) -> Health:
    """Liveness and the reachability of PostgreSQL and the chain node."""
    from gridx.errors import ChainError

    db = chain = True
    try:
        async with services.pool.connection(timeout=2) as conn:
            await conn.execute("SELECT 1")
    except Exception:
        db = False
    try:
        from gridx.chain import rpc_call

        await rpc_call(services.chain.get_slot())
    except ChainError:
        chain = False
    return Health(status="ok" if db and chain else "degraded", database=db, chain=chain)


async def _start(settings: ApiSettings) -> Services:
    from psycopg_pool import AsyncConnectionPool
    from solana.rpc.async_api import AsyncClient

    from ._state import load_market, load_registry_authority, token_key
    from .feed import FeedHub

    chain = AsyncClient(settings.rpc_url, timeout=30)
    pool = AsyncConnectionPool(
        settings.dsn,
        min_size=1,
        max_size=settings.pool_max,
        open=False,
        kwargs={"autocommit": True, "application_name": "gridx-api", "options": "-c TimeZone=UTC"},
    )
    await pool.open(wait=True, timeout=30)
    dep, market, authority = await load_market(chain, pool, settings)
    services = Services(settings, pool, chain, dep, market, authority, token_key(settings), FeedHub(settings.dsn))
    services.registry_authority = load_registry_authority(settings, dep)
    return services


def _background(services: Services, stop: asyncio.Event, feed: bool = True) -> list[asyncio.Task[None]]:
    """The feed listener (an API process) and, where configured, the engine: the matcher, and
    the settler and indexer once this process holds the matcher's lock, so a second instance
    (another API process or `gridx api engine`) stands by instead of settling alongside."""
    from ._txflow import run_tx_expiry
    from .indexer import Indexer, PollingSource
    from .matcher import Matcher, Settler

    s = services.settings
    tasks = [asyncio.create_task(services.feed.run(stop))] if feed else []
    indexer = None
    if s.indexer:
        indexer = Indexer(
            services.pool, PollingSource(services.chain), ("registry", "energy_token", "trading"), services.chain
        )

    async def index() -> None:
        assert indexer is not None
        if s.index_ws_url:
            await indexer.follow(s.rpc_url, s.index_ws_url)
        else:
            await indexer.run(s.index_poll_s, stop)

    if s.matcher:
        matcher = Matcher(s.dsn, services.pool, services.market)
        settler = Settler(
            services.pool,
            services.chain,
            services.market,
            services.authority,
            s.settle_lease_s,
            s.failpoint,
            s.rpc_url,
            s.settle_per_tx,
        )

        async def when_writer() -> None:
            await _first(matcher.locked, stop)
            if stop.is_set():
                return
            await asyncio.gather(settler.run(stop, matcher.traded), *([index()] if indexer else []))

        tasks.append(asyncio.create_task(matcher.run(stop, services.matcher_wake)))
        tasks.append(asyncio.create_task(when_writer()))
        # submitted transactions that never landed: with the matcher, one process per database
        tasks.append(asyncio.create_task(run_tx_expiry(services, stop)))
    elif indexer is not None:
        tasks.append(asyncio.create_task(index()))
    return tasks


async def _first(*events: asyncio.Event) -> None:
    waits = [asyncio.ensure_future(e.wait()) for e in events]
    _done, pending = await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
    for t in pending:
        t.cancel()


def create_app(settings: ApiSettings | None = None) -> Litestar:
    """The trading API from ``settings`` (default: ``GRIDX_API_*`` from the environment)."""
    from .accounts import AccountController
    from .auth.controller import AuthController
    from .dashboard import DashboardController
    from .energy import EnergyController
    from .feed import market_feed
    from .markets import MarketController
    from .meters import MeterController
    from .orders.controller import OrderController, TransactionController
    from .payments.controller import ThbPaymentController
    from .payments.links_controller import EvmLinkController

    cfg = settings or ApiSettings()

    @contextlib.asynccontextmanager
    async def lifespan(app: Litestar) -> AsyncIterator[None]:
        from gridx.metrics import serve_metrics

        services = await _start(cfg)
        app.state.services = services
        # /metrics on its own listener, off the public API port (gridx.metrics convention)
        metrics = None if cfg.metrics_port is None else serve_metrics(REGISTRY, cfg.metrics_host, cfg.metrics_port)
        stop = asyncio.Event()
        tasks = _background(services, stop)
        try:
            yield
        finally:
            if metrics is not None:
                metrics.close()
            stop.set()
            for t in tasks:
                t.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            await services.pool.close()
            await services.chain.close()
            await services.reads.rpc.close()

    # THB payments only where an EVM chain is configured: the schema lists what this deployment offers
    payments = [ThbPaymentController, EvmLinkController] if cfg.evm_rpc_url and cfg.evm_thbc and cfg.evm_htlc else []
    dashboard = [DashboardController] if cfg.dashboard else []
    return Litestar(
        route_handlers=[
            health,
            AuthController,
            AccountController,
            EnergyController,
            OrderController,
            TransactionController,
            MarketController,
            MeterController,
            market_feed,
            *payments,
            *dashboard,
        ],
        dependencies={"services": Provide(provide_services), "wallet": Provide(provide_wallet)},
        exception_handlers=exception_handlers(),
        middleware=[
            RateLimitConfig(
                rate_limit=("minute", cfg.rate_limit_per_minute),
                exclude=["/health"],
                middleware_class=CountingRateLimit,
            ).middleware,
            http_metrics,
        ],
        openapi_config=OpenAPIConfig(
            title="GridTokenX trading API",
            version="0.1.0",
            path="/schema",
            render_plugins=[SwaggerRenderPlugin()],
        ),
        request_max_body_size=cfg.max_body_bytes,
        lifespan=[lifespan],
        state=State({"settings": cfg}),
    )

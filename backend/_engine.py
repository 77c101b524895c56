"""``gridx api engine``: the matcher, settler and indexer without HTTP, for an API served by
several processes (``gridx api run --workers N`` starts one beside its workers). The workers
wake it through PostgreSQL NOTIFY when an order or cancel is confirmed, and its feed events
reach every worker the same way (the matcher's NOTIFY), so any worker serves any client.
A second engine waits on the matcher's advisory lock and takes over when the first is gone."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal

import structlog

from ._app import _background, _start
from ._config import ApiSettings
from ._state import Services

__all__ = ["serve_engine"]

log = structlog.get_logger("backend.engine")


async def _listen_wake(services: Services, stop: asyncio.Event) -> None:
    """A confirmed order or cancel in any API process wakes the matcher at once (it also looks
    every 0.2 s, so a lost notification delays, never loses, a match)."""
    from gridx.db import aconnect

    from .matcher import WAKE_CHANNEL

    while not stop.is_set():
        try:
            async with await aconnect(services.settings.dsn, autocommit=True, app="gridx-engine-wake") as conn:
                await conn.execute(f"LISTEN {WAKE_CHANNEL}")
                async for _n in conn.notifies():
                    services.matcher_wake.set()
        except Exception as exc:  # a database restart: listen again
            log.warning("engine_wake_listen_failed", error=str(exc))
            await asyncio.sleep(0.5)


async def _orphaned(parent: int, stop: asyncio.Event) -> None:
    """Started by ``gridx api run --workers``: stop when that supervisor is gone, even killed."""
    while not stop.is_set():
        if os.getppid() != parent:
            log.warning("engine_parent_gone", parent=parent)
            stop.set()
        await asyncio.sleep(1.0)


async def serve_engine(cfg: ApiSettings, parent: int | None = None) -> None:
    """Run until SIGTERM/SIGINT (or until ``parent`` exits)."""
    from gridx.metrics import serve_metrics

    from ._metrics import REGISTRY

    services = await _start(cfg)
    metrics = None if cfg.metrics_port is None else serve_metrics(REGISTRY, cfg.metrics_host, cfg.metrics_port)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    tasks = _background(services, stop, feed=False)
    tasks.append(asyncio.create_task(_listen_wake(services, stop)))
    if parent is not None:
        tasks.append(asyncio.create_task(_orphaned(parent, stop)))
    log.info("engine_started", market=services.market.id)
    try:
        await stop.wait()
        log.info("engine_stopping")
    finally:
        if metrics is not None:
            metrics.close()
        for t in tasks:
            t.cancel()
        with contextlib.suppress(Exception):
            await asyncio.gather(*tasks, return_exceptions=True)
        log.info("engine_tasks_done")
        await services.pool.close()
        await services.chain.close()
        log.info("engine_stopped")

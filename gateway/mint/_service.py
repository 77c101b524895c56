"""The mint process: worker + registry mirror (+ metrics) on one event loop."""

from __future__ import annotations

import asyncio
import contextlib

from gateway.mint._config import MintSettings
from gateway.mint._limits import RateLimiter
from gateway.mint._metrics import MintMetrics
from gateway.mint._worker import MintWorker
from gridx.errors import ServiceError
from gridx.metrics import serve_metrics
from gridx.registry import mirror_loop

__all__ = ["run_mint_service"]


def _workers(settings: MintSettings) -> list[MintWorker]:
    """``settings.workers`` loops sharing one rate limiter (the limits hold for the process)."""
    cfg = settings.worker()
    limiter, solo, metrics = RateLimiter(cfg.limits), set[int](), MintMetrics()
    return [MintWorker(cfg, limiter, solo, metrics) for _ in range(settings.workers)]


async def run_mint_service(settings: MintSettings, stop: asyncio.Event, worker: MintWorker | None = None) -> None:
    from solana.rpc.async_api import AsyncClient

    workers = [worker] if worker is not None else _workers(settings)
    server = None
    if settings.metrics_port is not None:
        # the workers of one process share one registry (see _workers)
        server = serve_metrics(workers[0].metrics.registry, settings.metrics_host, settings.metrics_port)
        workers[0].metrics_port = server.port
    client = AsyncClient(settings.rpc_url, timeout=30)
    tasks = [asyncio.create_task(w.run(), name=f"mint-worker-{i}") for i, w in enumerate(workers)]
    tasks.append(
        asyncio.create_task(mirror_loop(client, settings.dsn, settings.mirror_interval_s, stop), name="mirror")
    )
    stopping = asyncio.create_task(stop.wait(), name="stop")
    try:
        done, _ = await asyncio.wait([stopping, *tasks], return_when=asyncio.FIRST_COMPLETED)
        dead = [t for t in tasks if t in done]
        if dead and not stop.is_set():
            # a task must never end on its own: the process exits non-zero for its supervisor
            exc = dead[0].exception() if not dead[0].cancelled() else None
            raise ServiceError(f"mint service task {dead[0].get_name()} ended: {exc!r}") from exc
    finally:
        stopping.cancel()
        for w in workers:
            w.stop()
        await asyncio.gather(*tasks, return_exceptions=True)
        with contextlib.suppress(Exception):
            await client.close()
        if server is not None:
            server.close()

"""The mint process: worker + registry mirror (+ metrics) on one event loop."""

from __future__ import annotations

import asyncio
import contextlib

from gateway.mint._config import MintSettings
from gateway.mint._mirror import mirror_loop
from gateway.mint._worker import MintWorker

__all__ = ["run_mint_service"]


async def run_mint_service(settings: MintSettings, stop: asyncio.Event, worker: MintWorker | None = None) -> None:
    from prometheus_client import start_http_server
    from solana.rpc.async_api import AsyncClient

    if settings.metrics_port is not None:
        start_http_server(settings.metrics_port, addr="127.0.0.1")
    worker = worker or MintWorker(settings.worker())
    client = AsyncClient(settings.rpc_url, timeout=30)
    tasks = [
        asyncio.create_task(worker.run(), name="mint-worker"),
        asyncio.create_task(mirror_loop(client, settings.dsn, settings.mirror_interval_s, stop), name="mirror"),
    ]
    try:
        await stop.wait()
    finally:
        worker.stop()
        await asyncio.gather(*tasks, return_exceptions=True)
        with contextlib.suppress(Exception):
            await client.close()

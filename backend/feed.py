"""The live book feed: ``/ws/markets/{id}`` sends a snapshot, then every engine event of the
market (each with ``seq`` exactly one above the previous), and ``resync`` when a slow client
fell behind. Events arrive from the matcher by PostgreSQL NOTIFY (sent with the commit that
made them), so any API instance can serve the feed of a matcher running elsewhere."""

from __future__ import annotations

import asyncio
import contextlib
import json
from typing import Any

import structlog
from litestar import WebSocket, websocket

from ._errors import ApiError
from ._state import Services
from .markets import book_snapshot

__all__ = ["FeedHub", "market_feed"]

log = structlog.get_logger("backend.feed")
_QUEUE = 10_000


class FeedHub:
    def __init__(self, dsn: str) -> None:
        self.dsn = dsn
        self.subs: dict[str, set[asyncio.Queue[dict[str, Any] | None]]] = {}
        self.listening = asyncio.Event()
        # per market, how many feed messages arrived (and how often LISTEN restarted): the REST
        # book is cached against it, since the book only changes through the matcher's events
        self._versions: dict[str, int] = {}
        self._epoch = 0

    def version(self, market: str) -> tuple[int, int] | None:
        """Changes when the market's book may have; None while not listening (no caching)."""
        return (self._epoch, self._versions.get(market, 0)) if self.listening.is_set() else None

    def subscribe(self, market: str) -> asyncio.Queue[dict[str, Any] | None]:
        q: asyncio.Queue[dict[str, Any] | None] = asyncio.Queue(_QUEUE)
        self.subs.setdefault(market, set()).add(q)
        return q

    def unsubscribe(self, market: str, q: asyncio.Queue[dict[str, Any] | None]) -> None:
        self.subs.get(market, set()).discard(q)

    def publish(self, msg: dict[str, Any]) -> None:
        market = msg.get("market", "")
        self._versions[market] = self._versions.get(market, 0) + 1
        for q in list(self.subs.get(msg.get("market", ""), ())):
            try:
                q.put_nowait(msg)
            except asyncio.QueueFull:
                with contextlib.suppress(asyncio.QueueEmpty):
                    while True:
                        q.get_nowait()
                q.put_nowait(None)  # None: this subscriber lost events and must resync

    async def run(self, stop: asyncio.Event) -> None:
        from backend.matcher import FEED_CHANNEL
        from gridx.db import aconnect

        while not stop.is_set():
            try:
                async with await aconnect(self.dsn, autocommit=True, app="gridx-feed") as conn:
                    await conn.execute(f"LISTEN {FEED_CHANNEL}")
                    self._epoch += 1  # what was cached before may have missed events
                    self.listening.set()
                    gen = conn.notifies()
                    async for n in gen:
                        self.publish(json.loads(n.payload))
                        if stop.is_set():
                            break
            except Exception as exc:  # database restarts: listen again; subscribers resync
                self.listening.clear()
                log.warning("feed_listen_failed", error=str(exc))
                for qs in self.subs.values():
                    for q in qs:
                        q.put_nowait(None)
                await asyncio.sleep(0.5)


async def _snapshot(services: Services, market: str) -> dict[str, Any]:
    async with services.pool.connection() as conn:
        book = await book_snapshot(conn, market, None)
    return {"type": "snapshot", **book.model_dump()}


@websocket("/ws/markets/{market_id:str}", operation_id="marketFeed")
async def market_feed(socket: WebSocket[Any, Any, Any], market_id: str) -> None:
    services: Services = socket.app.state.services
    wallet = None
    await socket.accept()
    try:
        market = services.market_by_id(market_id).id
        token = socket.query_params.get("token")
        if token:
            from ._deps import bearer_wallet

            wallet = bearer_wallet(services, f"Bearer {token}")
    except ApiError as exc:
        await socket.send_json({"type": "error", "code": exc.problem.value, "detail": exc.detail})
        await socket.close(code=4400)
        return
    q = services.feed.subscribe(market)
    try:
        snap = await _snapshot(services, market)
        seq = snap["seq"]
        await socket.send_json(snap)
        while True:
            msg = await q.get()
            if msg is None:
                snap = await _snapshot(services, market)
                seq = snap["seq"]
                await socket.send_json({"type": "resync"})
                await socket.send_json(snap)
                continue
            for ev in msg["events"]:
                if ev["seq"] <= seq:
                    continue  # already in the snapshot
                seq = ev["seq"]
                await socket.send_json({"type": "event", "ts": msg.get("ts"), **ev})
                if wallet is not None and wallet in (ev.get("owner"), ev.get("seller"), ev.get("buyer")):
                    await socket.send_json({"type": "mine", **ev})
    except Exception as exc:  # the client went away (or the socket broke): nothing to answer
        log.debug("feed_client_gone", error=str(exc))
    finally:
        services.feed.unsubscribe(market, q)

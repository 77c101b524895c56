"""The live feed: a client that rebuilds the book from the WebSocket snapshot and deltas after
10,000 random operations has exactly the REST snapshot, and every event's seq is +1.

The operations go straight to the matcher (orders marked confirmed in the database, as the
chain's OrderCreated would) so the test exercises the engine → NOTIFY → feed → client path at
volume without 10,000 chain transactions; the API process serves the feed and the REST book."""

from __future__ import annotations

import asyncio
import json
import random
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import websockets
from psycopg_pool import AsyncConnectionPool
from solders.keypair import Keypair

import gridx.chain as c
from backend._state import MarketInfo
from backend.matcher import Matcher
from tests.backend.api.conftest import Stack, api_stack

pytestmark = pytest.mark.slow
OPS = int(__import__("os").environ.get("GRIDX_TEST_FEED_OPS", "10000"))
PER_ROUND = 50


@pytest.fixture(scope="module")
def feed_stack(pg_server: object, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    node = c.LocalNode.start()
    try:
        run: Path = tmp_path_factory.mktemp("feed")
        with api_stack(pg_server, node, run, GRIDX_API_MATCHER="false", GRIDX_API_INDEXER="false") as s:
            yield s
    finally:
        node.stop()


def _apply(book: dict[str, dict[int, int]], ev: dict[str, Any]) -> None:
    if ev["event"] == "LevelChanged":
        side = book["bids" if ev["side"] == "buy" else "asks"]
        if ev["amount"] == 0:
            side.pop(ev["price"], None)
        else:
            side[ev["price"]] = ev["amount"]


async def _random_ops(s: Stack, market: MarketInfo, rng: random.Random) -> None:
    owners = [str(Keypair().pubkey()) for _ in range(6)]
    async with AsyncConnectionPool(s.dsn, min_size=1, max_size=2, kwargs={"autocommit": True}) as pool:
        matcher = Matcher(s.dsn, pool, market)
        live: list[int] = []
        oid = 10**9
        for _ in range(0, OPS, PER_ROUND):
            cancels, rows = [], []
            for _ in range(PER_ROUND):
                if live and rng.random() < 0.3:
                    cancels.append(live.pop(rng.randrange(len(live))))
                    continue
                oid += 1
                side = rng.choice(("sell", "buy"))
                price = rng.randrange(90, 111) * 100_000
                amount = rng.randrange(1, 50) * 100_000
                rows.append((oid, market.id, rng.choice(owners), side, price, amount, amount))
                live.append(oid)
            async with pool.connection() as conn, conn.transaction(), conn.cursor() as cur:
                await cur.execute(
                    "UPDATE orders SET status = 'cancelling' WHERE id = ANY(%s) AND status = 'open'", (cancels,)
                )
                await cur.executemany(
                    """INSERT INTO orders (id, market, owner, side, price, amount, remaining, escrow, time_in_force,
                                           stp_mode, status, book_seq)
                       VALUES (%s, %s, %s, %s, %s, %s, %s, 0, 'gtc', 'market', 'open', nextval('order_book_seq'))""",
                    rows,
                )
            await matcher.round()


async def _client(url: str, done: asyncio.Event) -> tuple[dict[str, dict[int, int]], int, int]:
    book: dict[str, dict[int, int]] = {"bids": {}, "asks": {}}
    seq, events = 0, 0
    async with websockets.connect(url, max_size=2**24) as ws:
        while True:
            try:
                raw = await asyncio.wait_for(ws.recv(), 2.0 if done.is_set() else 60.0)
            except TimeoutError:
                return book, seq, events
            msg = json.loads(raw)
            if msg["type"] == "snapshot":
                book = {k: {lv["price"]: lv["amount"] for lv in msg[k]} for k in ("bids", "asks")}
                seq = msg["seq"]
            elif msg["type"] == "event":
                assert msg["seq"] == seq + 1, (msg, seq)
                seq = msg["seq"]
                events += 1
                _apply(book, msg)


async def test_feed_rebuilds_the_rest_book_after_10k_operations(feed_stack: Stack) -> None:
    s = feed_stack
    async with httpx.AsyncClient(base_url=s.url) as http:
        market_id = (await http.get("/markets")).json()[0]["id"]
    dep = c.load_deployment(s.keys)
    market = MarketInfo(market_id, dep.market_keys(), 0, 10_000, 1_000)
    done = asyncio.Event()
    client = asyncio.create_task(_client(s.url.replace("http", "ws") + f"/ws/markets/{market_id}", done))
    await asyncio.sleep(0)  # the client subscribes before the first operation or resyncs from a later snapshot
    await _random_ops(s, market, random.Random(11))
    done.set()
    book, seq, events = await client
    async with httpx.AsyncClient(base_url=s.url) as http:
        rest = (await http.get(f"/markets/{market_id}/book", params={"depth": 1000})).json()
    assert rest["seq"] == seq and events > OPS // 2
    assert book == {k: {lv["price"]: lv["amount"] for lv in rest[k]} for k in ("bids", "asks")}
    assert s.sql("SELECT count(*) FROM trades")[0][0] > 0

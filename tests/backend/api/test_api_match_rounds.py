"""A full book enters the engine in rounds of at most ``MATCH_BATCH`` new orders, back to back
(``Matcher.more``), so the settler gets the first trades while later orders are matched; the
trades keep the engine's order (each buy fills the sell placed just before it)."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from psycopg_pool import AsyncConnectionPool
from solders.keypair import Keypair

import gridx.chain as c
from backend._state import MarketInfo
from backend.matcher import MATCH_BATCH, Matcher
from tests.backend.api.conftest import Stack, api_stack

pytestmark = pytest.mark.slow
PRICE, AMOUNT = 1_000_000, 100_000


@pytest.fixture
def quiet_stack(pg_server: object, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """No matcher of its own: the test drives one round by round."""
    node = c.LocalNode.start()
    try:
        with api_stack(pg_server, node, tmp_path_factory.mktemp("rounds"), GRIDX_API_MATCHER="false") as s:
            yield s
    finally:
        node.stop()


async def test_a_full_book_matches_in_bounded_rounds_in_engine_order(quiet_stack: Stack) -> None:
    s = quiet_stack
    async with httpx.AsyncClient(base_url=s.url) as http:
        market_id = (await http.get("/markets")).json()[0]["id"]
    market = MarketInfo(market_id, c.load_deployment(s.keys).market_keys(), 0, 10_000, 1_000)
    seller, buyer = str(Keypair().pubkey()), str(Keypair().pubkey())
    pairs = MATCH_BATCH + 10  # more orders than two rounds take
    rows = []
    for i in range(pairs):
        rows.append((10**9 + 2 * i, market_id, seller, "sell"))
        rows.append((10**9 + 2 * i + 1, market_id, buyer, "buy"))
    async with AsyncConnectionPool(s.dsn, min_size=1, max_size=2, kwargs={"autocommit": True}) as pool:
        async with pool.connection() as conn, conn.cursor() as cur:
            await cur.executemany(
                f"""INSERT INTO orders (id, market, owner, side, price, amount, remaining, escrow, time_in_force,
                                       stp_mode, status, book_seq)
                    VALUES (%s, %s, %s, %s, {PRICE}, {AMOUNT}, {AMOUNT}, 0, 'gtc', 'market', 'open',
                            nextval('order_book_seq'))""",
                rows,
            )
        matcher = Matcher(s.dsn, pool, market)
        await matcher.round()
        taken = "SELECT count(*) FROM orders WHERE market = %s AND (in_engine OR status = 'filled')"
        assert s.sql(taken, market_id) == [(MATCH_BATCH,)] and matcher.more
        rounds = 1
        while matcher.more:
            await matcher.round()
            rounds += 1
        assert rounds == -(-2 * pairs // MATCH_BATCH)
    trades = s.sql("SELECT sell_order, buy_order, amount FROM trades WHERE market = %s ORDER BY id", market_id)
    assert trades == [(10**9 + 2 * i, 10**9 + 2 * i + 1, AMOUNT) for i in range(pairs)]
    assert s.sql("SELECT count(*) FROM orders WHERE market = %s AND status <> 'filled'", market_id) == [(0,)]

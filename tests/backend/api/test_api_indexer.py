"""The indexer: what happens on chain outside the API reaches the database from the slot
cursor, once; the API answers "pending" for what the chain has and the database not yet."""

from __future__ import annotations

import gridx.chain as c
from tests.backend.api.conftest import Stack
from tests.helpers.gateway import wait_until


def test_registration_outside_the_api_is_indexed_once(stack: Stack) -> None:
    cl = stack.client()
    cl.login()

    async def register(client: object) -> None:
        await c.send_and_confirm(client, [c.build_register_user_ix(cl.keypair.pubkey(), c.CONSUMER)], [cl.keypair])  # type: ignore[arg-type]

    c.run_on_chain(stack.rpc_url, register)
    assert cl.me()["registration"] in ("pending", "registered")
    wait_until(lambda: cl.me()["registration"] == "registered", 20, "indexer wrote the user")
    assert cl.me()["user_type"] == "consumer"
    rows = stack.sql(
        "SELECT count(*) FROM chain_events WHERE name = 'UserRegistered' AND data->>'wallet' = %s", cl.wallet
    )
    assert rows == [(1,)]
    cursors = dict(stack.sql("SELECT name, slot FROM chain_cursor"))  # type: ignore[arg-type]
    assert set(cursors) == {"registry", "energy_token", "trading"} and all(v > 0 for v in cursors.values())
    assert cl.request("GET", "/me/meters") == [] and cl.request("GET", "/me/mints") == []


async def test_live_path_follows_logs_from_the_cursor(stack: Stack, chain_node: c.LocalNode) -> None:
    """``Indexer.follow`` (logsSubscribe + catch-up) applies a registration and moves its cursor."""
    import asyncio

    from psycopg_pool import AsyncConnectionPool
    from solders.keypair import Keypair

    from backend.indexer import Indexer, PollingSource

    kp = Keypair()
    async with AsyncConnectionPool(stack.dsn, min_size=1, max_size=2, kwargs={"autocommit": True}) as pool:
        async with chain_client(stack) as cl:
            indexer = Indexer(pool, PollingSource(cl))
            task = asyncio.create_task(indexer.follow(stack.rpc_url, chain_node.ws_url))
            await c.airdrop(cl, kp.pubkey(), 10**9)
            sig = await c.send_and_confirm(cl, [c.build_register_user_ix(kp.pubkey(), c.PROSUMER)], [kp])
            slot = (await cl.get_signature_statuses([sig])).value[0].slot
            try:
                async with asyncio.timeout(20):
                    while True:
                        async with pool.connection() as conn:
                            row = await (
                                await conn.execute("SELECT slot FROM chain_cursor WHERE name = 'live'")
                            ).fetchone()
                        if row is not None and row[0] >= slot:
                            break
                        await asyncio.sleep(0.05)
            finally:
                task.cancel()
    assert stack.sql("SELECT user_type FROM users WHERE wallet = %s", str(kp.pubkey())) == [("prosumer",)]


def chain_client(stack: Stack) -> object:
    from solana.rpc.async_api import AsyncClient

    return AsyncClient(stack.rpc_url, timeout=30)

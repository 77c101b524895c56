"""The indexer: what happens on chain outside the API reaches the database from the slot
cursor, once; the API answers "pending" for what the chain has and the database not yet."""

from __future__ import annotations

import secrets

import gridx.chain as c
from tests.backend.api.conftest import UNIT, Stack, mint_grxe
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


def _direct(stack: Stack, kp: object, ix: object) -> None:
    """Sent to the chain with the owner's own wallet, not through the API."""
    c.run_on_chain(stack.rpc_url, lambda cl: c.send_and_confirm(cl, [ix], [kp]))  # type: ignore[list-item]


def test_order_created_outside_the_api_is_booked_matched_and_settled_once(stack: Stack) -> None:
    a, b = stack.user("prosumer"), stack.user("consumer")
    mint_grxe(stack, a.keypair, [10 * UNIT, 5 * UNIT])
    b.faucet(45 * UNIT)
    keys = c.load_deployment(stack.keys).market_keys()
    # an id in the API's own range is refused by name; its escrow is drift until the owner cancels
    low = 7
    _direct(stack, a.keypair, c.build_create_sell_order_ix(a.keypair.pubkey(), keys, low, 1 * UNIT, 3 * UNIT))
    refused = "SELECT apply_error FROM chain_events WHERE name = 'OrderCreated' AND (data->>'order_id')::bigint = %s"
    wait_until(lambda: stack.sql(refused, low) != [], 20, "indexer saw the refused order")
    assert str(stack.sql(refused, low)[0][0]).startswith("ExternalOrderRefused: order_id_in_api_range")
    trading = stack.reconcile()["areas"]["trading"]
    assert trading["escrow"]["energy"][0] == trading["escrow"]["energy"][1] + 1 * UNIT  # in the vault, no order row
    assert trading["owner_grxe"] == {a.wallet: [14 * UNIT, 15 * UNIT]}  # and missing from A's wallet
    _direct(stack, a.keypair, c.build_cancel_order_ix(a.keypair.pubkey(), keys, low, is_sell=True))
    # the booked one: A sells 15 GRXE at 3 GRX straight on chain, B buys through the API
    oid = (1 << 40) + secrets.randbelow(1 << 40)
    _direct(stack, a.keypair, c.build_create_sell_order_ix(a.keypair.pubkey(), keys, oid, 15 * UNIT, 3 * UNIT))
    wait_until(lambda: stack.sql("SELECT status FROM orders WHERE id = %s", oid) == [("open",)], 20, "booked")
    wait_until(lambda: any(lvl["price"] == 3 * UNIT for lvl in a.book()["asks"]), 20, "in the matcher's book")
    bought = b.buy(15 * UNIT, 3 * UNIT)
    trades = "SELECT status, amount, payment FROM trades WHERE sell_order = %s"
    wait_until(lambda: stack.sql(trades, oid) == [("confirmed", 15 * UNIT, 45 * UNIT)], 30, "settled")
    assert stack.sql("SELECT status, remaining FROM orders WHERE id = %s", oid) == [("filled", 0)]
    assert b.get_order(bought["order_id"])["status"] == "filled"
    assert (stack.chain_balance(a.wallet, "grxe"), stack.chain_balance(a.wallet, "grx")) == (0, 45 * UNIT)
    assert (stack.chain_balance(b.wallet, "grxe"), stack.chain_balance(b.wallet, "grx")) == (15 * UNIT, 0)
    executed = "SELECT count(*) FROM chain_events WHERE name = 'TradeExecuted' AND data->>'seller' = %s"
    wait_until(lambda: stack.sql(executed, a.wallet) == [(1,)], 20, "the indexer saw the trade")
    assert stack.reconcile()["drift"] == 0


def test_booked_order_cancelled_on_chain_directly_leaves_the_engine(stack: Stack) -> None:
    """Cancelled with the owner's wallet, not through the API: the indexer marks it cancelled
    and the matcher drops it from the engine, so nothing can match the closed order."""
    a = stack.user("prosumer")
    mint_grxe(stack, a.keypair, [2 * UNIT])
    keys = c.load_deployment(stack.keys).market_keys()
    oid = (1 << 40) + secrets.randbelow(1 << 40)
    _direct(stack, a.keypair, c.build_create_sell_order_ix(a.keypair.pubkey(), keys, oid, 2 * UNIT, 9 * UNIT))
    in_engine = "SELECT status, in_engine FROM orders WHERE id = %s"
    wait_until(lambda: stack.sql(in_engine, oid) == [("open", True)], 20, "booked into the engine")
    _direct(stack, a.keypair, c.build_cancel_order_ix(a.keypair.pubkey(), keys, oid, is_sell=True))
    wait_until(lambda: stack.sql(in_engine, oid) == [("cancelled", False)], 20, "dropped from the engine")
    assert stack.chain_balance(a.wallet, "grxe") == 2 * UNIT
    assert stack.reconcile()["drift"] == 0

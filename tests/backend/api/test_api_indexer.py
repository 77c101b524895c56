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
    assert set(cursors) == {"registry", "trading"} and all(v > 0 for v in cursors.values())

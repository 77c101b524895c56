"""An event the indexer cannot apply (a program upgrade changed its fields, a bug) is kept
with its error and skipped; it never stalls the events after it (real PostgreSQL)."""

from __future__ import annotations

import uuid
from types import SimpleNamespace

import psycopg
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from solders.keypair import Keypair

from backend.indexer import apply_tx_events
from gridx.chain import Event
from gridx.db import aconnect, migrate


def _registered(wallet: str) -> Event:
    return Event("registry", "UserRegistered", SimpleNamespace(wallet=wallet, user_type=1))


async def test_a_poison_event_is_recorded_and_the_next_applies(pg_dsn: str) -> None:
    migrate(pg_dsn)
    poison = Event("energy_token", "TokensMinted", SimpleNamespace(meter="not-a-key", window_start=0))
    wallet = str(Keypair().pubkey())
    async with await aconnect(pg_dsn, autocommit=True) as conn:
        async with conn.transaction():
            new = await apply_tx_events(conn, "sig-1", 7, [poison, _registered(wallet)])
        # applying the same transaction again (a restart before the cursor moved) changes nothing
        async with conn.transaction():
            again = await apply_tx_events(conn, "sig-1", 7, [poison, _registered(wallet)])
    assert (new, again) == (1, 0)
    with psycopg.connect(pg_dsn) as c:
        assert c.execute("SELECT user_type FROM users WHERE wallet = %s", (wallet,)).fetchall() == [("consumer",)]
        rows = c.execute("SELECT idx, name, apply_error FROM chain_events ORDER BY idx").fetchall()
    assert [(r[0], r[1], r[2] is not None) for r in rows] == [(0, "TokensMinted", True), (1, "UserRegistered", False)]
    assert "KeyError" in rows[0][2]


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    fields=st.dictionaries(
        st.sampled_from(["wallet", "user_type", "owner", "order", "amount", "meter"]),
        st.one_of(st.none(), st.integers(), st.text(max_size=50), st.binary(max_size=40)),
    )
)
@example(fields={"wallet": "a\x00b", "owner": "\ud800"})
async def test_arbitrary_event_fields_end_in_a_verdict(pg_dsn: str, fields: dict[str, object]) -> None:
    migrate(pg_dsn)
    names = ["UserRegistered", "OrderCreated", "OrderCancelled", "TradeExecuted", "TokensMinted", "MeterRegistered"]
    async with await aconnect(pg_dsn, autocommit=True) as conn:
        for i, name in enumerate(names):
            ev = Event("trading", name, SimpleNamespace(**fields))
            async with conn.transaction():
                await apply_tx_events(conn, f"fuzz-{uuid.uuid4().hex}-{i}", 1, [ev])


async def test_an_unreachable_chain_is_retried_not_recorded_as_a_refusal(pg_dsn: str) -> None:
    """Booking an order created outside the API reads its account on chain; with the node
    down that is an outage, not a verdict on the event: the transaction rolls back whole
    (the cursor stays, the indexer retries), nothing lands in apply_error."""
    import pytest
    from solana.rpc.async_api import AsyncClient

    from gridx.chain import order_pda
    from gridx.errors import ChainError
    from gridx.services import free_port

    migrate(pg_dsn)
    owner = Keypair().pubkey()
    oid = (1 << 40) + 5
    created = SimpleNamespace(
        order=order_pda(owner, oid), owner=owner, order_id=oid, side=0, price=3_000_000, amount=1_000_000, escrow=1
    )
    async with (
        AsyncClient(f"http://127.0.0.1:{free_port()}", timeout=5) as dead,
        await aconnect(pg_dsn, autocommit=True) as conn,
    ):
        with pytest.raises(ChainError):
            async with conn.transaction():
                await apply_tx_events(conn, "sig-ext", 9, [Event("trading", "OrderCreated", created)], dead)
    with psycopg.connect(pg_dsn) as c:
        assert c.execute("SELECT count(*) FROM chain_events WHERE signature = 'sig-ext'").fetchone() == (0,)
        assert c.execute("SELECT count(*) FROM orders WHERE id = %s", (oid,)).fetchone() == (0,)

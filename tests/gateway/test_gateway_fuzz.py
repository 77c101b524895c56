"""Hypothesis drives the real intake (``take_in``) and the real flush into PostgreSQL with
arbitrary bytes, arbitrary JSON shapes and mutated valid batches: every message ends in
readings to judge or in a named verdict, and the database takes every verdict."""

from __future__ import annotations

import asyncio
import json
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import psycopg
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gateway._checks import Policy, RegistryEntry
from gateway._intake import Msg, take_in
from gateway._store import flush
from gridx.errors import Reason
from gridx.wire import encode_batch, readings_topic
from tests.helpers.gateway import INTERVAL, Meter, setup_db

METER = Meter("fz", "edge-a")
ENTRY = RegistryEntry(METER.meter_id, METER.pubkey_hex, METER.owner, "edge-a", 5000, True, INTERVAL, 0)
GOOD = [METER.next() for _ in range(3)]
VALID = encode_batch("edge-a", GOOD, 1)

text = st.text(st.characters(codec=None, exclude_categories=()), max_size=40)  # NUL, lone surrogates
ints = st.one_of(st.integers(-(2**70), 2**70), st.sampled_from([0, 1, -1, 2**63 - 1, 2**63, -(2**63), 2**64]))
scalars = st.one_of(st.none(), st.booleans(), ints, st.floats(allow_nan=True), text)
json_values = st.recursive(
    scalars, lambda kids: st.one_of(st.lists(kids, max_size=5), st.dictionaries(text, kids, max_size=5)), max_leaves=30
)
good_reading = json.loads(VALID)["readings"][0]
field_swaps = st.fixed_dictionaries({}).flatmap(lambda _: st.tuples(st.sampled_from(sorted(good_reading)), json_values))


def nested(depth: int) -> bytes:
    return b'{"v":1,"edge_id":"edge-a","sent_at_ms":1,"readings":[' + b"[" * depth + b"]" * depth + b"]}"


def _dumps(doc: Any, ascii_only: bool) -> bytes:
    return json.dumps(doc, ensure_ascii=ascii_only).encode("utf-8", "surrogatepass")


payloads = st.one_of(
    st.binary(max_size=300),
    st.builds(lambda d, a: _dumps(d, a), json_values, st.booleans()),
    st.builds(
        lambda items, a: _dumps({"v": 1, "edge_id": "edge-a", "sent_at_ms": 1, "readings": items}, a),
        st.lists(json_values, max_size=4),
        st.booleans(),
    ),
    st.builds(
        lambda swap, a: _dumps(
            {"v": 1, "edge_id": "edge-a", "sent_at_ms": 1, "readings": [{**good_reading, swap[0]: swap[1]}]}, a
        ),
        field_swaps,
        st.booleans(),
    ),
    st.builds(
        lambda i, b: VALID[:i] + bytes([b]) + VALID[i + 1 :], st.integers(0, len(VALID) - 1), st.integers(0, 255)
    ),
    st.builds(nested, st.integers(1, 5000)),
    st.sampled_from([VALID, b"", b"null", b"[]", b"{}", b'{"v":1e999}', b'{"v":' + b"9" * 5000 + b"}"]),
)
topics = st.one_of(st.just(readings_topic("edge-a")), st.just(readings_topic("edge-b")), text)


async def _lookup(ids: set[str]) -> dict[str, RegistryEntry | None]:
    return {i: ENTRY if i == METER.meter_id else None for i in ids}


def test_fuzz_the_real_intake_and_flush(pg_dsn):
    setup_db(pg_dsn)
    meter_row = (METER.meter_id, METER.pubkey_hex, METER.owner, "edge-a")
    with psycopg.connect(pg_dsn) as c:
        c.execute("INSERT INTO users (wallet, user_type) VALUES (%s, 'prosumer')", (METER.owner,))
        c.execute(
            "INSERT INTO meters (meter_id, pubkey, owner_wallet, edge_id, rated_power_w, interval_s)"
            " VALUES (%s, %s, %s, %s, 5000, 60)",
            meter_row,
        )
    pool = ThreadPoolExecutor(2)

    @settings(max_examples=200, deadline=None, suppress_health_check=list(HealthCheck))
    @given(st.lists(st.tuples(topics, payloads), min_size=1, max_size=4))
    def run(messages: list[tuple[str, bytes]]) -> None:
        msgs = [Msg(i, 0, t, p) for i, (t, p) in enumerate(messages)]

        async def go() -> None:
            cands, rejs = await take_in(msgs, _lookup, pool, 2)
            for m in msgs:
                mine = sum(c.ref is m for c in cands) + sum(q.ref is m for q in rejs)
                assert mine == m.outstanding >= 1 or (m.outstanding == 0 and mine == 0)
            assert all(isinstance(q.reason, Reason) for q in rejs)
            async with await psycopg.AsyncConnection.connect(pg_dsn) as conn:
                out = await flush(conn, cands, rejs, policy=Policy())
            assert len(out.judgement.accepted) + len(out.judgement.rejected) == len(cands) + len(rejs)

        asyncio.run(go())

    try:
        run()
    finally:
        pool.shutdown()

"""Regression tests for the reproduced ingest defects (issue 8), each as small as it can be:
the pure checks and the real intake without a broker, the flush against a real database."""

from __future__ import annotations

import asyncio
import base64
import json
import os
import sys
from concurrent.futures import ThreadPoolExecutor

import psycopg
import pytest

from gateway._checks import ContentRejected, MeterState, Policy, RegistryEntry, check_state, parse_message
from gateway._intake import Msg, take_in
from gateway._judge import Candidate, Rejection, judge
from gateway._store import flush, flush_one_by_one, is_outage
from gridx.errors import ReadingRejected, Reason
from gridx.wire import encode_batch, reading_hash, readings_topic
from tests.helpers.gateway import INTERVAL, Meter, scalar, setup_db

LONG_ID = base64.b64encode(os.urandom(6000)).decode()  # incompressible: 8,000 characters
NOW = 1_800_000_000 // INTERVAL * INTERVAL
POLICY = Policy(max_age_s=86_400, max_future_s=120)


def entry(m: Meter, **kw: object) -> RegistryEntry:
    base: dict[str, object] = dict(
        meter_id=m.meter_id,
        pubkey_hex=m.pubkey_hex,
        owner_wallet=m.owner,
        edge_id=m.edge_id,
        rated_power_w=m.rated_power_w,
        active=True,
        interval_s=INTERVAL,
        credit_from=NOW - 7200,
    )
    base.update(kw)
    return RegistryEntry(**base)  # type: ignore[arg-type]


def meter(**kw: object) -> Meter:
    return Meter("m1", "edge-a", window_end=NOW - 3600, **kw)  # type: ignore[arg-type]


def content_verdict(m: Meter, state: MeterState, **overrides: object) -> ContentRejected:
    r = m.sign(m.unsigned(**overrides))
    with pytest.raises(ContentRejected) as exc:
        check_state(r, entry(m), state, NOW, POLICY)
    assert exc.value.state.last_seq == r.seq and exc.value.state.last_hash == reading_hash(r)
    return exc.value


def intake(m: Meter, payload: bytes, edge: str = "edge-a") -> tuple[list[Candidate[Msg]], list[Rejection[Msg]]]:
    async def lookup(ids: set[str]) -> dict[str, RegistryEntry | None]:
        return {i: entry(m) if i == m.meter_id else None for i in ids}

    with ThreadPoolExecutor(2) as pool:
        return asyncio.run(take_in([Msg(1, 0, readings_topic(edge), payload)], lookup, pool, 2))


# -- 1. nested JSON ---------------------------------------------------------------------------
def test_deeply_nested_json_is_a_malformed_verdict_not_a_crash():
    # the payload, then deeper than any recursion limit the process may run with (a
    # test framework raises it): a malformed verdict either way, never a crash
    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(1_000_000)
    try:
        for depth in (1000, 200_000):
            payload = b'{"v":1,"edge_id":"edge-a","sent_at_ms":1,"readings":[' + b"[" * depth + b"]" * depth + b"]}"
            cands, rejs = intake(meter(), payload)
            assert not cands and [q.reason for q in rejs] == [Reason.MALFORMED]
    finally:
        sys.setrecursionlimit(limit)
    with pytest.raises(ReadingRejected) as exc:
        parse_message(payload, "edge-a")
    assert exc.value.reason is Reason.MALFORMED


# -- 4. a first reading back to 1970 ----------------------------------------------------------
def test_a_first_reading_cannot_claim_energy_back_to_1970():
    m = meter(rated_power_w=5_000_000)
    fresh = MeterState("m1")
    end = NOW - 3600
    rej = content_verdict(m, fresh, window_start=0, window_end=end, produced=5_000_000 * end // 3600)
    assert rej.reason is Reason.IMPLAUSIBLE and "not one 60 s interval" in rej.detail
    rej = content_verdict(m, fresh, window_start=-(2**63), window_end=end)
    assert rej.reason is Reason.IMPLAUSIBLE
    # a bounded, aligned window that starts before the meter's enrolment
    rej = content_verdict(m, fresh, window_start=NOW - 3 * 3600, window_end=NOW - 3 * 3600 + INTERVAL)
    assert "enrolment" in rej.detail


# -- 7. a non-object item ---------------------------------------------------------------------
def test_a_non_object_item_is_quarantined_alone():
    m = meter()
    good = m.next()
    doc = json.loads(encode_batch("edge-a", [good], 1))
    doc["readings"] += [None, 7, "x", [1], {"meter_id": "m1", "seq": 2**70}]
    cands, rejs = intake(m, json.dumps(doc).encode())
    assert [c.reading.seq for c in cands] == [1]
    assert [q.reason for q in rejs] == [Reason.MALFORMED] * 5
    assert all(q.seq is None for q in rejs)


@pytest.mark.parametrize(
    "field, value",
    [("meter_id", "\\ud800"), ("sig", "\\udc00"), ("note", "a\\ud83dz")],  # JSON escapes, lone
)
def test_a_lone_surrogate_sinks_only_its_own_reading(field, value):
    """The strict JSON parser refuses a lone-surrogate escape anywhere in the message; the
    reading that carries it gets its verdict, the good readings beside it are kept."""
    m = meter()
    good, other = m.next(), m.next()
    text = encode_batch("edge-a", [good, other], 1).decode()
    doc = json.loads(text)
    bad = json.dumps(doc["readings"][1])[:-1] + f', "{field}": "{value}"}}'
    if field != "note":  # replace the field rather than add a second one
        bad = bad.replace(f'"{field}": "{getattr(other, field)}", ', "", 1)
    payload = text.replace(json.dumps(doc["readings"][1], separators=(",", ":")), bad).encode()
    assert value.encode() in payload and payload.count(b'"sig"') == 2
    cands, rejs = intake(m, payload)
    assert [c.reading.seq for c in cands] == [1]
    assert [q.reason for q in rejs] == [Reason.MALFORMED]
    assert rejs[0].seq == 2


def test_a_lone_surrogate_in_the_envelope_is_one_malformed_message():
    m = meter()
    payload = encode_batch("edge-a", [m.next()], 1).replace(b'"edge_id":"edge-a"', b'"edge_id":"edge\\ud800"')
    cands, rejs = intake(m, payload)
    assert not cands and [q.reason for q in rejs] == [Reason.MALFORMED]


# -- 8. unaligned windows, deltas against counters -------------------------------------------
def test_unaligned_and_one_second_windows_are_refused():
    m = meter()
    ws = m.window_end
    assert "not one 60 s interval" in content_verdict(m, MeterState("m1"), window_start=ws, window_end=ws + 1).detail
    assert "aligned" in content_verdict(m, MeterState("m1"), window_start=ws + 7, window_end=ws + 7 + INTERVAL).detail


def test_deltas_must_match_the_signed_counters():
    m = meter()
    first = m.next()
    state = MeterState("m1").after(first, reading_hash(first))
    # produced 80 Wh with the counter unchanged
    rej = content_verdict(m, state, produced=80, produced_total_wh=m.produced_total)
    assert rej.reason is Reason.IMPLAUSIBLE
    # counter +10^12 with produced 10 Wh
    rej = content_verdict(m, state, produced=10, produced_total_wh=m.produced_total + 10**12)
    assert rej.reason is Reason.IMPLAUSIBLE
    # a first reading cannot claim more than its counter holds
    fresh = meter()
    assert content_verdict(fresh, MeterState("m1"), produced=80, produced_total_wh=40).reason is Reason.IMPLAUSIBLE


# -- 9. clear verdicts ------------------------------------------------------------------------
def test_a_v2_reading_is_quarantined_with_its_json_meter_and_seq():
    m = meter()
    v2 = m.sign(m.unsigned(v=2))
    cands, rejs = intake(m, encode_batch("edge-a", [v2], 1))
    assert not cands and rejs[0].reason is Reason.UNSUPPORTED_VERSION
    assert (rejs[0].meter_id, rejs[0].seq) == ("m1", 1)
    assert json.loads(rejs[0].payload)["v"] == 2


def test_a_fork_is_forked_not_replayed():
    m = meter()
    r1 = m.next()
    twin = m.sign(m.unsigned(seq=1, prev_hash=r1.prev_hash, produced=49))
    r2 = m.next()
    e = entry(m)
    states = {"m1": MeterState("m1").after(r1, reading_hash(r1)).after(r2, reading_hash(r2))}
    j = judge(
        [Candidate("msg", twin, e, reading_hash(twin), 0.0, 0)],
        states,
        now_s=NOW,
        policy=POLICY,
        stored_hashes={("m1", 1): reading_hash(r1)},
    )
    assert [q.reason for q in j.rejected] == [Reason.FORKED]


# -- the stranding model: content refused, chain advanced, zero credit --------------------------
def test_a_refused_reading_advances_the_chain_so_the_next_is_credited():
    m = meter()
    bad = m.sign(m.unsigned(produced=10**6))  # above rated power
    m.advance(bad)
    good = m.next()
    e = entry(m)
    j = judge([Candidate("msg", r, e, reading_hash(r), 0.0, 0) for r in (bad, good)], {}, now_s=NOW, policy=POLICY)
    assert [c.reading.seq for c in j.accepted] == [2]
    assert [(q.reason, q.chain_advanced) for q in j.rejected] == [(Reason.IMPLAUSIBLE, True)]
    assert j.states["m1"].last_seq == 2 and j.states["m1"].last_window_end == good.window_end


# -- 2, 3, 9: what the database refuses -------------------------------------------------------
def _flush(dsn: str, cands: list[Candidate[str]], rejs: list[Rejection[str]]) -> None:
    async def go() -> None:
        async with await psycopg.AsyncConnection.connect(dsn) as conn:
            try:
                await flush(conn, cands, rejs, policy=POLICY)
            except psycopg.Error as exc:
                assert not is_outage(exc, conn), f"classed as an outage: {exc}"
                await flush_one_by_one(conn, cands, rejs, policy=POLICY)

    asyncio.run(go())


@pytest.mark.parametrize("meter_id", ["m\x00x", LONG_ID, "\ud800"])
def test_a_hostile_meter_id_is_quarantined(pg_dsn, meter_id):
    setup_db(pg_dsn)
    rej = Rejection("msg", Reason.MALFORMED, "x", "edge-a", '{"meter_id": "?"}', meter_id, 2**70)
    _flush(pg_dsn, [], [rej])
    assert scalar(pg_dsn, "SELECT count(*) FROM quarantine WHERE reason = 'malformed'") == 1


def test_index_row_too_large_is_refused_not_an_outage(pg_dsn):
    """SQLSTATE 54000 is a psycopg OperationalError, but retrying it stalls every edge."""
    setup_db(pg_dsn)

    async def go() -> bool:
        async with await psycopg.AsyncConnection.connect(pg_dsn) as conn:
            try:
                await conn.execute(
                    "INSERT INTO quarantine (reason, meter_id, edge_id, payload) VALUES ('x', %s, 'e', '')",
                    (LONG_ID,),
                )
            except psycopg.OperationalError as exc:
                return is_outage(exc, conn)
        raise AssertionError("the database took an 8,000-character index key")

    assert asyncio.run(go()) is False


# -- design defects: a revoke racing verification; the unknown-meter cache ------------------------
def test_a_revoke_committed_after_verification_wins(pg_dsn):
    setup_db(pg_dsn)
    m = Meter("rv", "edge-a").enroll(pg_dsn)
    r = m.next()
    cand = Candidate("msg", r, entry(m, credit_from=None), reading_hash(r), 0.0, 0)
    with psycopg.connect(pg_dsn) as c:  # verified against the cached entry, then revoked
        c.execute("UPDATE meters SET status = 'revoked' WHERE meter_id = 'rv'")
    _flush(pg_dsn, [cand], [])
    assert scalar(pg_dsn, "SELECT count(*) FROM readings") == 0
    assert scalar(pg_dsn, "SELECT reason FROM quarantine") == "revoked_meter"


def test_the_unknown_meter_cache_is_bounded():
    from gateway._registry import UNKNOWN_MAX, Registry

    reg = Registry("postgresql://unused", ttl_s=60)
    reg._listening = True

    async def nothing(ids: list[str]) -> dict[str, RegistryEntry]:
        return {}

    reg._fetch = nothing  # type: ignore[method-assign]
    for i in range(3):
        asyncio.run(reg.get_many({f"ghost-{i}-{k}" for k in range(UNKNOWN_MAX)}))
    assert reg.unknown_cached == UNKNOWN_MAX


# -- the quarantine: a per-edge rate limit, and retention --------------------------------------
def test_a_flood_of_garbage_is_summarised_past_the_edges_budget(pg_dsn):
    from gateway._budget import QuarantineBudget

    setup_db(pg_dsn)
    budget = QuarantineBudget(per_s=0.001, burst=5)
    flood = [Rejection("m", Reason.MALFORMED, "x", "edge-a", "junk") for _ in range(20)]
    held = [Rejection("m", Reason.CHAIN_GAP, "held", "edge-a", "{}", "m1", i) for i in range(3)]
    other = [Rejection("m", Reason.MALFORMED, "x", "edge-b", "junk")]

    async def go() -> None:
        async with await psycopg.AsyncConnection.connect(pg_dsn) as conn:
            await flush(conn, [], flood + held + other, policy=POLICY, budget=budget)

    asyncio.run(go())
    assert scalar(pg_dsn, "SELECT count(*) FROM quarantine WHERE edge_id = 'edge-a' AND reason = 'malformed'") == 6
    assert "15 more malformed" in scalar(pg_dsn, "SELECT detail FROM quarantine WHERE payload = '' ")
    assert scalar(pg_dsn, "SELECT count(*) FROM quarantine WHERE reason = 'chain_gap'") == 3
    assert scalar(pg_dsn, "SELECT count(*) FROM quarantine WHERE edge_id = 'edge-b'") == 1


def test_quarantine_retention_keeps_open_held_readings(pg_dsn):
    from gateway._quarantine import prune_quarantine

    setup_db(pg_dsn)
    with psycopg.connect(pg_dsn) as c:
        for reason in ("malformed", "chain_gap"):
            c.execute(
                "INSERT INTO quarantine (reason, edge_id, payload, received_at)"
                " VALUES (%s, 'e', '', now() - interval '100 days')",
                (reason,),
            )
        c.execute("INSERT INTO quarantine (reason, edge_id, payload) VALUES ('malformed', 'e', '')")

    async def go() -> int:
        async with await psycopg.AsyncConnection.connect(pg_dsn) as conn:
            return await prune_quarantine(conn, 90)

    assert asyncio.run(go()) == 1
    assert scalar(pg_dsn, "SELECT count(*) FROM quarantine") == 2

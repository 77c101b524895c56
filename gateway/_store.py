"""One flush = one transaction: lock the meters' state rows, judge, COPY the accepted readings
through a staging table, write their mint outbox rows, advance the state, quarantine the
rejected. Either all of it is committed or none of it (then the MQTT messages stay unacked
and the whole flush is retried)."""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Generic, TypeVar

import psycopg

from gateway._budget import QuarantineBudget
from gateway._checks import Backfill, MeterState, Policy
from gateway._judge import Candidate, Judgement, Rejection, judge
from gateway._parking import Parking
from gateway._quarantine import write_quarantine
from gridx.errors import Reason

__all__ = ["FlushOutcome", "flush", "flush_one_by_one", "is_outage"]

Ref = TypeVar("Ref")
_MAX_ROUNDS = 5

_STAGING = """
CREATE TEMP TABLE IF NOT EXISTS gw_staging (
    meter_id text, window_start bigint, window_end bigint, seq bigint,
    produced_wh bigint, consumed_wh bigint, produced_total_wh bigint, consumed_total_wh bigint,
    prev_hash text, hash text, sig text, edge_id text, sent_at_ms bigint
) ON COMMIT DELETE ROWS"""
_COPY_STAGING = (
    "COPY gw_staging (meter_id, window_start, window_end, seq, produced_wh, consumed_wh, produced_total_wh,"
    " consumed_total_wh, prev_hash, hash, sig, edge_id, sent_at_ms) FROM STDIN (FORMAT BINARY)"
)
_STAGING_TYPES = ["text", *["int8"] * 7, "text", "text", "text", "text", "int8"]
# a conflict (a window stored by an earlier message) must not fail the batch: the insert
# skips it and reports it, and the flush judges again with that window known
_INSERT = """
WITH ins AS (
    INSERT INTO readings (meter_id, window_start, window_end, seq, produced_wh, consumed_wh, surplus_wh,
                          produced_total_wh, consumed_total_wh, prev_hash, hash, sig, edge_id, sent_at_ms)
    SELECT meter_id, to_timestamp(window_start), to_timestamp(window_end), seq, produced_wh, consumed_wh,
           produced_wh - consumed_wh, produced_total_wh, consumed_total_wh, prev_hash, hash, sig, edge_id, sent_at_ms
      FROM gw_staging
    ON CONFLICT (meter_id, window_start) DO NOTHING
    RETURNING meter_id, window_start
)
SELECT s.meter_id, s.window_start FROM gw_staging s
 WHERE NOT EXISTS (SELECT 1 FROM ins
                    WHERE ins.meter_id = s.meter_id AND ins.window_start = to_timestamp(s.window_start))
"""
_OUTBOX = """
INSERT INTO mint_outbox (meter_id, window_start, window_end, surplus_wh, amount)
SELECT meter_id, to_timestamp(window_start), to_timestamp(window_end), produced_wh - consumed_wh,
       (produced_wh - consumed_wh)::numeric * 1000
  FROM gw_staging WHERE produced_wh > consumed_wh
ON CONFLICT (meter_id, window_start) DO NOTHING
"""
# the meters' new states come from the judgement: a reading refused for its content advances
# the chain too (zero credit), so staging (the credited readings) is not enough
_STATE = """
UPDATE meter_state m
   SET last_seq = u.seq, last_hash = u.hash, last_window_end = u.window_end,
       produced_total_wh = u.pt, consumed_total_wh = u.ct, updated_at = now()
  FROM unnest(%s::text[], %s::bigint[], %s::text[], %s::bigint[], %s::bigint[], %s::bigint[])
       AS u(meter_id, seq, hash, window_end, pt, ct)
 WHERE m.meter_id = u.meter_id
"""
_HOLES = """
INSERT INTO chain_holes (meter_id, after_seq, before_seq, after_hash)
SELECT * FROM unnest(%s::text[], %s::bigint[], %s::bigint[], %s::text[]) ON CONFLICT DO NOTHING
"""
# held readings overtaken by their meter's chain can never be accepted: close them
_CLOSE_OVERTAKEN = """
UPDATE quarantine q SET closed_at = now()
  FROM meter_state s
 WHERE q.meter_id = s.meter_id AND q.meter_id = ANY(%s) AND q.reason = 'chain_gap'
   AND q.readmitted_at IS NULL AND q.closed_at IS NULL AND q.seq <= s.last_seq
   AND NOT EXISTS (SELECT 1 FROM chain_holes h
                    WHERE h.meter_id = q.meter_id AND q.seq > h.after_seq AND q.seq < h.before_seq)
"""
# the held readings of meters that advanced (their predecessor may just have arrived); a
# bounded number per meter, so one meter's long backlog does not starve the others
_READMIT = """
SELECT id, edge_id, payload FROM (
    SELECT q.id, q.edge_id, q.payload, row_number() OVER (PARTITION BY q.meter_id ORDER BY q.seq) AS n
      FROM quarantine q JOIN meter_state s ON s.meter_id = q.meter_id
     WHERE q.reason = 'chain_gap' AND q.readmitted_at IS NULL AND q.closed_at IS NULL
       AND q.meter_id = ANY(%s) AND (q.seq > s.last_seq OR EXISTS (SELECT 1 FROM chain_holes h
                    WHERE h.meter_id = q.meter_id AND q.seq > h.after_seq AND q.seq < h.before_seq))
) x WHERE n <= 100 ORDER BY id
"""
_TRANSIENT = ("08", "40", "53", "57", "58")  # connection, rollback, resources, operator, system


def is_outage(exc: psycopg.Error, conn: psycopg.AsyncConnection | None) -> bool:
    """Retry the same work later (True), or isolate what the database refuses (False)?
    psycopg classes e.g. "index row size exceeds maximum" (54000) as OperationalError, but
    retrying it would stall every edge for good; only a broken connection or a transient
    SQLSTATE class is an outage."""
    if conn is None or conn.closed or conn.broken:
        return True
    state = exc.sqlstate
    return state is None or state[:2] in _TRANSIENT


@dataclass(slots=True)
class FlushOutcome(Generic[Ref]):
    judgement: Judgement[Ref]
    committed_at: float  # wall clock, seconds
    # chain_gap quarantine rows of meters whose chain just advanced: (id, edge_id, payload)
    readmit: list[tuple[int, str, str]] = field(default_factory=list)


async def _lock_states(
    cur: psycopg.AsyncCursor, meters: list[str]
) -> tuple[dict[str, MeterState], dict[str, tuple[bool, str, str]]]:
    """Lock the meters' chain state and read their registry rows as they are now: a
    revocation (or a key or edge change) committed before this statement is seen here even
    when the readings were verified against a cached entry; one committed after it is ordered
    after this transaction (as if it had committed first), which is a serial order."""
    await cur.execute(
        """SELECT s.meter_id, s.last_seq, s.last_hash, s.last_window_end, s.produced_total_wh, s.consumed_total_wh,
                  m.status = 'active', m.pubkey, m.edge_id
             FROM meter_state s JOIN meters m ON m.meter_id = s.meter_id
            WHERE s.meter_id = ANY(string_to_array(%s, ',')) ORDER BY s.meter_id FOR UPDATE OF s""",
        (",".join(meters),),  # meter ids cannot contain commas; one string is cheaper than a text[]
    )
    rows = await cur.fetchall()
    return {r[0]: MeterState(*r[:6]) for r in rows}, {r[0]: (bool(r[6]), str(r[7]), str(r[8])) for r in rows}


def _still_authorised(
    candidates: list[Candidate[Ref]], facts: dict[str, tuple[bool, str, str]]
) -> tuple[list[Candidate[Ref]], list[Rejection[Ref]]]:
    """Candidates whose registry entry changed after they were verified (revoked, key rotated,
    moved to another edge) are judged by the registry as it is now."""
    ok: list[Candidate[Ref]] = []
    late: list[Rejection[Ref]] = []
    for c in candidates:
        active, pubkey, edge = facts.get(c.reading.meter_id, (False, "", ""))
        if active and pubkey == c.entry.pubkey_hex and edge == c.entry.edge_id:
            ok.append(c)
            continue
        reason = (
            Reason.REVOKED_METER
            if not active
            else Reason.BAD_SIGNATURE
            if pubkey != c.entry.pubkey_hex
            else Reason.WRONG_EDGE
        )
        r = c.reading
        detail = "the registry changed while the reading was in flight"
        late.append(
            Rejection(c.ref, reason, detail, c.entry.edge_id, r.model_dump_json(), r.meter_id, r.seq, c.quarantine_id)
        )
    return ok, late


async def _stored_overlaps(
    cur: psycopg.AsyncCursor, candidates: Sequence[Candidate[Ref]], states: dict[str, MeterState]
) -> tuple[dict[str, set[int]], dict[tuple[str, int], str], dict[str, Backfill]]:
    """Windows already stored among the candidates that reach back before their meter's last
    accepted window (rare: a re-sent or re-signed window), so the verdict is ``duplicate``;
    the stored hash of each seq a candidate repeats, so a fork is told from a replay; and,
    for meters with skipped holes, what proves a late reading that fills one."""
    stored: dict[str, set[int]] = defaultdict(set)
    hashes: dict[tuple[str, int], str] = {}
    successor_prev: dict[str, dict[int, str]] = defaultdict(dict)
    holes: dict[str, list[tuple[int, int]]] = defaultdict(list)
    back: list[tuple[str, int]] = []
    repeats: list[tuple[str, int]] = []
    for c in candidates:
        r, s = c.reading, states.get(c.reading.meter_id)
        if s is None:
            continue
        # only windows a timestamp can hold: the rest is refused by the pure checks
        if s.last_window_end is not None and 0 <= r.window_start < s.last_window_end:
            back.append((r.meter_id, r.window_start))
        if r.seq < s.last_seq:
            repeats.append((r.meter_id, r.seq))
    if back:
        await cur.execute(
            """SELECT r.meter_id, extract(epoch FROM r.window_start)::bigint
                 FROM readings r JOIN unnest(%s::text[], %s::bigint[]) AS u(meter_id, ws)
                   ON r.meter_id = u.meter_id AND r.window_start = to_timestamp(u.ws)""",
            ([m for m, _ in back], [w for _, w in back]),
        )
        for meter_id, window_start in await cur.fetchall():
            stored[meter_id].add(int(window_start))
    if repeats:
        await cur.execute(
            """SELECT r.meter_id, r.seq, r.hash, r.prev_hash FROM readings r
                 JOIN unnest(%s::text[], %s::bigint[]) AS u(meter_id, seq)
                   ON r.meter_id = u.meter_id AND r.seq IN (u.seq, u.seq + 1)""",
            ([m for m, _ in repeats], [q for _, q in repeats]),
        )
        for meter_id, seq, h, prev in await cur.fetchall():
            hashes[(meter_id, int(seq))] = h
            successor_prev[meter_id][int(seq)] = prev
        await cur.execute(
            "SELECT meter_id, after_seq, before_seq FROM chain_holes WHERE meter_id = ANY(%s)",
            (sorted({m for m, _ in repeats}),),
        )
        for meter_id, after, before in await cur.fetchall():
            holes[meter_id].append((int(after), int(before)))
    backfill = {m: Backfill(tuple(h), successor_prev[m]) for m, h in holes.items()}
    return stored, hashes, backfill


async def _stage(cur: psycopg.AsyncCursor, accepted: Sequence[Candidate[Ref]]) -> None:
    async with cur.copy(_COPY_STAGING) as cp:
        cp.set_types(_STAGING_TYPES)
        for c in accepted:
            r = c.reading
            await cp.write_row(
                (
                    r.meter_id,
                    r.window_start,
                    r.window_end,
                    r.seq,
                    r.produced_wh,
                    r.consumed_wh,
                    r.produced_total_wh,
                    r.consumed_total_wh,
                    r.prev_hash,
                    c.hash,
                    r.sig,
                    c.entry.edge_id,
                    c.sent_at_ms,
                )
            )


async def _advance(cur: psycopg.AsyncCursor, j: Judgement[Ref]) -> list[tuple[int, str, str]]:
    """Persist the meters' new chain positions and holes; return held readings to re-judge."""
    st = list(j.states.values())
    await cur.execute(
        _STATE,
        (
            [s.meter_id for s in st],
            [s.last_seq for s in st],
            [s.last_hash for s in st],
            [s.last_window_end for s in st],
            [s.produced_total_wh for s in st],
            [s.consumed_total_wh for s in st],
        ),
    )
    if j.holes:
        await cur.execute(_HOLES, tuple(list(col) for col in zip(*j.holes, strict=True)))
    readmitted = [c.quarantine_id for c in j.accepted if c.quarantine_id is not None]
    if readmitted:
        await cur.execute("UPDATE quarantine SET readmitted_at = now() WHERE id = ANY(%s)", (readmitted,))
    meters = sorted({s.meter_id for s in st} | j.backfilled)
    await cur.execute(_CLOSE_OVERTAKEN, (meters,))
    await cur.execute(_READMIT, (meters,))
    return [(int(i), str(e), str(p)) for i, e, p in await cur.fetchall()]


async def flush(
    conn: psycopg.AsyncConnection,
    candidates: list[Candidate[Ref]],
    early_rejections: list[Rejection[Ref]],
    *,
    policy: Policy,
    grace_s: float = 0.0,
    budget: QuarantineBudget | None = None,
    parking: Parking[Ref] | None = None,
) -> FlushOutcome[Ref]:
    """``parking``: where a fresh reading with a hole may wait (``judgement.parked``) instead of
    the quarantine; the caller holds them there once this has committed."""
    async with conn.transaction(), conn.cursor() as cur:
        readmit: list[tuple[int, str, str]] = []
        j: Judgement[Ref] = Judgement()
        if candidates:
            await cur.execute(_STAGING)
            states, facts = await _lock_states(cur, sorted({c.reading.meter_id for c in candidates}))
            candidates, changed = _still_authorised(candidates, facts)
            early_rejections = changed + early_rejections
            stored, hashes, backfill = await _stored_overlaps(cur, candidates, states)
            for _ in range(_MAX_ROUNDS):
                j = judge(
                    candidates,
                    states,
                    now_s=int(time.time()),
                    policy=policy,
                    stored=stored,
                    stored_hashes=hashes,
                    backfill=backfill,
                    park=None if parking is None else parking.admitter(time.monotonic()),
                )
                await cur.execute("SAVEPOINT gw_round")
                if j.accepted:
                    await _stage(cur, j.accepted)
                    await cur.execute(_INSERT)
                    conflicts = await cur.fetchall()
                    if conflicts:
                        await cur.execute("ROLLBACK TO SAVEPOINT gw_round")
                        for meter_id, window_start in conflicts:
                            stored[meter_id].add(int(window_start))
                        continue
                    await cur.execute(_OUTBOX)
                if j.states or j.backfilled:
                    readmit = await _advance(cur, j)
                    await cur.execute("SELECT pg_notify('gridx_progress', '')")  # delivered on commit
                break
            else:  # pragma: no cover - each round turns at least one conflict into a duplicate
                raise RuntimeError("conflicts kept appearing while holding the meters' locks")
        j.rejected[:0] = early_rejections
        await write_quarantine(cur, j.rejected, budget)
    return FlushOutcome(j, time.time(), readmit)


async def flush_one_by_one(
    conn: psycopg.AsyncConnection,
    candidates: list[Candidate[Ref]],
    early_rejections: list[Rejection[Ref]],
    *,
    policy: Policy,
    grace_s: float = 0.0,
    budget: QuarantineBudget | None = None,
) -> FlushOutcome[Ref]:
    """After the database refused a batch (a constraint or data error, not an outage): one
    transaction per reading, and what it still refuses is quarantined as ``db_refused`` with
    the database's message. Slow, and only for the batch that failed."""
    total: Judgement[Ref] = Judgement()
    refused: list[Rejection[Ref]] = []
    readmit: list[tuple[int, str, str]] = []
    for c in candidates:
        try:
            one = await flush(conn, [c], [], policy=policy)
        except psycopg.Error as exc:
            if is_outage(exc, conn):
                raise
            r = c.reading
            detail = f"database refused it: {str(exc).strip()}"
            refused.append(
                Rejection(
                    c.ref,
                    Reason.DB_REFUSED,
                    detail[:500],
                    c.entry.edge_id,
                    r.model_dump_json(),
                    r.meter_id,
                    r.seq,
                    c.quarantine_id,
                )
            )
            continue
        total.accepted += one.judgement.accepted
        total.rejected += one.judgement.rejected
        readmit += one.readmit
    rest = early_rejections + refused
    try:
        await flush(conn, [], rest, policy=policy, budget=budget)
    except psycopg.Error as exc:
        if is_outage(exc, conn):
            raise
        for q in rest:  # one by one; a row the quarantine still refuses is kept as its repr
            await _quarantine_alone(conn, q)
    total.rejected += rest
    return FlushOutcome(total, time.time(), readmit)


async def _quarantine_alone(conn: psycopg.AsyncConnection, q: Rejection[Ref]) -> None:
    try:
        await flush(conn, [], [q], policy=Policy())
    except psycopg.Error as exc:
        if is_outage(exc, conn):
            raise
        detail = f"{q.detail} | quarantine refused the row: {str(exc).strip()}"
        plain = Rejection(q.ref, q.reason, detail, q.edge_id, ascii(q.payload), None, None, q.quarantine_id)
        await flush(conn, [], [plain], policy=Policy())

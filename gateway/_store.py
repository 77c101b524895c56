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

from gateway._checks import MeterState, Policy
from gateway._judge import Candidate, Judgement, Rejection, judge
from gridx.errors import Reason

__all__ = ["FlushOutcome", "flush", "flush_one_by_one"]

Ref = TypeVar("Ref")
QUARANTINE_PAYLOAD_MAX = 64 * 1024
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
# the meter's new state is its last accepted reading, which is in staging: no second upload
_STATE = """
UPDATE meter_state m
   SET last_seq = s.seq, last_hash = s.hash, last_window_end = s.window_end,
       produced_total_wh = s.produced_total_wh, consumed_total_wh = s.consumed_total_wh, updated_at = now()
  FROM (SELECT DISTINCT ON (meter_id) meter_id, seq, hash, window_end, produced_total_wh, consumed_total_wh
          FROM gw_staging ORDER BY meter_id, seq DESC) s
 WHERE m.meter_id = s.meter_id
"""


@dataclass(slots=True)
class FlushOutcome(Generic[Ref]):
    judgement: Judgement[Ref]
    committed_at: float  # wall clock, seconds
    # chain_gap quarantine rows of meters whose chain just advanced: (id, edge_id, payload)
    readmit: list[tuple[int, str, str]] = field(default_factory=list)


# the next readings of meters that advanced, if they were quarantined as chain_gap earlier
_READMIT = """
SELECT q.id, q.edge_id, q.payload FROM quarantine q
 WHERE q.reason = 'chain_gap' AND q.readmitted_at IS NULL
   AND q.meter_id IN (SELECT DISTINCT meter_id FROM gw_staging)
 ORDER BY q.meter_id, q.seq LIMIT 10000
"""


def _clean(text: str) -> str:
    return text[:QUARANTINE_PAYLOAD_MAX].replace("\x00", "\ufffd")


async def _lock_states(cur: psycopg.AsyncCursor, meters: list[str]) -> dict[str, MeterState]:
    await cur.execute(
        """SELECT meter_id, last_seq, last_hash, last_window_end, produced_total_wh, consumed_total_wh
             FROM meter_state WHERE meter_id = ANY(string_to_array(%s, ',')) ORDER BY meter_id FOR UPDATE""",
        (",".join(meters),),  # meter ids cannot contain commas; one string is cheaper than a text[]
    )
    return {row[0]: MeterState(*row) for row in await cur.fetchall()}


async def _stored_overlaps(
    cur: psycopg.AsyncCursor, candidates: Sequence[Candidate[Ref]], states: dict[str, MeterState]
) -> dict[str, set[int]]:
    """Windows already stored among the candidates that reach back before their meter's last
    accepted window (rare: a re-sent or re-signed window), so the verdict is ``duplicate``."""
    stored: dict[str, set[int]] = defaultdict(set)
    back = [
        (c.reading.meter_id, c.reading.window_start)
        for c in candidates
        if (s := states.get(c.reading.meter_id)) is not None
        and s.last_window_end is not None
        and c.reading.window_start < s.last_window_end
    ]
    if back:
        await cur.execute(
            """SELECT r.meter_id, extract(epoch FROM r.window_start)::bigint
                 FROM readings r JOIN unnest(%s::text[], %s::bigint[]) AS u(meter_id, ws)
                   ON r.meter_id = u.meter_id AND r.window_start = to_timestamp(u.ws)""",
            ([m for m, _ in back], [w for _, w in back]),
        )
        for meter_id, window_start in await cur.fetchall():
            stored[meter_id].add(int(window_start))
    return stored


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


async def _quarantine(cur: psycopg.AsyncCursor, rejected: Sequence[Rejection[Ref]]) -> None:
    rejected = [q for q in rejected if q.quarantine_id is None]
    if not rejected:
        return
    async with cur.copy("COPY quarantine (reason, detail, meter_id, seq, edge_id, payload) FROM STDIN") as cp:
        for q in rejected:
            await cp.write_row((q.reason.value, _clean(q.detail), q.meter_id, q.seq, q.edge_id, _clean(q.payload)))


async def flush(
    conn: psycopg.AsyncConnection,
    candidates: list[Candidate[Ref]],
    early_rejections: list[Rejection[Ref]],
    *,
    policy: Policy,
    grace_s: float,
) -> FlushOutcome[Ref]:
    async with conn.transaction(), conn.cursor() as cur:
        await cur.execute(_STAGING)
        readmit: list[tuple[int, str, str]] = []
        states = await _lock_states(cur, sorted({c.reading.meter_id for c in candidates}))
        stored = await _stored_overlaps(cur, candidates, states)
        for _ in range(_MAX_ROUNDS):
            j = judge(
                candidates,
                states,
                now_s=int(time.time()),
                mono_now=time.monotonic(),
                policy=policy,
                grace_s=grace_s,
                stored=stored,
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
                await cur.execute(_STATE)
                readmitted = [c.quarantine_id for c in j.accepted if c.quarantine_id is not None]
                if readmitted:
                    await cur.execute("UPDATE quarantine SET readmitted_at = now() WHERE id = ANY(%s)", (readmitted,))
                await cur.execute(_READMIT)
                readmit = [(int(i), str(e), str(p)) for i, e, p in await cur.fetchall()]
                await cur.execute("SELECT pg_notify('gridx_progress', '')")  # delivered on commit
            break
        else:  # pragma: no cover - each round turns at least one conflict into a duplicate
            raise RuntimeError("conflicts kept appearing while holding the meters' locks")
        j.rejected[:0] = early_rejections
        await _quarantine(cur, j.rejected)
    return FlushOutcome(j, time.time(), readmit)


async def flush_one_by_one(
    conn: psycopg.AsyncConnection,
    candidates: list[Candidate[Ref]],
    early_rejections: list[Rejection[Ref]],
    *,
    policy: Policy,
    grace_s: float,
) -> FlushOutcome[Ref]:
    """After the database refused a batch (a constraint or data error, not an outage): one
    transaction per reading, and what it still refuses is quarantined as ``malformed`` with
    the database's message. Slow, and only for the batch that failed."""
    total: Judgement[Ref] = Judgement()
    refused: list[Rejection[Ref]] = []
    readmit: list[tuple[int, str, str]] = []
    for c in candidates:
        try:
            one = await flush(conn, [c], [], policy=policy, grace_s=grace_s)
        except psycopg.OperationalError:
            raise
        except psycopg.Error as exc:
            r = c.reading
            detail = f"database refused it: {str(exc).strip()}"
            refused.append(
                Rejection(
                    c.ref, Reason.MALFORMED, detail[:500], c.entry.edge_id, r.model_dump_json(), r.meter_id, r.seq
                )
            )
            continue
        total.accepted += one.judgement.accepted
        total.rejected += one.judgement.rejected
        total.parked += one.judgement.parked
        readmit += one.readmit
    last = await flush(conn, [], early_rejections + refused, policy=policy, grace_s=grace_s)
    total.rejected += last.judgement.rejected
    return FlushOutcome(total, last.committed_at, readmit)

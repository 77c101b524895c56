"""The quarantine: rejected readings and messages as received (cleaned so PostgreSQL takes
any of them), within a per-edge budget, closed when re-judged, pruned past retention; and the
periodic queries the service runs beside the flushes (holes past the grace, stalled meters)."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Sequence
from typing import TypeVar

import psycopg

from gateway._budget import QuarantineBudget
from gateway._judge import Rejection
from gridx.errors import Reason

__all__ = ["clean_text", "due_holes", "prune_quarantine", "stalled_meters", "write_quarantine"]

Ref = TypeVar("Ref")
QUARANTINE_PAYLOAD_MAX = 64 * 1024
# holes past the grace: per meter, the lowest held reading, when neither it nor the meter's
# chain moved for the grace; it is judged again with the hole skipped (and recorded)
_DUE_HOLES = """
SELECT DISTINCT ON (q.meter_id) q.id, q.edge_id, q.payload
  FROM quarantine q JOIN meter_state s ON s.meter_id = q.meter_id
 WHERE q.reason = 'chain_gap' AND q.readmitted_at IS NULL AND q.closed_at IS NULL AND q.seq > s.last_seq
   AND s.updated_at < now() - make_interval(secs => %s) AND q.received_at < now() - make_interval(secs => %s)
 ORDER BY q.meter_id, q.seq
 LIMIT 1000
"""
# re-judged and refused for another reason than a hole: closed, never read again
_CLOSE_REJUDGED = """
UPDATE quarantine q SET closed_at = now(), chain_advanced = u.advanced,
       detail = left(q.detail || ' | re-judged: ' || u.reason || ': ' || u.detail, 2000)
  FROM unnest(%s::bigint[], %s::text[], %s::text[], %s::bool[]) AS u(id, reason, detail, advanced)
 WHERE q.id = u.id AND q.readmitted_at IS NULL AND q.closed_at IS NULL
"""


_ID_MAX = 64
_I64 = 2**63


def clean_text(text: str, limit: int = QUARANTINE_PAYLOAD_MAX) -> str:
    """What PostgreSQL text takes: no NUL, no lone surrogate (kept visible, escaped)."""
    text = text[:limit].replace("\x00", "\ufffd")
    return text.encode("utf-8", "backslashreplace").decode("utf-8")


def _clean_id(text: str | None) -> str | None:
    # an attacker's meter id goes into an indexed column: bounded, or a btree refuses the row
    return None if text is None else clean_text(text, _ID_MAX)


def _clean_seq(seq: int | None) -> int | None:
    return seq if seq is not None and 0 <= seq < _I64 else None


# active meters whose chain has not moved for three of their intervals: named in a gauge
_STALLED = """
SELECT m.meter_id, extract(epoch FROM now() - s.updated_at)::bigint
  FROM meters m JOIN meter_state s ON s.meter_id = m.meter_id
 WHERE m.status = 'active' AND s.updated_at < now() - make_interval(secs => 3 * m.interval_s)
 ORDER BY s.updated_at LIMIT 100
"""


async def stalled_meters(conn: psycopg.AsyncConnection) -> list[tuple[str, int]]:
    async with conn.transaction(), conn.cursor() as cur:
        await cur.execute(_STALLED)
        return [(str(m), int(s)) for m, s in await cur.fetchall()]


async def due_holes(conn: psycopg.AsyncConnection, grace_s: float) -> list[tuple[int, str, str]]:
    async with conn.transaction(), conn.cursor() as cur:
        await cur.execute(_DUE_HOLES, (grace_s, grace_s))
        return [(int(i), str(e), str(p)) for i, e, p in await cur.fetchall()]


def _within_budget(rejected: list[Rejection[Ref]], budget: QuarantineBudget | None) -> list[Rejection[Ref]]:
    if budget is None:
        return rejected
    now = time.monotonic()
    kept: list[Rejection[Ref]] = []
    over: Counter[tuple[str, Reason]] = Counter()
    refs: dict[tuple[str, Reason], Ref] = {}
    for q in rejected:
        if q.reason is Reason.CHAIN_GAP or budget.take(q.edge_id, now):
            kept.append(q)
        else:
            over[(q.edge_id, q.reason)] += 1
            refs[(q.edge_id, q.reason)] = q.ref
    for (edge, reason), n in over.items():
        detail = f"{n} more {reason.value} rejections from this edge not stored (quarantine rate limit)"
        kept.append(Rejection(refs[(edge, reason)], reason, detail, edge, ""))
    return kept


# what the quarantine keeps: past the retention, everything but held readings still open
_PRUNE = """
DELETE FROM quarantine WHERE id IN (
    SELECT id FROM quarantine
     WHERE received_at < now() - make_interval(days => %s)
       AND NOT (reason = 'chain_gap' AND readmitted_at IS NULL AND closed_at IS NULL)
     LIMIT 10000)
"""


async def prune_quarantine(conn: psycopg.AsyncConnection, days: int) -> int:
    async with conn.transaction(), conn.cursor() as cur:
        await cur.execute(_PRUNE, (days,))
        return cur.rowcount


async def write_quarantine(
    cur: psycopg.AsyncCursor, rejected: Sequence[Rejection[Ref]], budget: QuarantineBudget | None = None
) -> None:
    new = _within_budget([q for q in rejected if q.quarantine_id is None], budget)
    if new:
        async with cur.copy(
            "COPY quarantine (reason, detail, meter_id, seq, edge_id, payload, chain_advanced) FROM STDIN"
        ) as cp:
            for q in new:
                await cp.write_row(_row(q))
    again = [q for q in rejected if q.quarantine_id is not None and q.reason is not Reason.CHAIN_GAP]
    if again:
        await cur.execute(
            _CLOSE_REJUDGED,
            (
                [q.quarantine_id for q in again],
                [q.reason.value for q in again],
                [clean_text(q.detail, 500) for q in again],
                [q.chain_advanced for q in again],
            ),
        )


def _row(q: Rejection[Ref]) -> tuple[object, ...]:
    return (
        q.reason.value,
        clean_text(q.detail, 2000),
        _clean_id(q.meter_id),
        _clean_seq(q.seq),
        clean_text(q.edge_id, _ID_MAX),
        clean_text(q.payload),
        q.chain_advanced,
    )

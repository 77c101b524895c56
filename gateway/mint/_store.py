"""Mint outbox rows in PostgreSQL: claim with a lease, note signatures, record outcomes."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import psycopg

from gateway.mint._plan import MintJob, Outcome, Verdict

__all__ = ["MintRecorded", "claim_jobs", "note_signatures", "record_verdicts"]

# Rows of meters with a transaction in flight (a live lease) are not candidates: one
# transaction per meter at a time, across workers. Only each meter's oldest ``per_meter`` rows
# are candidates, so one claim spans many meters (a pass sends one transaction per meter).
# Meters come oldest row first: a claim smaller than the backlog serves the longest waiting
# meters, not the lowest ids, so no meter starves while passes overlap.
# Written so that a plan made on stale statistics (a young outbox or a new readings chunk, as
# autovacuum analyses only every minute) stays cheap: the meters in flight are one hashed set,
# not an anti-join re-scanned per candidate (seen: 1.2M rows, 700 ms per claim), and the
# readings are found by the row comparison, which only the (meter_id, window_start) primary key
# can serve: the time index would scan every meter's reading of that window (all share it).
_CANDIDATES = """
WITH due AS (
    SELECT o.id, row_number() OVER (PARTITION BY o.meter_id ORDER BY o.window_start) AS rn,
           min(o.id) OVER (PARTITION BY o.meter_id) AS first_id
      FROM mint_outbox o
     WHERE ((o.status = 'pending' AND o.next_attempt_at <= now()) OR (o.status = 'sent' AND o.lease_until < now()))
       AND o.meter_id NOT IN (SELECT s.meter_id FROM mint_outbox s WHERE s.status = 'sent' AND s.lease_until >= now())
)
SELECT o.id, o.meter_id, m.pubkey, m.owner_wallet, m.edge_id,
       r.seq, extract(epoch FROM r.window_start)::bigint, extract(epoch FROM r.window_end)::bigint,
       r.produced_wh, r.consumed_wh, r.produced_total_wh, r.consumed_total_wh, r.prev_hash, r.sig,
       o.amount::bigint, o.surplus_wh, o.attempts, coalesce(o.sent_signatures, '{}'),
       extract(epoch FROM o.created_at)::float8,
       r.meter_id IS NULL AND o.created_at > now() - make_interval(secs => %s) AS unseen
  FROM due
  JOIN mint_outbox o ON o.id = due.id
  JOIN meters m USING (meter_id)
  LEFT JOIN readings r  -- none: 'failed'
         ON (r.meter_id, r.window_start) >= (o.meter_id, o.window_start)
        AND (r.meter_id, r.window_start) <= (o.meter_id, o.window_start)
 WHERE due.rn <= %s
 ORDER BY due.first_id, o.window_start
 LIMIT %s
   FOR UPDATE OF o SKIP LOCKED
"""


# seconds an outbox row may wait for its reading to be visible to the claim (see claim_jobs)
UNSEEN_GRACE_S = 60.0

# pg_advisory_xact_lock key of the claim: int.from_bytes(b"gxmint", "big")
_CLAIM_LOCK = 0x67786D696E74


def _job(r: tuple[Any, ...]) -> MintJob:
    # raw values: a row that is not a valid signed reading fails alone when it is packed
    names = ("seq", "window_start", "window_end", "produced_wh", "consumed_wh")
    reading: dict[str, object] = {"v": 1, "meter_id": r[1], **dict(zip(names, r[5:10], strict=True))}
    reading.update(produced_total_wh=r[10], consumed_total_wh=r[11], prev_hash=r[12], sig=r[13])
    return MintJob(
        outbox_id=r[0],
        meter_id=r[1],
        meter_pubkey=bytes.fromhex(r[2]),
        owner_wallet=r[3],
        edge_id=r[4],
        reading=reading,
        amount=int(r[14]),
        surplus_wh=int(r[15]),
        attempts=int(r[16]),
        sent_signatures=tuple(r[17]),
        accepted_at=float(r[18]),
    )


def claim_jobs(
    conn: psycopg.Connection,
    limit: int,
    lease_s: float,
    choose: Callable[[list[MintJob]], list[MintJob]],
    per_meter: int = 8,
) -> list[MintJob]:
    """Claim due rows (SKIP LOCKED: several workers never take the same row), let ``choose``
    pick what this pass sends (rate limits, one transaction per meter) and mark exactly those
    'sent' with a lease *before* anything is sent, so a crash leaves a trace."""
    with conn.transaction():
        # Claims take turns. Each statement reads a fresh snapshot, so the candidates below see
        # every earlier claim's leases; two overlapping claims could not: the later one would
        # lock a row the earlier left unchosen (and unlocked at its commit) of a meter that now
        # has a transaction in flight, and send its window first, which makes the chain refuse
        # the earlier windows for good.
        conn.execute("SELECT pg_advisory_xact_lock(%s)", (_CLAIM_LOCK,))
        rows = conn.execute(_CANDIDATES, (UNSEEN_GRACE_S, per_meter, limit)).fetchall()
        # A reading is committed with its outbox row, yet the join can miss it: a hypertable
        # chunk created by that commit may be absent from a plan made just before it (seen once
        # in tests). Such a row waits for a later claim rather than failing for good as
        # unpackable; one still without its reading after the grace is failed as before.
        jobs = choose([_job(r) for r in rows if not r[19]])
        if jobs:
            conn.execute(
                "UPDATE mint_outbox SET status = 'sent', attempts = attempts + 1, updated_at = now(),"
                " claimed_at = now(), lease_until = now() + make_interval(secs => %s) WHERE id = ANY(%s)",
                (lease_s, [j.outbox_id for j in jobs]),
            )
    return jobs


def note_signatures(conn: psycopg.Connection, sigs: Mapping[int, str]) -> None:
    """Remember which transaction carries each row before it is sent: after a crash, the
    chain is asked about these signatures before anything is sent again."""
    if not sigs:
        return
    with conn.transaction():
        conn.execute(
            """UPDATE mint_outbox o SET sent_signatures = array_append(coalesce(o.sent_signatures, '{}'), s.sig)
                 FROM unnest(%s::bigint[], %s::text[]) AS s (id, sig) WHERE o.id = s.id""",
            (list(sigs), list(sigs.values())),
        )


@dataclass(frozen=True)
class MintRecorded:
    """What the chain said for one job: signature, slot and committed hash when minted."""

    verdict: Verdict
    signature: str | None = None
    slot: int | None = None
    event_hash: str | None = None
    sent_at: float | None = None  # unix s when this pass's transactions left the worker


# Each outcome kind is one statement over arrays (unnest), not one statement per row: a pass
# records thousands of rows, and per-row statements cost the worker and PostgreSQL more CPU
# than the mint itself.
_INSERT_MINT = """
INSERT INTO token_mints
       (meter_id, window_start, window_end, amount, surplus_wh, tx_signature, slot, minted_at, event_hash)
SELECT m.meter_id, to_timestamp(m.ws), to_timestamp(m.we), m.amount, m.surplus_wh, m.sig, m.slot, %s, m.event_hash
  FROM unnest(%s::text[], %s::bigint[], %s::bigint[], %s::numeric[], %s::bigint[], %s::text[], %s::bigint[], %s::text[])
       AS m (meter_id, ws, we, amount, surplus_wh, sig, slot, event_hash)
    ON CONFLICT (meter_id, window_start) DO NOTHING
"""
_CONFIRM = """
UPDATE mint_outbox o SET status = 'confirmed', reason = c.reason, tx_signature = c.sig, confirmed_at = %s,
       sent_at = to_timestamp(c.sent), lease_until = NULL, updated_at = now()
  FROM unnest(%s::bigint[], %s::text[], %s::text[], %s::float8[]) AS c (id, reason, sig, sent) WHERE o.id = c.id
"""
_CLOSE = """
UPDATE mint_outbox o SET status = c.status, reason = c.reason, lease_until = NULL, updated_at = now()
  FROM unnest(%s::bigint[], %s::text[], %s::text[]) AS c (id, status, reason) WHERE o.id = c.id
"""
_REQUEUE = """
UPDATE mint_outbox o SET status = 'pending', reason = c.reason, lease_until = NULL, updated_at = now(),
       next_attempt_at = now() + make_interval(secs => c.backoff)
  FROM unnest(%s::bigint[], %s::text[], %s::float8[]) AS c (id, reason, backoff) WHERE o.id = c.id
"""


def _columns(rows: Sequence[tuple[Any, ...]], width: int) -> list[list[Any]]:
    return [list(col) for col in zip(*rows, strict=True)] if rows else [[] for _ in range(width)]


def record_verdicts(conn: psycopg.Connection, results: Sequence[MintRecorded], retry_after_s: float) -> None:
    """Write every outcome of one pass in one transaction (each statement batched): token_mints
    for what is on chain (one row per window: the unique key absorbs a second report of the same
    mint), the outbox row's final state, or its return to the queue with a backoff."""
    now = datetime.now(UTC)
    mints, confirms, closes, requeues = [], [], [], []
    for res in results:
        job, outcome = res.verdict.job, res.verdict.outcome
        if outcome in (Outcome.CONFIRMED, Outcome.ALREADY_DONE):
            sig = res.signature or "unknown"
            ends = (job.window_start, job.window_end)
            mints.append((job.meter_id, *ends, job.amount, job.surplus_wh, sig, res.slot, res.event_hash))
            reason = None if outcome is Outcome.CONFIRMED else outcome.value
            confirms.append((job.outbox_id, reason, res.signature, res.sent_at))
        elif outcome in (Outcome.REFUSED, Outcome.FAILED, Outcome.BEHIND_CHAIN):
            closes.append((job.outbox_id, outcome.value, res.verdict.reason[:500]))
        else:
            # a row split off a refused multi-window mint goes again at once, alone
            split = res.verdict.reason.startswith("split:")
            backoff = 0.0 if split else min(retry_after_s * 2 ** min(job.attempts, 6), 30.0)
            requeues.append((job.outbox_id, res.verdict.reason[:500], backoff))
    with conn.transaction():
        if mints:
            conn.execute(_INSERT_MINT, (now, *_columns(mints, 8)))
        if confirms:
            conn.execute(_CONFIRM, (now, *_columns(confirms, 4)))
        if closes:
            conn.execute(_CLOSE, _columns(closes, 3))
        if requeues:
            conn.execute(_REQUEUE, _columns(requeues, 3))

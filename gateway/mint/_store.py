"""Mint outbox rows in PostgreSQL: claim with a lease, record outcomes in one transaction."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

import psycopg

from gateway.mint._plan import MintJob, Outcome, Verdict

__all__ = ["MintRecorded", "claim_jobs", "record_verdicts"]

_CANDIDATES = """
SELECT o.id, o.meter_id, m.pubkey, m.owner_wallet,
       extract(epoch FROM o.window_start)::bigint,
       extract(epoch FROM o.window_end - o.window_start)::bigint,
       o.amount::bigint, o.surplus_wh, o.attempts, extract(epoch FROM o.created_at)::float8
  FROM mint_outbox o JOIN meters m USING (meter_id)
 WHERE (o.status = 'pending' AND o.next_attempt_at <= now())
    OR (o.status = 'sent' AND o.lease_until < now())
 ORDER BY o.id
 LIMIT %s
   FOR UPDATE OF o SKIP LOCKED
"""


def claim_jobs(conn: psycopg.Connection, limit: int, lease_s: float, allow: Callable[[str], bool]) -> list[MintJob]:
    """Claim due rows (SKIP LOCKED: several workers never take the same row) and mark them
    'sent' with a lease *before* anything is sent, so a crash leaves a trace that forces an
    on-chain check. Rows the rate limiter holds back stay pending, untouched."""
    with conn.transaction():
        rows = conn.execute(_CANDIDATES, (limit,)).fetchall()
        jobs = [
            MintJob(
                outbox_id=r[0],
                meter_id=r[1],
                meter_pubkey=bytes.fromhex(r[2]),
                owner_wallet=r[3],
                window_start=int(r[4]),
                window_seconds=int(r[5]),
                amount=int(r[6]),
                surplus_wh=int(r[7]),
                attempts=int(r[8]),
                accepted_at=float(r[9]),
            )
            for r in rows
        ]
        jobs = [j for j in jobs if allow(j.meter_id)]
        if jobs:
            conn.execute(
                "UPDATE mint_outbox SET status = 'sent', attempts = attempts + 1, updated_at = now(),"
                " lease_until = now() + make_interval(secs => %s) WHERE id = ANY(%s)",
                (lease_s, [j.outbox_id for j in jobs]),
            )
    return jobs


@dataclass(frozen=True)
class MintRecorded:
    """What the chain said for one job: signature and slot when the mint is on chain."""

    verdict: Verdict
    signature: str | None = None
    slot: int | None = None


def record_verdicts(conn: psycopg.Connection, results: Sequence[MintRecorded], retry_after_s: float) -> None:
    """Write every outcome of one pass in one transaction: token_mints for what is on chain
    (exactly one row per window: the unique key absorbs a second report of the same mint),
    the outbox row's final state, or its return to the queue with a backoff."""
    now = datetime.now(UTC)
    with conn.transaction(), conn.cursor() as cur:
        for res in results:
            job, outcome = res.verdict.job, res.verdict.outcome
            if outcome in (Outcome.CONFIRMED, Outcome.ALREADY_DONE):
                cur.execute(
                    "INSERT INTO token_mints (meter_id, window_start, window_end, amount, surplus_wh,"
                    " tx_signature, slot, minted_at)"
                    " VALUES (%s, to_timestamp(%s), to_timestamp(%s), %s, %s, %s, %s, %s)"
                    " ON CONFLICT (meter_id, window_start) DO NOTHING",
                    (
                        job.meter_id,
                        job.window_start,
                        job.window_start + job.window_seconds,
                        job.amount,
                        job.surplus_wh,
                        res.signature or "unknown",
                        res.slot,
                        now,
                    ),
                )
                cur.execute(
                    "UPDATE mint_outbox SET status = 'confirmed', reason = %s, tx_signature = %s,"
                    " confirmed_at = %s, lease_until = NULL, updated_at = now() WHERE id = %s",
                    (None if outcome is Outcome.CONFIRMED else outcome.value, res.signature, now, job.outbox_id),
                )
            elif outcome is Outcome.REFUSED:
                cur.execute(
                    "UPDATE mint_outbox SET status = 'refused', reason = %s, lease_until = NULL, updated_at = now()"
                    " WHERE id = %s",
                    (res.verdict.reason, job.outbox_id),
                )
            else:
                backoff = min(retry_after_s * (2 ** min(job.attempts, 6)), 30.0)
                cur.execute(
                    "UPDATE mint_outbox SET status = 'pending', reason = %s, lease_until = NULL, updated_at = now(),"
                    " next_attempt_at = now() + make_interval(secs => %s) WHERE id = %s",
                    (res.verdict.reason, backoff, job.outbox_id),
                )

"""Pure decisions of the mint worker: packing, and what a chain verdict means for each row.

Kept free of I/O so every exactly-once rule is unit-testable: the worker only carries out
what these functions decide.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass

__all__ = [
    "ALREADY_MINTED_CODES",
    "MintJob",
    "Outcome",
    "Verdict",
    "judge_failed_tx",
    "pack",
]

# The program refuses a second mint for a window either with its own named error or, when
# the record PDA is created first, with the system program's "account already in use".
ALREADY_MINTED_CODES = frozenset({"AlreadyMinted", "AccountAlreadyInUse"})
# Errors that no retry can fix: the row is refused and counted under this reason.
REFUSAL_CODES = frozenset(
    {
        "MeterNotActive",
        "NotProsumer",
        "ZeroAmount",
        "ExceedsRatedPower",
        "InvalidWindow",
        "MeterMismatch",
        "InvalidAccountOwner",
        "InvalidDiscriminator",
        "NotMinter",
    }
)


@dataclass(frozen=True)
class MintJob:
    """One pending outbox row, joined with what the chain needs about its meter."""

    outbox_id: int
    meter_id: str
    meter_pubkey: bytes
    owner_wallet: str
    window_start: int
    window_seconds: int
    amount: int  # base units: 1 Wh = 1,000
    surplus_wh: int
    attempts: int  # sends before this claim; > 0 means the chain must be checked first
    accepted_at: float = 0.0  # unix time the reading was accepted (for latency metrics)


class Outcome(enum.StrEnum):
    CONFIRMED = "confirmed"  # minted by the transaction we just sent
    ALREADY_DONE = "already_done"  # the chain already holds this window's mint record
    REFUSED = "refused"  # the program says no, for good
    RETRY = "retry"  # try again later (outage, or collateral of another row's failure)


@dataclass(frozen=True)
class Verdict:
    job: MintJob
    outcome: Outcome
    reason: str = ""


def pack(jobs: Sequence[MintJob], per_tx: int) -> list[list[MintJob]]:
    """Group jobs into transactions of at most ``per_tx`` mints, oldest first.

    A (meter, window) appears at most once in a transaction, so one duplicate can never
    hide inside a batch that otherwise succeeds.
    """
    if per_tx < 1:
        raise ValueError("per_tx must be >= 1")
    txs: list[list[MintJob]] = []
    current: list[MintJob] = []
    seen: set[tuple[bytes, int]] = set()
    for job in jobs:
        key = (job.meter_pubkey, job.window_start)
        if key in seen or len(current) == per_tx:
            txs.append(current)
            current, seen = [], set()
        current.append(job)
        seen.add(key)
    if current:
        txs.append(current)
    return txs


def judge_failed_tx(jobs: Sequence[MintJob], failed_index: int | None, code: str | None) -> list[Verdict]:
    """A transaction failed as a whole (Solana is atomic): decide each row's fate.

    Only the instruction the chain blames is judged by the error; the others did nothing and
    go back to the queue. An unknown failure is a retry for all: the next pass re-checks each
    window's record on chain before it sends again.
    """
    verdicts: list[Verdict] = []
    for i, job in enumerate(jobs):
        if failed_index is None or i != failed_index or code is None:
            verdicts.append(Verdict(job, Outcome.RETRY, code or "unknown"))
        elif code in ALREADY_MINTED_CODES:
            verdicts.append(Verdict(job, Outcome.ALREADY_DONE, code))
        elif code in REFUSAL_CODES:
            verdicts.append(Verdict(job, Outcome.REFUSED, code))
        else:
            verdicts.append(Verdict(job, Outcome.RETRY, code))
    return verdicts

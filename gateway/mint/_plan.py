"""Pure decisions of the mint worker: which rows go together, and what a chain verdict means.

Kept free of I/O so every exactly-once rule is unit-testable: the worker only carries out what
these functions decide. The chain mints a meter's windows once and in time order (a per-meter
high-water mark), so a meter has at most one transaction in flight, holding its oldest pending
windows.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache

from gridx.chain import SignedReading, signed_reading
from gridx.wire import Reading

__all__ = [
    "BEHIND_CHAIN",
    "REFUSAL_CODES",
    "TRANSIENT_CODES",
    "MintJob",
    "Outcome",
    "Verdict",
    "group_by_meter",
    "job_reading",
    "judge_mint",
    "split_behind",
]

# No retry can fix these: the row is refused and counted under this reason.
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
        "WrongEdge",
        "WrongSigner",
        "InvalidSignature",
        "MalformedReading",
        "WindowNotAligned",
        "WindowLengthMismatch",
        "WindowBeforeRegistration",
        "WindowAlreadyMinted",
    }
)
# the reason of a BEHIND_CHAIN verdict (one constant: it is also a metric label)
BEHIND_CHAIN = "WindowBehindHighWaterMark"
# Not a verdict on the readings: the chain was unreachable or the outcome is unknown.
TRANSIENT_CODES = frozenset({"Unreachable", "RpcError", "BlockhashNotFound", "Unconfirmed", "WindowInFuture"})


@dataclass(frozen=True)
class MintJob:
    """One pending outbox row with its signed reading and what the chain needs about its meter."""

    outbox_id: int
    meter_id: str
    meter_pubkey: bytes
    owner_wallet: str
    edge_id: str
    reading: dict[str, object]  # the wire fields of the stored, signed reading
    amount: int  # base units: 1 Wh = 1,000 (what the chain must compute too)
    surplus_wh: int
    attempts: int  # sends before this claim
    sent_signatures: tuple[str, ...] = ()  # every transaction that carried this row
    accepted_at: float = 0.0  # unix time the reading was accepted (for latency metrics)

    @property
    def window_start(self) -> int:
        return int(self.reading["window_start"])  # type: ignore[call-overload]

    @property
    def window_end(self) -> int:
        return int(self.reading["window_end"])  # type: ignore[call-overload]


class Outcome(enum.StrEnum):
    CONFIRMED = "confirmed"  # minted by the transaction we just sent
    ALREADY_DONE = "already_done"  # an earlier transaction of ours minted it
    REFUSED = "refused"  # the program says no, for good
    FAILED = "failed"  # cannot be sent (unpackable, or out of attempts): for the operator
    BEHIND_CHAIN = "behind_chain"  # before the meter's on-chain high-water mark: never mintable
    RETRY = "retry"  # try again later (outage, unknown outcome, or another row's failure)


@dataclass(frozen=True)
class Verdict:
    job: MintJob
    outcome: Outcome
    reason: str = ""


def job_reading(job: MintJob) -> SignedReading:
    """The chain's view of a row's reading; raises ValueError when the stored row cannot be
    expressed as a canonical signed reading (that row alone fails)."""
    try:
        # with each value's type: 1, 1.0 and True are equal keys yet not equally valid readings
        key = tuple((k, type(v), v) for k, v in job.reading.items())
        # a row is claimed again each pass until its meter's transaction takes it: validate it once
        return _packed_once(key)
    except TypeError:  # an unhashable value (a hostile row): validated uncached (_packed names any error)
        return _packed(job.reading)


@lru_cache(maxsize=16384)
def _packed_once(items: tuple[tuple[str, type, object], ...]) -> SignedReading:
    return _packed({k: v for k, _, v in items})


def _packed(reading: Mapping[str, object]) -> SignedReading:
    try:
        return signed_reading(Reading.model_validate(reading))
    except Exception as exc:  # pydantic ValidationError, bad hex, out-of-range ints
        raise ValueError(f"unpackable reading: {exc}") from exc


def group_by_meter(
    jobs: Sequence[MintJob], fits: Callable[[list[MintJob]], int], solo: frozenset[int] = frozenset()
) -> list[list[MintJob]]:
    """Each meter's oldest jobs, in window order, as many as ``fits`` says one transaction takes
    (jobs in ``solo`` go alone: their last multi-window mint was refused as a whole)."""
    by_meter: dict[bytes, list[MintJob]] = {}
    for j in sorted(jobs, key=lambda j: (j.meter_pubkey, j.window_start)):
        by_meter.setdefault(j.meter_pubkey, []).append(j)
    out: list[list[MintJob]] = []
    for group in by_meter.values():
        if group[0].outbox_id in solo:
            out.append(group[:1])
            continue
        cut = next((i for i, j in enumerate(group) if j.outbox_id in solo), len(group))
        out.append(group[:cut][: max(1, fits(group[:cut]))])
    return out


def judge_mint(group: Sequence[MintJob], code: str | None, earlier_landed: bool = False) -> list[Verdict]:
    """Verdicts for the rows of one meter's mint transaction.

    ``code`` None: confirmed. A transient code: everything back to the queue. A refusal of a
    multi-window mint cannot say which window is at fault: all go back, to be sent alone. A
    single window refused as already minted is ALREADY_DONE only when an earlier transaction
    of ours carrying it landed (``earlier_landed``); otherwise it can never be minted."""
    if code is None:
        return [Verdict(j, Outcome.CONFIRMED) for j in group]
    if code in TRANSIENT_CODES or code not in REFUSAL_CODES:
        return [Verdict(j, Outcome.RETRY, code) for j in group]
    if len(group) > 1:
        return [Verdict(j, Outcome.RETRY, f"split:{code}") for j in group]
    if code == "WindowAlreadyMinted" and earlier_landed:
        return [Verdict(group[0], Outcome.ALREADY_DONE, code)]
    return [Verdict(group[0], Outcome.REFUSED, code)]


def split_behind(
    groups: Sequence[Sequence[MintJob]], marks: Mapping[bytes, int]
) -> tuple[list[list[MintJob]], list[Verdict]]:
    """Rows whose window starts before their meter's high-water mark (``marks``: by meter
    pubkey, a value the chain has reached, so never above its mark) can never be minted: a
    BEHIND_CHAIN verdict instead of a transaction that the chain refuses. Only rows never sent:
    one that was sent may be this worker's own mint (settled by its signatures)."""
    kept: list[list[MintJob]] = []
    behind: list[Verdict] = []
    for group in groups:
        mark = marks.get(group[0].meter_pubkey, 0)
        rest = []
        for j in group:
            if j.window_start < mark and not j.sent_signatures:
                behind.append(Verdict(j, Outcome.BEHIND_CHAIN, BEHIND_CHAIN))
            else:
                rest.append(j)
        if rest:
            kept.append(rest)
    return kept, behind

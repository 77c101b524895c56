"""Pure judgement of one flush: the stateful checks over many readings of many meters.

Readings of one meter are judged in seq order, each against the state the previous one left,
so a batch can carry a meter's whole backlog. A reading whose predecessors are missing
(:class:`ChainHole`) waits in memory only briefly and within bounds (``park``, see
:mod:`gateway._parking`: its predecessor is usually in another gateway's flush); otherwise
it is quarantined as ``chain_gap`` at once and its message acknowledged, so one edge's holes
never hold up another edge's readings (the broker sends at most ``receive_max``
unacknowledged messages). The quarantined reading is judged again when its meter's chain
advances, and after the gap grace its hole is skipped.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Generic, TypeVar

from gateway._checks import (
    Backfill,
    ChainHole,
    ContentRejected,
    MeterState,
    Policy,
    RegistryEntry,
    check_backfill,
    check_state,
)
from gridx.errors import ReadingRejected, Reason
from gridx.wire import Reading

__all__ = ["Candidate", "Judgement", "Rejection", "judge"]

Ref = TypeVar("Ref")


@dataclass(eq=False, slots=True)
class Candidate(Generic[Ref]):
    """A reading that passed schema, authority and signature; ``ref`` is its message."""

    ref: Ref
    reading: Reading
    entry: RegistryEntry
    hash: str
    first_seen: float  # monotonic seconds when taken in
    sent_at_ms: int  # the message's publish time, kept with the reading
    quarantine_id: int | None = None  # set when re-admitted from the quarantine (chain_gap)
    skip_hole: bool = False  # the gap grace is over: accept it across the missing readings
    park_until: float | None = None  # monotonic: parked (hole) no longer than this (_parking)


Admit = Callable[[Candidate[Ref]], bool]  # may this candidate with a hole wait in memory?


@dataclass(eq=False, slots=True)
class Rejection(Generic[Ref]):
    ref: Ref
    reason: Reason
    detail: str
    edge_id: str
    payload: str
    meter_id: str | None = None
    seq: int | None = None
    quarantine_id: int | None = None  # already in the quarantine: not written again
    chain_advanced: bool = False  # content refused, chain moved on (zero credit)


@dataclass(slots=True)
class Judgement(Generic[Ref]):
    accepted: list[Candidate[Ref]] = field(default_factory=list)
    rejected: list[Rejection[Ref]] = field(default_factory=list)
    states: dict[str, MeterState] = field(default_factory=dict)  # only meters whose chain advanced
    holes: list[tuple[str, int, int, str]] = field(default_factory=list)  # (meter, after_seq, before_seq, after_hash)
    backfilled: set[str] = field(default_factory=set)  # meters with a late reading credited in a hole
    parked: list[Candidate[Ref]] = field(default_factory=list)  # a hole, waiting in memory (_parking)


def judge(
    candidates: list[Candidate[Ref]],
    states: Mapping[str, MeterState],
    *,
    now_s: int,
    policy: Policy,
    stored: Mapping[str, set[int]] | None = None,
    stored_hashes: Mapping[tuple[str, int], str] | None = None,
    backfill: Mapping[str, Backfill] | None = None,
    park: Admit[Ref] | None = None,
) -> Judgement[Ref]:
    """``park``: may a candidate with a hole wait in memory (else it is quarantined)?"""
    out: Judgement[Ref] = Judgement()
    current = dict(states)
    late: list[Candidate[Ref]] = []
    for c in sorted(candidates, key=lambda c: (c.reading.meter_id, c.reading.seq)):
        r = c.reading
        state = current.get(r.meter_id) or MeterState(r.meter_id)
        windows = stored.get(r.meter_id, set()) if stored else set()
        known = stored_hashes.get((r.meter_id, r.seq)) if stored_hashes else None
        if r.seq < state.last_seq and known is None and backfill and r.meter_id in backfill:
            late.append(c)
            continue
        try:
            new = check_state(
                r, c.entry, state, now_s, policy, windows, c.hash, skip_hole=c.skip_hole, stored_hash=known
            )
        except ContentRejected as exc:
            _advance(out, current, state, exc.state)
            out.rejected.append(_reject(c, exc, advanced=True))
            continue
        except ChainHole as exc:
            _hole(out, c, exc, park)
            continue
        except ReadingRejected as exc:
            out.rejected.append(_reject(c, exc))
            continue
        _advance(out, current, state, new)
        out.accepted.append(c)
    _judge_late(out, late, now_s, policy, stored or {}, backfill or {}, park)
    return out


def _hole(out: Judgement[Ref], c: Candidate[Ref], exc: ChainHole, park: Admit[Ref] | None) -> None:
    if park is not None and park(c):
        out.parked.append(c)
    else:
        out.rejected.append(_reject(c, exc))


def _judge_late(
    out: Judgement[Ref],
    late: list[Candidate[Ref]],
    now_s: int,
    policy: Policy,
    stored: Mapping[str, set[int]],
    backfill: Mapping[str, Backfill],
    park: Admit[Ref] | None = None,
) -> None:
    """Backfills, highest seq first: each accepted one proves its predecessor."""
    proofs = {m: dict(b.successor_prev) for m, b in backfill.items()}
    for c in sorted(late, key=lambda c: (c.reading.meter_id, -c.reading.seq)):
        r = c.reading
        proof = Backfill(backfill[r.meter_id].holes, proofs[r.meter_id])
        try:
            check_backfill(r, c.entry, now_s, policy, proof, stored.get(r.meter_id, set()), c.hash)
        except ChainHole as exc:
            _hole(out, c, exc, park)
            continue
        except ReadingRejected as exc:
            out.rejected.append(_reject(c, exc))
            continue
        proofs[r.meter_id][r.seq] = r.prev_hash
        out.backfilled.add(r.meter_id)
        out.accepted.append(c)


def _advance(out: Judgement[Ref], current: dict[str, MeterState], old: MeterState, new: MeterState) -> None:
    if new.last_seq > old.last_seq + 1:
        out.holes.append((new.meter_id, old.last_seq, new.last_seq, old.last_hash))
    current[new.meter_id] = out.states[new.meter_id] = new


def _reject(c: Candidate[Ref], exc: ReadingRejected, *, advanced: bool = False) -> Rejection[Ref]:
    r = c.reading
    return Rejection(
        c.ref,
        exc.reason,
        exc.detail,
        c.entry.edge_id,
        r.model_dump_json(),
        r.meter_id,
        r.seq,
        c.quarantine_id,
        advanced,
    )

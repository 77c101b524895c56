"""Pure judgement of one flush: the stateful checks over many readings of many meters.

Readings of one meter are judged in seq order, each against the state the previous one left,
so a batch can carry a meter's whole backlog. A reading whose predecessors are missing
(:class:`ChainHole`) is *parked*: with several gateways on a shared subscription, consecutive
messages of one edge are processed by different processes and the later one may reach the
database first. When the meter's chain has not advanced for ``grace_s`` it becomes ``chain_gap``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Generic, TypeVar

from gateway._checks import ChainHole, MeterState, Policy, RegistryEntry, check_state
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
    first_seen: float  # monotonic seconds: taken in, or last saw its meter's chain advance
    sent_at_ms: int  # the message's publish time, kept with the reading
    seen_seq: int = -1  # the meter's last accepted seq when this was last parked
    quarantine_id: int | None = None  # set when re-admitted from the quarantine (chain_gap)


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


@dataclass(slots=True)
class Judgement(Generic[Ref]):
    accepted: list[Candidate[Ref]] = field(default_factory=list)
    rejected: list[Rejection[Ref]] = field(default_factory=list)
    parked: list[Candidate[Ref]] = field(default_factory=list)
    states: dict[str, MeterState] = field(default_factory=dict)  # only meters that advanced


def judge(
    candidates: list[Candidate[Ref]],
    states: Mapping[str, MeterState],
    *,
    now_s: int,
    mono_now: float,
    policy: Policy,
    grace_s: float,
    stored: Mapping[str, set[int]] | None = None,
) -> Judgement[Ref]:
    out: Judgement[Ref] = Judgement()
    current = dict(states)
    for c in sorted(candidates, key=lambda c: (c.reading.meter_id, c.reading.seq)):
        r = c.reading
        state = current.get(r.meter_id) or MeterState(r.meter_id)
        windows = stored.get(r.meter_id, set()) if stored else set()
        try:
            new = check_state(r, c.entry, state, now_s, policy, windows, c.hash)
        except ChainHole as exc:
            if state.last_seq > c.seen_seq:
                # the chain moved since this was parked: the grace counts time without progress,
                # so a long backlog split across gateways is not cut off while it drains
                out.parked.append(replace(c, first_seen=mono_now, seen_seq=state.last_seq))
            elif mono_now - c.first_seen < grace_s:
                out.parked.append(c)
            else:
                out.rejected.append(_reject(c, exc))
            continue
        except ReadingRejected as exc:
            out.rejected.append(_reject(c, exc))
            continue
        current[r.meter_id] = out.states[r.meter_id] = new
        out.accepted.append(c)
    return out


def _reject(c: Candidate[Ref], exc: ReadingRejected) -> Rejection[Ref]:
    r = c.reading
    return Rejection(
        c.ref, exc.reason, exc.detail, c.entry.edge_id, r.model_dump_json(), r.meter_id, r.seq, c.quarantine_id
    )

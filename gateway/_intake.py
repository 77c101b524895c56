"""Intake: from MQTT messages to candidates (schema, version, authority, signature) and
rejections. No database writes; the registry lookup is passed in."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Awaitable, Callable
from concurrent.futures import Executor
from dataclasses import dataclass

from gateway._checks import RegistryEntry, check_authority, parse_item, parse_message, topic_edge
from gateway._judge import Candidate, Rejection
from gateway._verify import verify_chunk
from gridx.errors import ReadingRejected, Reason
from gridx.wire import Reading

__all__ = ["READMITTED", "Lookup", "Msg", "Taken", "count_down", "readmit", "take_in", "unexpected"]

QUARANTINE_TEXT_MAX = 64 * 1024

Lookup = Callable[[set[str]], Awaitable[dict[str, RegistryEntry | None]]]


@dataclass(eq=False, slots=True)
class Msg:
    """One MQTT message in flight: acknowledged when ``outstanding`` reaches 0."""

    mid: int
    generation: int
    topic: str
    payload: bytes
    outstanding: int = 0
    accepted: int = 0
    sent_at_ms: int = 0
    qos: int = 1  # QoS 0 has no packet id and gets no PUBACK
    received_ms: int = 0  # wall clock: handed over by the network thread
    taken_ms: int = 0  # wall clock: parsed, looked up and verified


Taken = tuple[list[Candidate[Msg]], list[Rejection[Msg]]]
READMITTED = Msg(mid=-1, generation=-1, topic="", payload=b"")  # the ref of re-admitted readings


async def take_in(msgs: list[Msg], lookup: Lookup, pool: Executor, threads: int) -> Taken:
    """Parse, look up, authorise and verify a few messages. Returns the candidates and the
    rejections; the caller hands both over at once, so a shutdown that cancels this half-way
    leaves no message half taken in (it is simply redelivered)."""
    rejs: list[Rejection[Msg]] = []
    readings: list[tuple[Msg, Reading]] = []
    for m in msgs:
        try:
            readings += _parse(m, rejs)
        except Exception as exc:  # the per-message catch-all: quarantine the unforeseen, go on
            del rejs[len(rejs) - _mine(rejs, m) :]
            readings = [(mm, r) for mm, r in readings if mm is not m]
            rejs.append(unexpected(m, exc))
    checked: list[tuple[Msg, Reading, RegistryEntry]] = []
    if readings:
        entries = await lookup({r.meter_id for _, r in readings})
        for m, r in readings:
            try:
                checked.append((m, r, check_authority(r, _edge_of(m.topic), entries.get(r.meter_id))))
            except ReadingRejected as exc:
                rejs.append(_reading_rejection(m, r, exc))
    cands: list[Candidate[Msg]] = []
    for (m, r, entry), h in zip(checked, await _verify(checked, pool, threads), strict=True):
        if h is None:
            bad = ReadingRejected(Reason.BAD_SIGNATURE, "signature does not verify with the enrolled key")
            rejs.append(_reading_rejection(m, r, bad))
        else:
            cands.append(Candidate(m, r, entry, h, time.monotonic(), m.sent_at_ms))
    return cands, rejs


def _mine(rejs: list[Rejection[Msg]], m: Msg) -> int:
    """How many rejections at the end of ``rejs`` belong to ``m``."""
    n = 0
    while n < len(rejs) and rejs[len(rejs) - 1 - n].ref is m:
        n += 1
    return n


def unexpected(m: Msg, exc: BaseException) -> Rejection[Msg]:
    """The whole message, quarantined with the text of an error nobody foresaw."""
    m.outstanding = 1
    detail = f"{type(exc).__name__}: {exc}"[:500]
    return Rejection(m, Reason.UNEXPECTED, detail, _edge_of(m.topic), _text(m.payload))


def _parse(m: Msg, rejs: list[Rejection[Msg]]) -> list[tuple[Msg, Reading]]:
    try:
        edge = topic_edge(m.topic)
        batch = parse_message(m.payload, edge)
    except ReadingRejected as exc:
        m.outstanding = 1
        rejs.append(Rejection(m, exc.reason, exc.detail, _edge_of(m.topic), _text(m.payload)))
        return []
    m.sent_at_ms = batch.sent_at_ms
    m.outstanding = len(batch.readings)
    out: list[tuple[Msg, Reading]] = []
    for item in batch.readings:
        try:
            out.append((m, parse_item(item)))
        except ReadingRejected as exc:
            meter, seq = _ids_of(item)
            rejs.append(Rejection(m, exc.reason, exc.detail, edge, _json(item), meter, seq))
    return out


async def _verify(checked: list[tuple[Msg, Reading, RegistryEntry]], pool: Executor, threads: int) -> list[str | None]:
    if not checked:
        return []
    n = -(-len(checked) // threads)
    loop = asyncio.get_running_loop()
    chunks = [checked[i : i + n] for i in range(0, len(checked), n)]
    results = await asyncio.gather(*(loop.run_in_executor(pool, verify_chunk, ch) for ch in chunks))
    return [h for hashes in results for h in hashes]


async def readmit(
    rows: list[tuple[int, str, str]], busy: set[int], lookup: Lookup, pool: Executor, *, skip_hole: bool = False
) -> tuple[list[Candidate[Msg]], list[Rejection[Msg]]]:
    """Held (chain_gap) quarantine rows: judge them again (the missing predecessor may just
    have arrived; ``skip_hole``: the gap grace is over). Authority and signature are checked
    anew; a row that no longer passes them is closed with its new verdict."""
    fresh = [(i, e, p) for i, e, p in rows if i not in busy]
    parsed: list[tuple[int, str, Reading]] = []
    rejs: list[Rejection[Msg]] = []
    for qid, edge, payload in fresh:
        try:
            parsed.append((qid, edge, Reading.model_validate_json(payload)))
        except ValueError as exc:
            rejs.append(Rejection(READMITTED, Reason.MALFORMED, str(exc)[:300], edge, "", quarantine_id=qid))
    if not parsed:
        return [], rejs
    entries = await lookup({r.meter_id for _, _, r in parsed})
    checked: list[tuple[int, Reading, RegistryEntry]] = []
    for qid, edge, r in parsed:
        try:
            checked.append((qid, r, check_authority(r, edge, entries.get(r.meter_id))))
        except ReadingRejected as exc:
            rejs.append(Rejection(READMITTED, exc.reason, exc.detail, edge, "", r.meter_id, r.seq, qid))
    loop = asyncio.get_running_loop()
    hashes = await loop.run_in_executor(pool, verify_chunk, checked)
    now = time.monotonic()
    cands = []
    for (qid, r, entry), h in zip(checked, hashes, strict=True):
        if h is None:
            rejs.append(Rejection(READMITTED, Reason.BAD_SIGNATURE, "", entry.edge_id, "", r.meter_id, r.seq, qid))
        else:
            cands.append(Candidate(READMITTED, r, entry, h, now, 0, quarantine_id=qid, skip_hole=skip_hole))
    return cands, rejs


def _reading_rejection(m: Msg, r: Reading, exc: ReadingRejected) -> Rejection[Msg]:
    return Rejection(m, exc.reason, exc.detail, _edge_of(m.topic), r.model_dump_json(), r.meter_id, r.seq)


def _edge_of(topic: str) -> str:
    parts = topic.split("/")
    return parts[2][:64] if len(parts) == 4 else topic[:64]


def _text(payload: bytes) -> str:
    return payload.decode("utf-8", errors="replace")


def _ids_of(item: object) -> tuple[str | None, int | None]:
    """The meter id and seq an unreadable item claims, for the quarantine's columns."""
    if isinstance(item, Reading):
        return item.meter_id, item.seq
    if not isinstance(item, dict):
        return None, None
    meter, seq = item.get("meter_id"), item.get("seq")
    ok_seq = isinstance(seq, int) and not isinstance(seq, bool) and 0 <= seq < 2**63
    return (meter if isinstance(meter, str) else None), (seq if ok_seq else None)


def _json(item: object) -> str:
    if isinstance(item, Reading):
        return item.model_dump_json()
    try:
        return json.dumps(item)
    except (TypeError, ValueError, RecursionError):
        return repr(item)[:QUARANTINE_TEXT_MAX]


def count_down(accepted: list[Candidate[Msg]], rejected: list[Rejection[Msg]]) -> list[Msg]:
    """Tick each judged reading off its message (re-admitted rows belong to none); the
    messages with nothing left outstanding, ready to acknowledge."""
    done: list[Msg] = []
    for c in accepted:
        m = c.ref
        if c.quarantine_id is not None:
            continue
        m.accepted += 1
        m.outstanding -= 1
        if m.outstanding == 0:
            done.append(m)
    for q in rejected:
        m = q.ref
        m.outstanding -= 1
        if m.outstanding == 0:
            done.append(m)
    return done

"""Intake: from MQTT messages to candidates (schema, version, authority, signature) and
rejections. No database writes; the registry lookup is passed in."""

from __future__ import annotations

import asyncio
import contextlib
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

__all__ = ["READMITTED", "Lookup", "Msg", "Taken", "readmit", "take_in"]

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


Taken = tuple[list[Candidate[Msg]], list[Rejection[Msg]]]
READMITTED = Msg(mid=-1, generation=-1, topic="", payload=b"")  # the ref of re-admitted readings


async def take_in(msgs: list[Msg], lookup: Lookup, pool: Executor, threads: int) -> Taken:
    """Parse, look up, authorise and verify a few messages. Returns the candidates and the
    rejections; the caller hands both over at once, so a shutdown that cancels this half-way
    leaves no message half taken in (it is simply redelivered)."""
    rejs: list[Rejection[Msg]] = []
    cands: list[Candidate[Msg]] = []
    readings: list[tuple[Msg, Reading]] = []
    for m in msgs:
        try:
            edge = topic_edge(m.topic)
            batch = parse_message(m.payload, edge)
        except ReadingRejected as exc:
            m.outstanding = 1
            rejs.append(Rejection(m, exc.reason, exc.detail, _edge_of(m.topic), _text(m.payload)))
            continue
        m.sent_at_ms = batch.sent_at_ms
        m.outstanding = len(batch.readings)
        for item in batch.readings:
            try:
                readings.append((m, parse_item(item)))
            except ReadingRejected as exc:
                meter = item.get("meter_id") if isinstance(item, dict) else None
                rejs.append(
                    Rejection(m, exc.reason, exc.detail, edge, _json(item), meter if isinstance(meter, str) else None)
                )
    checked: list[tuple[Msg, Reading, RegistryEntry]] = []
    if readings:
        entries = await lookup({r.meter_id for _, r in readings})
        for m, r in readings:
            try:
                checked.append((m, r, check_authority(r, _edge_of(m.topic), entries.get(r.meter_id))))
            except ReadingRejected as exc:
                rejs.append(_reading_rejection(m, r, exc))
    if checked:
        n = -(-len(checked) // threads)
        loop = asyncio.get_running_loop()
        chunks = [checked[i : i + n] for i in range(0, len(checked), n)]
        results = await asyncio.gather(*(loop.run_in_executor(pool, verify_chunk, ch) for ch in chunks))
        now = time.monotonic()
        for chunk, hashes in zip(chunks, results, strict=True):
            for (m, r, entry), h in zip(chunk, hashes, strict=True):
                if h is None:
                    bad = ReadingRejected(Reason.BAD_SIGNATURE, "signature does not verify with the enrolled key")
                    rejs.append(_reading_rejection(m, r, bad))
                else:
                    cands.append(Candidate(m, r, entry, h, now, m.sent_at_ms))
    return cands, rejs


async def readmit(
    rows: list[tuple[int, str, str]], busy: set[int], lookup: Lookup, pool: Executor
) -> list[Candidate[Msg]]:
    """chain_gap quarantine rows of meters whose chain advanced: judge them again (the
    missing predecessor may just have arrived). Authority and signature are checked anew."""
    fresh = [(i, e, p) for i, e, p in rows if i not in busy]
    parsed: list[tuple[int, str, Reading]] = []
    for qid, edge, payload in fresh:
        with contextlib.suppress(ValueError):
            parsed.append((qid, edge, Reading.model_validate_json(payload)))
    if not parsed:
        return []
    entries = await lookup({r.meter_id for _, _, r in parsed})
    checked: list[tuple[int, Reading, RegistryEntry]] = []
    for qid, edge, r in parsed:
        with contextlib.suppress(ReadingRejected):
            checked.append((qid, r, check_authority(r, edge, entries.get(r.meter_id))))
    loop = asyncio.get_running_loop()
    hashes = await loop.run_in_executor(pool, verify_chunk, checked)
    now = time.monotonic()
    return [
        Candidate(READMITTED, r, entry, h, now, 0, quarantine_id=qid)
        for (qid, r, entry), h in zip(checked, hashes, strict=True)
        if h is not None
    ]


def _reading_rejection(m: Msg, r: Reading, exc: ReadingRejected) -> Rejection[Msg]:
    return Rejection(m, exc.reason, exc.detail, _edge_of(m.topic), r.model_dump_json(), r.meter_id, r.seq)


def _edge_of(topic: str) -> str:
    parts = topic.split("/")
    return parts[2] if len(parts) == 4 else topic[:64]


def _text(payload: bytes) -> str:
    return payload.decode("utf-8", errors="replace")


def _json(item: object) -> str:
    try:
        return json.dumps(item, default=str)
    except (TypeError, ValueError):
        return repr(item)

"""Pure reading checks (DESIGN §3): no I/O, no clock, no globals, so every verdict is a
unit test. The service calls them in the order the verdicts are specified:

schema → version → authority → signature → replay/fork → chain → duplicate → freshness →
window → plausibility (the last four are content: they advance the chain with zero credit).

The first three need only the registry and run before the database transaction (they are
where the CPU goes); the rest need the per-meter last-accepted state and run inside it.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field

from nacl.signing import VerifyKey
from pydantic import ValidationError

from gridx.errors import ReadingRejected, Reason
from gridx.plausibility import Counters, counter_problem, energy_problem, window_problem
from gridx.wire import (
    GENESIS_HASH,
    MAX_BATCH_BYTES,
    MAX_BATCH_READINGS,
    SCHEMA_VERSION,
    Batch,
    Reading,
    canonical_bytes,
    decode_batch,
    reading_hash,
)

__all__ = [
    "Backfill",
    "ChainHole",
    "ContentRejected",
    "MeterState",
    "Policy",
    "RegistryEntry",
    "check_authority",
    "check_backfill",
    "check_reading",
    "check_signature",
    "check_state",
    "parse_item",
    "parse_message",
    "topic_edge",
]


class ChainHole(ReadingRejected):
    """``chain_gap`` with readings missing in between (seq skips ahead): the predecessors may
    still be on their way (another gateway, an edge outbox), so the reading is held in the
    quarantine and judged again when its meter's chain advances, or past the gap grace."""

    def __init__(self, detail: str) -> None:
        super().__init__(Reason.CHAIN_GAP, detail)


class ContentRejected(ReadingRejected):
    """A reading whose signature and chain link verify but whose content is refused: it is
    quarantined with zero credit and still advances the meter's chain, so the meter's next
    reading (which the edge chains on it) is not stranded."""

    def __init__(self, reason: Reason, detail: str, state: MeterState) -> None:
        super().__init__(reason, detail)
        self.state = state


@dataclass(frozen=True, slots=True)
class RegistryEntry:
    meter_id: str
    pubkey_hex: str
    owner_wallet: str
    edge_id: str
    rated_power_w: int
    active: bool
    interval_s: int = 900
    credit_from: int | None = None  # unix seconds of enrolment: nothing earlier is credited

    @property
    def verify_key(self) -> VerifyKey:
        return VerifyKey(bytes.fromhex(self.pubkey_hex))


@dataclass(frozen=True, slots=True)
class MeterState:
    """Where a meter's chain stands (persisted in meter_state). ``last_window_end`` is the end
    of the last *credited* window; the counters are those of the last reading in the chain,
    credited or not, because the next reading's deltas are taken from them."""

    meter_id: str
    last_seq: int = 0
    last_hash: str = GENESIS_HASH
    last_window_end: int | None = None
    produced_total_wh: int | None = None
    consumed_total_wh: int | None = None

    def after(self, r: Reading, r_hash: str, *, credited: bool = True) -> MeterState:
        end = r.window_end if credited else self.last_window_end
        return MeterState(r.meter_id, r.seq, r_hash, end, r.produced_total_wh, r.consumed_total_wh)


@dataclass(frozen=True, slots=True)
class Policy:
    """Freshness: a window may end at most ``max_age_s`` before now (the edge keeps readings
    through outages, so this is hours, not seconds) and at most ``max_future_s`` after it
    (clock skew)."""

    max_age_s: int = 86_400
    max_future_s: int = 120


def topic_edge(topic: str) -> str:
    parts = topic.split("/")
    if len(parts) != 4 or parts[:2] != ["gridtokenx", "edge"] or parts[3] != "readings":
        raise ReadingRejected(Reason.MALFORMED, f"unexpected topic {topic[:200]!r}")
    return parts[2]


def parse_message(payload: bytes, edge_id: str) -> Batch:
    """The envelope: size, JSON shape, version, and that it names the edge it came from."""
    if len(payload) > MAX_BATCH_BYTES:
        raise ReadingRejected(Reason.OVERSIZED, f"{len(payload)} bytes > {MAX_BATCH_BYTES}")
    try:
        batch = decode_batch(payload)
    except ValidationError as exc:
        if any(e["type"] == "too_long" and e["loc"][:1] == ("readings",) for e in exc.errors()):
            raise ReadingRejected(Reason.OVERSIZED, "too many readings in one message") from None
        batch = _lenient(payload, exc)
    if batch.v != SCHEMA_VERSION:
        raise ReadingRejected(Reason.UNSUPPORTED_VERSION, f"message version {batch.v}")
    if batch.edge_id != edge_id:
        raise ReadingRejected(Reason.WRONG_EDGE, f"message names edge {batch.edge_id!r}, sent as {edge_id!r}")
    return batch


def _lenient(payload: bytes, exc: ValidationError) -> Batch:
    """A message the strict parser refused. pydantic's JSON parser refuses a lone-surrogate
    escape (``"\\ud800"``) wherever it is, so one such reading would sink its whole batch; the
    stdlib parser takes it, and the envelope is validated again from that document: each item
    that does not validate stays as it came and gets its own verdict (every string field of a
    reading is ASCII by pattern and unknown keys are forbidden, so none can be credited).
    Otherwise the verdict is the envelope's: an unsupported version, or malformed."""
    doc = _loads(payload)
    if isinstance(doc, dict) and any(e["type"] == "json_invalid" for e in exc.errors()):
        try:
            return Batch.model_validate(doc)
        except ValidationError as again:
            exc = again
    version = doc.get("v") if isinstance(doc, dict) else None
    if isinstance(version, int) and not isinstance(version, bool) and version != SCHEMA_VERSION:
        raise ReadingRejected(Reason.UNSUPPORTED_VERSION, f"message version {version!r:.40}") from None
    raise ReadingRejected(Reason.MALFORMED, _first_error(exc)) from None


def _loads(payload: bytes) -> object:
    """The stdlib's reading of a payload, None when it has none. Never raises: it also fails
    by RecursionError on deep nesting, or on huge numbers. More brackets than a full batch
    holds is no batch, and bounds the nesting the C parser may meet whatever recursion limit
    the process runs with (a raised one would let deep nesting overflow the C stack)."""
    if payload.count(b"[") + payload.count(b"{") > MAX_BATCH_READINGS + 8:
        return None
    try:
        return json.loads(payload)
    except (ValueError, RecursionError):
        return None


def _first_error(exc: ValidationError) -> str:
    e = exc.errors()[0]
    return f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}"[:500]


def parse_item(item: object) -> Reading:
    """One reading of a decoded batch: ``decode_batch`` left it as it came (any JSON value)
    when it did not validate."""
    if isinstance(item, Reading):
        if item.v != SCHEMA_VERSION:
            raise ReadingRejected(Reason.UNSUPPORTED_VERSION, f"reading version {item.v}")
        return item
    if not isinstance(item, dict):
        raise ReadingRejected(Reason.MALFORMED, f"a reading must be an object, not {type(item).__name__}")
    version = item.get("v", SCHEMA_VERSION)
    if version != SCHEMA_VERSION:
        raise ReadingRejected(Reason.UNSUPPORTED_VERSION, f"reading version {version!r:.40}")
    try:
        Reading.model_validate(item, strict=False)
    except ValidationError as exc:
        raise ReadingRejected(Reason.MALFORMED, _first_error(exc)) from None
    raise ReadingRejected(Reason.MALFORMED, "reading did not validate")  # lax passed, strict failed


def check_authority(r: Reading, edge_id: str, entry: RegistryEntry | None) -> RegistryEntry:
    if entry is None:
        raise ReadingRejected(Reason.UNKNOWN_METER, f"meter {r.meter_id!r} is not enrolled")
    if not entry.active:
        raise ReadingRejected(Reason.REVOKED_METER, f"meter {r.meter_id!r} is revoked")
    if entry.edge_id != edge_id:
        raise ReadingRejected(
            Reason.WRONG_EDGE, f"meter {r.meter_id!r} is served by {entry.edge_id!r}, not {edge_id!r}"
        )
    return entry


def check_signature(r: Reading, entry: RegistryEntry, message: bytes | None = None) -> None:
    """Against the ENROLLED key; ``message`` is ``canonical_bytes(r)`` when already computed."""
    try:
        entry.verify_key.verify(message if message is not None else canonical_bytes(r), bytes.fromhex(r.sig))
    except Exception:  # BadSignatureError, or a malformed key/signature: all one verdict
        raise ReadingRejected(Reason.BAD_SIGNATURE, f"signature does not verify with {r.meter_id!r}'s key") from None


def check_state(
    r: Reading,
    entry: RegistryEntry,
    state: MeterState,
    now_s: int,
    policy: Policy,
    stored_windows: Collection[int] = (),
    r_hash: str | None = None,
    *,
    skip_hole: bool = False,
    stored_hash: str | None = None,
) -> MeterState:
    """Replay and fork, chain link, then content (duplicate, freshness, window, plausibility).
    Returns the meter's next state. A content rejection raises :class:`ContentRejected`, which
    carries the state with the chain advanced and nothing credited. ``skip_hole``: the gap
    grace is over, the missing predecessors are skipped. ``stored_hash``: the hash of the
    meter's stored reading with this seq, when one is known (tells a fork from a replay)."""
    h = r_hash if r_hash is not None else reading_hash(r)
    if r.seq <= state.last_seq:
        if (r.seq == state.last_seq and h != state.last_hash) or (stored_hash is not None and stored_hash != h):
            raise ReadingRejected(Reason.FORKED, f"another reading with seq {r.seq} is already in the chain")
        raise ReadingRejected(Reason.REPLAYED, f"seq {r.seq} <= last accepted {state.last_seq}")
    hole = r.prev_hash != state.last_hash
    if hole:
        if r.seq == state.last_seq + 1:
            raise ReadingRejected(
                Reason.FORKED, f"prev_hash {r.prev_hash[:16]}… is not the hash of seq {state.last_seq}"
            )
        if not skip_hole:
            raise ChainHole(f"seq {state.last_seq + 1}..{r.seq - 1} missing")
    problem = _content_problem(r, entry, state, now_s, policy, stored_windows, hole=hole)
    if problem is not None:
        raise ContentRejected(problem[0], problem[1], state.after(r, h, credited=False))
    return state.after(r, h)


@dataclass(frozen=True, slots=True)
class Backfill:
    """What proves a late reading that falls in a skipped hole: the holes of its meter as
    (after_seq, before_seq), and ``successor_prev`` = the prev_hash of the reading with seq
    s + 1, for each s whose successor is in the chain."""

    holes: tuple[tuple[int, int], ...] = ()
    successor_prev: Mapping[int, str] = field(default_factory=dict)


def check_backfill(
    r: Reading,
    entry: RegistryEntry,
    now_s: int,
    policy: Policy,
    proof: Backfill,
    stored_windows: Collection[int] = (),
    r_hash: str | None = None,
) -> None:
    """A reading below the chain's head, inside a hole skipped after the gap grace: credited
    when its successor's prev_hash is its hash (the chain proves it is the one the meter
    signed in that place) and its content passes; the chain's head does not move."""
    h = r_hash if r_hash is not None else reading_hash(r)
    if not any(a < r.seq < b for a, b in proof.holes):
        raise ReadingRejected(Reason.REPLAYED, f"seq {r.seq} is below the chain's head and in no hole")
    succ = proof.successor_prev.get(r.seq + 1)
    if succ is None:
        raise ChainHole(f"backfill of seq {r.seq} waits for seq {r.seq + 1}")
    if succ != h:
        raise ReadingRejected(Reason.FORKED, f"seq {r.seq + 1} does not chain on this seq {r.seq}")
    if r.window_start in stored_windows:
        raise ReadingRejected(Reason.DUPLICATE, f"window {r.window_start} already stored")
    if r.window_end < now_s - policy.max_age_s or r.window_end > now_s + policy.max_future_s:
        raise ReadingRejected(Reason.STALE_OR_FUTURE, f"window ends at {r.window_end}, now {now_s}")
    span = r.window_end - r.window_start
    problem = window_problem(r.window_start, r.window_end, entry.interval_s, entry.credit_from) or energy_problem(
        r.produced_wh, r.consumed_wh, span, entry.rated_power_w
    )
    if problem is not None:
        raise ReadingRejected(Reason.IMPLAUSIBLE, problem)


def _content_problem(
    r: Reading,
    entry: RegistryEntry,
    state: MeterState,
    now_s: int,
    policy: Policy,
    stored_windows: Collection[int],
    *,
    hole: bool,
) -> tuple[Reason, str] | None:
    if r.window_start in stored_windows:
        return Reason.DUPLICATE, f"window {r.window_start} already stored"
    if r.window_end < now_s - policy.max_age_s or r.window_end > now_s + policy.max_future_s:
        return Reason.STALE_OR_FUTURE, f"window ends at {r.window_end}, now {now_s}"
    span = r.window_end - r.window_start
    problem = window_problem(r.window_start, r.window_end, entry.interval_s, entry.credit_from) or energy_problem(
        r.produced_wh, r.consumed_wh, span, entry.rated_power_w
    )
    if problem is None and state.last_window_end is not None and r.window_start < state.last_window_end:
        problem = f"window starts at {r.window_start}, before {state.last_window_end}"
    if problem is None:
        prev = None
        if state.produced_total_wh is not None and state.consumed_total_wh is not None:
            prev = Counters(state.produced_total_wh, state.consumed_total_wh)
        now = Counters(r.produced_total_wh, r.consumed_total_wh)
        allowance = entry.rated_power_w * span // 3600
        problem = counter_problem(prev, now, r.produced_wh, r.consumed_wh, allowance, hole=hole)
    return None if problem is None else (Reason.IMPLAUSIBLE, problem)


def check_reading(
    item: object,
    *,
    edge_id: str,
    entry: RegistryEntry | None,
    state: MeterState,
    now_s: int,
    policy: Policy,
    stored_windows: Collection[int] = (),
) -> tuple[Reading, MeterState]:
    """Every check in order, for one reading; raises ReadingRejected with the verdict."""
    r = parse_item(item)
    entry = check_authority(r, edge_id, entry)
    check_signature(r, entry)
    return r, check_state(r, entry, state, now_s, policy, stored_windows)

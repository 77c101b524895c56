"""Pure reading checks (DESIGN §3): no I/O, no clock, no globals, so every verdict is a
unit test. The service calls them in the order the verdicts are specified:

schema → version → authority → signature → replay → duplicate → freshness → plausibility → chain.

The first three need only the registry and run before the database transaction (they are
where the CPU goes); the rest need the per-meter last-accepted state and run inside it.
"""

from __future__ import annotations

import json
from collections.abc import Collection
from dataclasses import dataclass

from nacl.signing import VerifyKey
from pydantic import ValidationError

from gridx.errors import ReadingRejected, Reason
from gridx.wire import (
    GENESIS_HASH,
    MAX_BATCH_BYTES,
    SCHEMA_VERSION,
    Batch,
    Reading,
    canonical_bytes,
    decode_batch,
    reading_hash,
)

__all__ = [
    "ChainHole",
    "MeterState",
    "Policy",
    "RegistryEntry",
    "check_authority",
    "check_reading",
    "check_signature",
    "check_state",
    "parse_item",
    "parse_message",
    "topic_edge",
]


class ChainHole(ReadingRejected):
    """``chain_gap`` with readings missing in between (seq skips ahead): the predecessors may
    still be on their way through another gateway, so the service may hold it a while."""

    def __init__(self, detail: str) -> None:
        super().__init__(Reason.CHAIN_GAP, detail)


@dataclass(frozen=True, slots=True)
class RegistryEntry:
    meter_id: str
    pubkey_hex: str
    owner_wallet: str
    edge_id: str
    rated_power_w: int
    active: bool

    @property
    def verify_key(self) -> VerifyKey:
        return VerifyKey(bytes.fromhex(self.pubkey_hex))


@dataclass(frozen=True, slots=True)
class MeterState:
    """What the last accepted reading of a meter leaves behind (persisted in meter_state)."""

    meter_id: str
    last_seq: int = 0
    last_hash: str = GENESIS_HASH
    last_window_end: int | None = None
    produced_total_wh: int | None = None
    consumed_total_wh: int | None = None

    def after(self, r: Reading, r_hash: str) -> MeterState:
        return MeterState(r.meter_id, r.seq, r_hash, r.window_end, r.produced_total_wh, r.consumed_total_wh)


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
        raise ReadingRejected(Reason.MALFORMED, f"unexpected topic {topic!r}")
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
        version = _peek_version(payload)
        if version is not None and version != SCHEMA_VERSION:
            raise ReadingRejected(Reason.UNSUPPORTED_VERSION, f"message version {version}") from None
        raise ReadingRejected(Reason.MALFORMED, _first_error(exc)) from None
    if batch.v != SCHEMA_VERSION:
        raise ReadingRejected(Reason.UNSUPPORTED_VERSION, f"message version {batch.v}")
    if batch.edge_id != edge_id:
        raise ReadingRejected(Reason.WRONG_EDGE, f"message names edge {batch.edge_id!r}, sent as {edge_id!r}")
    return batch


def _peek_version(payload: bytes) -> object:
    try:
        doc = json.loads(payload)
    except ValueError:
        return None
    return doc.get("v") if isinstance(doc, dict) else None


def _first_error(exc: ValidationError) -> str:
    e = exc.errors()[0]
    return f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}"[:500]


def parse_item(item: Reading | dict[str, object]) -> Reading:
    """One reading of a decoded batch: ``decode_batch`` left it a dict when it did not validate."""
    if isinstance(item, Reading):
        if item.v != SCHEMA_VERSION:
            raise ReadingRejected(Reason.UNSUPPORTED_VERSION, f"reading version {item.v}")
        return item
    version = item.get("v", SCHEMA_VERSION)
    if version != SCHEMA_VERSION:
        raise ReadingRejected(Reason.UNSUPPORTED_VERSION, f"reading version {version!r}")
    try:
        Reading.model_validate(item, strict=False)
    except ValidationError as exc:
        raise ReadingRejected(Reason.MALFORMED, _first_error(exc)) from None
    raise ReadingRejected(Reason.MALFORMED, "reading did not validate")  # pragma: no cover - lax passed, strict failed


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
) -> MeterState:
    """Replay, duplicate, freshness, plausibility, chain. Returns the meter's next state."""
    if r.seq <= state.last_seq:
        raise ReadingRejected(Reason.REPLAYED, f"seq {r.seq} <= last accepted {state.last_seq}")
    if r.window_start in stored_windows:
        raise ReadingRejected(Reason.DUPLICATE, f"window {r.window_start} already stored")
    if r.window_end < now_s - policy.max_age_s or r.window_end > now_s + policy.max_future_s:
        raise ReadingRejected(Reason.STALE_OR_FUTURE, f"window ends at {r.window_end}, now {now_s}")
    _check_plausible(r, entry, state)
    if r.prev_hash != state.last_hash:
        detail = f"prev_hash {r.prev_hash[:16]}… is not the hash of seq {state.last_seq}"
        if r.seq > state.last_seq + 1:
            raise ChainHole(detail + f" (seq {state.last_seq + 1}..{r.seq - 1} missing)")
        raise ReadingRejected(Reason.CHAIN_GAP, detail)
    return state.after(r, r_hash if r_hash is not None else reading_hash(r))


def _check_plausible(r: Reading, entry: RegistryEntry, state: MeterState) -> None:
    span = r.window_end - r.window_start
    if span <= 0:
        raise ReadingRejected(Reason.IMPLAUSIBLE, f"window [{r.window_start}, {r.window_end}) is empty")
    if r.produced_wh < 0 or r.consumed_wh < 0:
        raise ReadingRejected(Reason.IMPLAUSIBLE, f"negative energy {r.produced_wh}/{r.consumed_wh} Wh")
    # integer form of produced_wh <= rated_power_w * span / 3600
    if r.produced_wh * 3600 > entry.rated_power_w * span:
        raise ReadingRejected(
            Reason.IMPLAUSIBLE, f"{r.produced_wh} Wh in {span} s exceeds rated {entry.rated_power_w} W"
        )
    if state.last_window_end is not None and r.window_start < state.last_window_end:
        raise ReadingRejected(Reason.IMPLAUSIBLE, f"window starts at {r.window_start}, before {state.last_window_end}")
    if state.produced_total_wh is not None and state.consumed_total_wh is not None:
        allowance = entry.rated_power_w * span // 3600
        for name, total, last, delta in (
            ("produced", r.produced_total_wh, state.produced_total_wh, r.produced_wh),
            ("consumed", r.consumed_total_wh, state.consumed_total_wh, r.consumed_wh),
        ):
            if _went_backwards(total, last, delta, allowance):
                raise ReadingRejected(
                    Reason.IMPLAUSIBLE, f"cumulative {name} counter went backwards: {last} -> {total}"
                )


def _went_backwards(total: int, last: int, delta: int, allowance_wh: int) -> bool:
    """A counter below its last accepted value is a fault, except a reset to zero: the edge
    re-baselines on the poll that sees the reset and signs no delta across it, so the next
    reading's counter holds its own delta plus at most what one window can accumulate after
    the reset. Energy is credited from the deltas, never from the totals, so accepting a reset
    credits nothing extra; rejecting it would strand every later reading of the meter."""
    return total < last and total - delta > allowance_wh


def check_reading(
    item: Reading | dict[str, object],
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

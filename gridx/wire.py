"""The reading wire contract (DESIGN §3): one module imported by edge, gateway and tests.

A reading is signed over a deterministic canonical byte encoding that starts with a domain
tag, never over JSON text, so any JSON re-serialisation on the way cannot change what was
signed. Readings travel in batches: one MQTT message carries many individually signed
readings, because per-message overhead, not verification, bounds a Python MQTT client.
"""

from __future__ import annotations

import hashlib
import re
import struct
from typing import Annotated, Any

from nacl.exceptions import BadSignatureError
from nacl.signing import SigningKey, VerifyKey
from pydantic import BaseModel, ConfigDict, Field, StringConstraints

__all__ = [
    "DOMAIN_TAG",
    "ENROL_TAG",
    "GATEWAY_USER",
    "GENESIS_HASH",
    "MAX_BATCH_BYTES",
    "MAX_BATCH_READINGS",
    "SCHEMA_VERSION",
    "Batch",
    "Reading",
    "ReadingChain",
    "UnsignedReading",
    "b58decode_key",
    "canonical_bytes",
    "decode_batch",
    "encode_batch",
    "enrolment_bytes",
    "is_gateway_user",
    "reading_hash",
    "readings_topic",
    "sign_enrolment_proof",
    "sign_reading",
    "verify_reading",
]

DOMAIN_TAG = b"gridtokenx/reading/v1"
SCHEMA_VERSION = 1
GENESIS_HASH = "00" * 32
MAX_BATCH_READINGS = 1000
MAX_BATCH_BYTES = 512 * 1024
TOPIC_PREFIX = "gridtokenx/edge"

MeterId = Annotated[str, StringConstraints(min_length=1, max_length=32, pattern=r"^[A-Za-z0-9_.-]+$")]
Hex32 = Annotated[str, StringConstraints(min_length=64, max_length=64, pattern=r"^[0-9a-f]{64}$")]
Hex64 = Annotated[str, StringConstraints(min_length=128, max_length=128, pattern=r"^[0-9a-f]{128}$")]
U63 = Annotated[int, Field(ge=0, le=2**63 - 1)]
I64 = Annotated[int, Field(ge=-(2**63), le=2**63 - 1)]

# version u16 | meter_id len u8 + bytes | seq u64 | window_start i64 | window_end i64 |
# produced_wh i64 | consumed_wh i64 | produced_total_wh u64 | consumed_total_wh u64 | prev_hash 32
_FIXED = struct.Struct(">QqqqqQQ32s")


class UnsignedReading(BaseModel):
    """Interval reading before signing. Times are UTC unix seconds; energy is integer Wh.

    produced_wh/consumed_wh may be negative on the wire so that the gateway, not the
    schema, names that verdict (``implausible``) and keeps it for audit.
    """

    model_config = ConfigDict(frozen=True, extra="forbid", strict=True)

    v: int = SCHEMA_VERSION
    meter_id: MeterId
    seq: U63
    window_start: I64
    window_end: I64
    produced_wh: I64
    consumed_wh: I64
    produced_total_wh: U63
    consumed_total_wh: U63
    prev_hash: Hex32 = GENESIS_HASH

    @property
    def surplus_wh(self) -> int:
        return self.produced_wh - self.consumed_wh


class Reading(UnsignedReading):
    """A signed reading; ``sig`` is the hex ed25519 signature over :func:`canonical_bytes`."""

    sig: Hex64


class Batch(BaseModel):
    """One MQTT message: many readings from one edge."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    v: int = SCHEMA_VERSION
    edge_id: MeterId
    sent_at_ms: U63
    # any JSON value: an item that is not a valid reading (even ``null``) stays as it came, so
    # the gateway quarantines it alone and keeps the good readings beside it
    readings: list[Reading | Any] = Field(max_length=MAX_BATCH_READINGS)


def canonical_bytes(r: UnsignedReading) -> bytes:
    """The exact bytes that are signed: domain tag, then every field in fixed order."""
    mid = r.meter_id.encode("ascii")
    return b"".join(
        (
            DOMAIN_TAG,
            b"\x00",
            r.v.to_bytes(2, "big"),
            len(mid).to_bytes(1, "big"),
            mid,
            _FIXED.pack(
                r.seq,
                r.window_start,
                r.window_end,
                r.produced_wh,
                r.consumed_wh,
                r.produced_total_wh,
                r.consumed_total_wh,
                bytes.fromhex(r.prev_hash),
            ),
        )
    )


def reading_hash(r: UnsignedReading) -> str:
    """Hash that the next reading of the same meter carries as ``prev_hash``."""
    return hashlib.sha256(canonical_bytes(r)).hexdigest()


def sign_reading(r: UnsignedReading, key: SigningKey) -> Reading:
    sig = key.sign(canonical_bytes(r)).signature
    return Reading(**r.model_dump(), sig=sig.hex())


class ReadingChain:
    """One meter's hash chain of signed readings, window after window: each reading carries
    the next ``seq``, the running totals and the hash of the one before (genesis first). Used
    wherever readings are made outside an edge agent: the development mint, tests, benches."""

    def __init__(self, key: SigningKey, meter_id: str) -> None:
        self.key, self.meter_id = key, meter_id
        self.seq = 0
        self.prev = GENESIS_HASH
        self.produced_total = self.consumed_total = 0

    def next(self, window_start: int, window_end: int, produced_wh: int, consumed_wh: int = 0) -> Reading:
        # totals are cumulative energy, so a negative (faulty) window value does not lower them
        self.seq += 1
        self.produced_total += max(produced_wh, 0)
        self.consumed_total += max(consumed_wh, 0)
        u = UnsignedReading(
            meter_id=self.meter_id,
            seq=self.seq,
            window_start=window_start,
            window_end=window_end,
            produced_wh=produced_wh,
            consumed_wh=consumed_wh,
            produced_total_wh=self.produced_total,
            consumed_total_wh=self.consumed_total,
            prev_hash=self.prev,
        )
        self.prev = reading_hash(u)
        return sign_reading(u, self.key)


def verify_reading(r: Reading, key: VerifyKey) -> bool:
    """True when ``sig`` is valid for the enrolled ``key`` (never a key from the message)."""
    try:
        key.verify(canonical_bytes(r), bytes.fromhex(r.sig))
    except (BadSignatureError, ValueError):
        return False
    return True


# broker users reserved for gateways, one per gateway process; no edge id may look like this
GATEWAY_USER = re.compile(r"^gateway(-[A-Za-z0-9_.-]+)?$")


def is_gateway_user(name: str) -> bool:
    return GATEWAY_USER.match(name) is not None


def readings_topic(edge_id: str) -> str:
    return f"{TOPIC_PREFIX}/{edge_id}/readings"


def encode_batch(edge_id: str, readings: list[Reading], sent_at_ms: int) -> bytes:
    return Batch(edge_id=edge_id, sent_at_ms=sent_at_ms, readings=list(readings)).model_dump_json().encode()


def decode_batch(payload: bytes) -> Batch:
    """Parse the envelope; each reading stays a raw dict when it does not validate, so the
    gateway can quarantine it alone without losing the good readings beside it."""
    return Batch.model_validate_json(payload)


# ---- enrolment: the meter key's proof of possession (checked on chain by register_meter)
ENROL_TAG = b"gridtokenx/enrol/v1\0"
_B58 = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"


def b58decode_key(text: str) -> bytes:
    """A base58 (Solana) public key as its 32 bytes; raises ValueError otherwise. Here, not in
    gridx.chain, so the edge's light install can sign an enrolment without the Solana stack."""
    n = 0
    for ch in text:
        i = _B58.find(ch)
        if i < 0:
            raise ValueError(f"not base58: {ch!r}")
        n = n * 58 + i
    pad = len(text) - len(text.lstrip("1"))
    raw = b"\0" * pad + (n.to_bytes((n.bit_length() + 7) // 8, "big") if n else b"")
    if len(raw) != 32:
        raise ValueError(f"a public key is 32 bytes, {text!r} decodes to {len(raw)}")
    return raw


def enrolment_bytes(meter: bytes, owner: bytes, edge_id: str | bytes) -> bytes:
    """What a meter key signs to prove possession at enrolment: bound to the owner and the edge,
    so a captured proof cannot enrol the key for someone else or behind another edge."""
    edge = edge_id.encode() if isinstance(edge_id, str) else edge_id
    if len(meter) != 32 or len(owner) != 32 or len(edge) > 32:
        raise ValueError("meter and owner are 32-byte keys, the edge id at most 32 bytes")
    return ENROL_TAG + meter + owner + edge.ljust(32, b"\0")


def sign_enrolment_proof(key: SigningKey, owner: bytes, edge_id: str | bytes) -> bytes:
    """The 64-byte proof of possession, made where the meter key lives (the edge)."""
    return bytes(key.sign(enrolment_bytes(key.verify_key.encode(), owner, edge_id)).signature)

"""Canonical encoding and signatures of the reading wire contract (property tests)."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st
from nacl.signing import SigningKey

from gridx import wire
from gridx.wire import (
    DOMAIN_TAG,
    Reading,
    UnsignedReading,
    canonical_bytes,
    decode_batch,
    encode_batch,
    sign_reading,
    verify_reading,
)

KEY = SigningKey(bytes(range(32)))
OTHER_KEY = SigningKey(bytes(range(1, 33)))
I64 = st.integers(-(2**63), 2**63 - 1)
U63 = st.integers(0, 2**63 - 1)
HEX32 = st.binary(min_size=32, max_size=32).map(bytes.hex)
METER_ID = st.from_regex(r"\A[A-Za-z0-9_.-]{1,32}\Z")

readings = st.builds(
    UnsignedReading,
    meter_id=METER_ID,
    seq=U63,
    window_start=I64,
    window_end=I64,
    produced_wh=I64,
    consumed_wh=I64,
    produced_total_wh=U63,
    consumed_total_wh=U63,
    prev_hash=HEX32,
)

FIELDS = [f for f in UnsignedReading.model_fields if f != "v"] + ["v"]


def _other(field: str, value: Any, draw: st.DrawFn) -> Any:
    """A valid value for ``field`` that differs from ``value``."""
    strategy: st.SearchStrategy[Any] = {
        "meter_id": METER_ID,
        "prev_hash": HEX32,
        "v": st.integers(0, 65535),
        "seq": U63,
        "produced_total_wh": U63,
        "consumed_total_wh": U63,
    }.get(field, I64)
    return draw(strategy.filter(lambda x: x != value))


@given(st.lists(readings, min_size=1, max_size=20), st.integers(0, 2**63 - 1))
def test_batch_round_trip_keeps_every_reading_verifiable(rs: list[UnsignedReading], sent_at: int) -> None:
    signed = [sign_reading(r, KEY) for r in rs]
    batch = decode_batch(encode_batch("edge-1", signed, sent_at))
    assert batch.edge_id == "edge-1" and batch.sent_at_ms == sent_at
    assert batch.readings == signed
    for r in batch.readings:
        assert isinstance(r, Reading)
        assert verify_reading(r, KEY.verify_key)
        assert canonical_bytes(r) == canonical_bytes(signed[batch.readings.index(r)])


@settings(max_examples=300)
@given(readings, st.sampled_from(FIELDS), st.data())
def test_changing_any_field_breaks_the_signature(r: UnsignedReading, field: str, data: st.DataObject) -> None:
    signed = sign_reading(r, KEY)
    forged = Reading(**{**signed.model_dump(), field: _other(field, getattr(r, field), data.draw)})
    assert canonical_bytes(forged) != canonical_bytes(signed)
    assert not verify_reading(forged, KEY.verify_key)


@given(readings)
def test_signature_is_bound_to_the_key(r: UnsignedReading) -> None:
    assert not verify_reading(sign_reading(r, OTHER_KEY), KEY.verify_key)


@given(readings, st.binary(min_size=1, max_size=40).filter(lambda t: t != DOMAIN_TAG))
def test_a_different_domain_tag_breaks_the_signature(r: UnsignedReading, tag: bytes) -> None:
    body = canonical_bytes(r)
    assert body.startswith(DOMAIN_TAG + b"\x00")
    foreign = tag + body[len(DOMAIN_TAG) :]
    sig = KEY.sign(foreign).signature.hex()
    assert not verify_reading(Reading(**r.model_dump(), sig=sig), KEY.verify_key)


@given(readings, readings)
def test_canonical_bytes_are_injective(a: UnsignedReading, b: UnsignedReading) -> None:
    assert (canonical_bytes(a) == canonical_bytes(b)) == (a == b)


@given(readings)
def test_hash_chain_links_through_reading_hash(r: UnsignedReading) -> None:
    nxt = r.model_copy(update={"seq": min(r.seq + 1, 2**63 - 1), "prev_hash": wire.reading_hash(r)})
    assert nxt.prev_hash == wire.reading_hash(sign_reading(r, KEY))

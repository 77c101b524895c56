"""Signature verification and hashing for a chunk of readings, run in a worker thread."""

from __future__ import annotations

import hashlib
from typing import Any

from nacl.exceptions import BadSignatureError
from nacl.signing import VerifyKey

from gateway._checks import RegistryEntry
from gridx.wire import Reading, canonical_bytes

__all__ = ["verify_chunk"]

_KEYS: dict[str, VerifyKey] = {}


def verify_chunk(items: list[tuple[Any, Reading, RegistryEntry]]) -> list[str | None]:
    """For each reading: its chain hash when the signature verifies with the ENROLLED key,
    else None. Canonical bytes are built once and serve both."""
    out: list[str | None] = []
    for _, r, entry in items:
        key = _KEYS.get(entry.pubkey_hex)
        if key is None:
            key = _KEYS[entry.pubkey_hex] = VerifyKey(bytes.fromhex(entry.pubkey_hex))
        msg = canonical_bytes(r)
        try:
            key.verify(msg, bytes.fromhex(r.sig))
        except (BadSignatureError, ValueError):
            out.append(None)
            continue
        out.append(hashlib.sha256(msg).hexdigest())
    return out

"""Per-meter ed25519 keys on the edge device: one 0600 file per meter holding the hex seed.

Keys are random (never derived from the meter id). Provisioning is idempotent: an existing
key is kept, because its public half may already be enrolled.
"""

from __future__ import annotations

from pathlib import Path

from nacl.signing import SigningKey

from gridx.errors import ConfigError
from gridx.paths import write_private

__all__ = ["ensure_key", "key_path", "load_key"]


def key_path(keys_dir: Path, meter_id: str) -> Path:
    return keys_dir / f"{meter_id}.key"


def load_key(keys_dir: Path, meter_id: str) -> SigningKey:
    path = key_path(keys_dir, meter_id)
    try:
        if path.stat().st_mode & 0o077:
            raise ConfigError(f"{path} is readable by others; expected mode 0600")
        return SigningKey(bytes.fromhex(path.read_text().strip()))
    except (OSError, ValueError) as exc:
        raise ConfigError(f"meter key {path}: {exc}") from exc


def ensure_key(keys_dir: Path, meter_id: str) -> str:
    """Create the meter's key unless it exists; return the public key (hex) to enrol."""
    path = key_path(keys_dir, meter_id)
    if not path.exists():
        write_private(path, SigningKey.generate().encode().hex().encode() + b"\n")
    return load_key(keys_dir, meter_id).verify_key.encode().hex()

"""Keypair files: the Solana CLI's JSON format (64-byte array), 0600, under .secrets/."""

from __future__ import annotations

import json
from pathlib import Path

from solders.keypair import Keypair

from gridx.errors import ConfigError
from gridx.paths import secrets_dir, write_private

__all__ = ["chain_secrets_dir", "load_keypair", "load_or_create_keypair", "save_keypair"]


def chain_secrets_dir() -> Path:
    return secrets_dir() / "chain"


def save_keypair(path: Path, kp: Keypair) -> None:
    write_private(path, json.dumps(list(bytes(kp))).encode())


def load_keypair(path: Path) -> Keypair:
    try:
        return Keypair.from_bytes(bytes(json.loads(path.read_text())))
    except (OSError, ValueError) as exc:
        raise ConfigError(f"cannot read keypair {path}: {exc}") from exc


def load_or_create_keypair(path: Path) -> Keypair:
    """Load ``path``; create it (0600) with a fresh random key if it does not exist."""
    if path.exists():
        return load_keypair(path)
    kp = Keypair()
    save_keypair(path, kp)
    return kp

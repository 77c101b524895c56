"""Project-local directories. Secrets and service data never live in the repo's tracked tree."""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["ROOT", "ensure_private_dir", "run_dir", "secrets_dir", "write_private"]

ROOT = Path(__file__).resolve().parent.parent


def secrets_dir() -> Path:
    return Path(os.environ.get("GRIDX_SECRETS_DIR", ROOT / ".secrets"))


def run_dir() -> Path:
    return Path(os.environ.get("GRIDX_RUN_DIR", ROOT / ".run"))


def ensure_private_dir(path: Path) -> Path:
    path.mkdir(parents=True, exist_ok=True, mode=0o700)
    path.chmod(0o700)
    return path


def write_private(path: Path, data: bytes) -> None:
    """Write a secret with 0600 from the first byte (no window where it is world-readable)."""
    ensure_private_dir(path.parent)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)
    path.chmod(0o600)

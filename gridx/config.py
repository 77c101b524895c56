"""One configuration vocabulary for every part.

Each part reads ``GRIDX_<PART>_*`` variables through its own settings model; the two settings
that every part shares also have one shared name, used when the part-specific one is unset:

* ``GRIDX_DSN``     — the PostgreSQL DSN (override: ``GRIDX_GATEWAY_DSN``, ``GRIDX_MINT_DSN``, …)
* ``GRIDX_RPC_URL`` — the Solana JSON-RPC URL (override: ``GRIDX_MINT_RPC_URL``, …), default
  ``DEFAULT_RPC_URL``, the local chain node's address (``gridx chain node``).

A settings model declares them with ``dsn_field(prefix)`` / ``rpc_url_field(prefix)`` and sets
``populate_by_name=True`` so keyword arguments (``Config(dsn=...)``) keep working.
"""

from __future__ import annotations

from typing import Any

from pydantic import AliasChoices, Field
from pydantic_core import PydanticUndefined

__all__ = ["DEFAULT_RPC_URL", "dsn_field", "rpc_url_field", "shared_field"]

DEFAULT_RPC_URL = "http://127.0.0.1:8899"


def shared_field(name: str, prefix: str, default: Any = PydanticUndefined, **kwargs: Any) -> Any:
    """A field read from ``<prefix><NAME>``, else ``GRIDX_<NAME>``, else ``default``."""
    choices = AliasChoices(f"{prefix}{name}".upper(), f"GRIDX_{name}".upper(), name)
    return Field(default, validation_alias=choices, **kwargs)


def dsn_field(prefix: str, default: Any = PydanticUndefined) -> Any:
    return shared_field("dsn", prefix, default)


def rpc_url_field(prefix: str, default: str = DEFAULT_RPC_URL) -> Any:
    return shared_field("rpc_url", prefix, default)

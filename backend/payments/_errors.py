"""Named errors of the THB payment leg (each a GridxError)."""

from __future__ import annotations

from gridx.errors import GridxError

__all__ = ["EvmReverted", "EvmTimeout", "EvmUnreachable", "SwapRefused"]


class EvmReverted(GridxError):
    """An EVM transaction or call was refused by a contract; ``reason`` is its revert string."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class EvmUnreachable(GridxError):
    """The EVM JSON-RPC endpoint did not answer (node down or restarting)."""


class EvmTimeout(GridxError):
    """A transaction did not reach the configured confirmations in time."""


class SwapRefused(GridxError):
    """A swap step was refused by the coordinator's rules (deadline rule, secret length, state)."""

    def __init__(self, code: str, detail: str = "") -> None:
        super().__init__(f"{code}: {detail}" if detail else code)
        self.code = code
        self.detail = detail

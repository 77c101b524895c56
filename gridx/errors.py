"""One exception tree for the whole project, and the gateway's named reason codes."""

from __future__ import annotations

import enum

__all__ = [
    "ChainError",
    "ConfigError",
    "GridxError",
    "ReadingRejected",
    "Reason",
    "ServiceError",
]


class Reason(enum.StrEnum):
    """Gateway verdicts for a rejected reading (DESIGN §3). Values are stable: they are
    stored in the quarantine table and used as metric labels."""

    MALFORMED = "malformed"
    UNSUPPORTED_VERSION = "unsupported_version"
    UNKNOWN_METER = "unknown_meter"
    REVOKED_METER = "revoked_meter"
    WRONG_EDGE = "wrong_edge"
    BAD_SIGNATURE = "bad_signature"
    REPLAYED = "replayed"
    DUPLICATE = "duplicate"
    STALE_OR_FUTURE = "stale_or_future"
    IMPLAUSIBLE = "implausible"
    CHAIN_GAP = "chain_gap"
    OVERSIZED = "oversized"
    # two readings on one predecessor, or a reading whose predecessor is not the meter's last
    FORKED = "forked"
    # the database refused the row (a constraint or data error, not an outage)
    DB_REFUSED = "db_refused"
    # the per-message catch-all: an error nobody foresaw; the detail holds its text
    UNEXPECTED = "unexpected"


class GridxError(Exception):
    """Base of every error this project raises on purpose."""


class ConfigError(GridxError):
    """Configuration is missing or invalid."""


class ServiceError(GridxError):
    """A local service (broker, database, chain node) could not be started or reached."""


class ChainError(GridxError):
    """A chain call failed; ``code`` is the program's named error when known and
    ``instruction_index`` the top-level instruction the runtime blames (transactions are
    atomic, so the other instructions of the same transaction did nothing)."""

    def __init__(self, message: str, code: str | None = None, instruction_index: int | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.instruction_index = instruction_index


class ReadingRejected(GridxError):
    """A reading failed a gateway check."""

    def __init__(self, reason: Reason, detail: str = "") -> None:
        super().__init__(f"{reason.value}: {detail}" if detail else reason.value)
        self.reason = reason
        self.detail = detail

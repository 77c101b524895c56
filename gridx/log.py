"""One structlog setup for every long-running part: JSON lines with level and UTC time."""

from __future__ import annotations

import logging
from typing import TextIO

__all__ = ["configure_logging"]


def configure_logging(json_logs: bool = True, stream: TextIO | None = None, level: int = logging.INFO) -> None:
    """``stream`` defaults to stdout (structlog's default)."""
    import structlog

    structlog.configure(
        processors=[
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.JSONRenderer() if json_logs else structlog.dev.ConsoleRenderer(),
        ],
        wrapper_class=structlog.make_filtering_bound_logger(level),
        logger_factory=structlog.PrintLoggerFactory(stream),
    )

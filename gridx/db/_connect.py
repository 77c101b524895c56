"""Connection helpers: one place that decides session settings for every caller."""

from __future__ import annotations

import psycopg

__all__ = ["aconnect", "connect"]

# Aggregates bucket in UTC whatever the server's default; the application name shows which
# part of the system holds a connection in pg_stat_activity.
_OPTIONS = "-c TimeZone=UTC"


def connect(dsn: str, *, autocommit: bool = False, app: str = "gridx") -> psycopg.Connection:
    return psycopg.connect(dsn, autocommit=autocommit, application_name=app, options=_OPTIONS)


async def aconnect(dsn: str, *, autocommit: bool = False, app: str = "gridx") -> psycopg.AsyncConnection:
    return await psycopg.AsyncConnection.connect(dsn, autocommit=autocommit, application_name=app, options=_OPTIONS)

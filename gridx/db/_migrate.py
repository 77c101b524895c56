"""Versioned migrations: ``sql/NNN_name.sql`` applied in order, each in its own transaction.

An advisory lock serialises concurrent migrators (two gateways starting together); a
``schema_migrations`` row per version makes a second run a no-op; a checksum catches an
applied migration that was edited afterwards (write a new one instead).
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path

from gridx.db._connect import connect
from gridx.errors import GridxError
from gridx.paths import ROOT

__all__ = ["SQL_DIR", "Migration", "MigrationError", "applied_versions", "load_migrations", "migrate"]

SQL_DIR = ROOT / "sql"
# any constant: the key every gridx migrator agrees on
_LOCK_KEY = 0x67726478_6D6967
_NAME = re.compile(r"^(\d{3})_([a-z0-9_]+)\.sql$")


class MigrationError(GridxError):
    """A migration file is invalid, or an applied one was changed."""


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    sql: str

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.sql.encode()).hexdigest()


def load_migrations(sql_dir: Path = SQL_DIR) -> list[Migration]:
    found: dict[int, Migration] = {}
    for path in sorted(sql_dir.glob("*.sql")):
        m = _NAME.match(path.name)
        if m is None:
            raise MigrationError(f"{path.name}: migration files are named NNN_name.sql")
        version = int(m.group(1))
        if version in found:
            raise MigrationError(f"two migrations with version {version:03d}")
        found[version] = Migration(version, m.group(2), path.read_text())
    return [found[v] for v in sorted(found)]


_BOOKKEEPING = """
CREATE TABLE IF NOT EXISTS schema_migrations (
    version     integer PRIMARY KEY,
    name        text NOT NULL,
    checksum    text NOT NULL,
    applied_at  timestamptz NOT NULL DEFAULT now()
)"""


def applied_versions(dsn: str) -> dict[int, str]:
    """version -> checksum of what the database has applied."""
    with connect(dsn, autocommit=True, app="gridx-migrate") as conn:
        if conn.execute("SELECT to_regclass('schema_migrations')").fetchone() == (None,):
            return {}
        return {v: c for v, c in conn.execute("SELECT version, checksum FROM schema_migrations")}


def migrate(dsn: str, sql_dir: Path = SQL_DIR) -> list[int]:
    """Apply what is missing; returns the versions applied by this call (empty: up to date)."""
    migrations = load_migrations(sql_dir)
    done: list[int] = []
    with connect(dsn, autocommit=True, app="gridx-migrate") as conn:
        conn.execute("SELECT pg_advisory_lock(%s)", (_LOCK_KEY,))
        try:
            conn.execute(_BOOKKEEPING)
            applied = {v: c for v, c in conn.execute("SELECT version, checksum FROM schema_migrations")}
            for mig in migrations:
                if mig.version in applied:
                    if applied[mig.version] != mig.checksum:
                        raise MigrationError(f"migration {mig.version:03d}_{mig.name} changed after it was applied")
                    continue
                with conn.transaction():
                    conn.execute(mig.sql.encode())  # bytes: no parameters, several statements
                    conn.execute(
                        "INSERT INTO schema_migrations (version, name, checksum) VALUES (%s, %s, %s)",
                        (mig.version, mig.name, mig.checksum),
                    )
                done.append(mig.version)
        finally:
            conn.execute("SELECT pg_advisory_unlock(%s)", (_LOCK_KEY,))
    return done

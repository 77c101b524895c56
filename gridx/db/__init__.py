"""Database access shared by the gateway and the API: connections, migrations, queries."""

from gridx.db._connect import aconnect, connect
from gridx.db._migrate import MigrationError, applied_versions, migrate
from gridx.db._queries import (
    Aggregate,
    StoredReading,
    aggregates,
    readings_for_meter,
    surplus_available_wh,
)

__all__ = [
    "Aggregate",
    "MigrationError",
    "StoredReading",
    "aconnect",
    "aggregates",
    "applied_versions",
    "connect",
    "migrate",
    "readings_for_meter",
    "surplus_available_wh",
]

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
from gridx.db._registry import EnrolmentError, MeterRecord, enroll_meter, list_meters, revoke_meter

__all__ = [
    "Aggregate",
    "EnrolmentError",
    "MeterRecord",
    "MigrationError",
    "StoredReading",
    "aconnect",
    "aggregates",
    "applied_versions",
    "connect",
    "enroll_meter",
    "list_meters",
    "migrate",
    "readings_for_meter",
    "revoke_meter",
    "surplus_available_wh",
]

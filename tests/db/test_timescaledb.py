"""What TimescaleDB adds, exercised for real: the hypertable and its chunks, continuous
aggregates (refreshed explicitly: never wait for the job scheduler), compression of old chunks
with every reading still readable and still unique, and the jobs registered, with no retention.

Skipped on plain PostgreSQL (``GRIDX_PG_FLAVOR=plain``); ``make test`` runs them with
``GRIDX_PG_FLAVOR=timescaledb`` so a missing extension fails instead of skipping.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import psycopg
import pytest

from gridx.db import aconnect, enroll_meter, migrate, readings_for_meter
from gridx.services import PostgresServer
from tests.helpers.db import insert_reading
from tests.helpers.gateway import wallet

DAY0 = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0) - timedelta(days=10)
WINDOWS_PER_DAY = 96  # 15-minute windows


@pytest.fixture
def ts_dsn(pg_server: PostgresServer, pg_dsn: str) -> Iterator[str]:
    if pg_server.flavor != "timescaledb":
        pytest.skip("plain PostgreSQL (GRIDX_PG_FLAVOR=plain)")
    migrate(pg_dsn)
    yield pg_dsn


def _fill(dsn: str, meters: tuple[str, ...] = ("m1", "m2"), days: int = 2) -> int:
    """``days`` full days of 15-minute readings from DAY0 for each meter; returns the row count."""
    with psycopg.connect(dsn) as conn:
        for i, mid in enumerate(meters):
            enroll_meter(
                conn, meter_id=mid, pubkey_hex=f"{i:064x}", owner_wallet=wallet(), edge_id="e", rated_power_w=5000
            )
        for mid in meters:
            for k in range(days * WINDOWS_PER_DAY):
                insert_reading(conn, mid, DAY0 + timedelta(minutes=15 * k), produced=k % 7, consumed=3, seq=k + 1)
        conn.commit()
    return len(meters) * days * WINDOWS_PER_DAY


def test_readings_is_a_hypertable_with_one_chunk_per_day(ts_dsn: str) -> None:
    _fill(ts_dsn, days=3)
    with psycopg.connect(ts_dsn) as conn:
        dims = conn.execute(
            """SELECT column_name, time_interval FROM timescaledb_information.dimensions
               WHERE hypertable_name = 'readings'"""
        ).fetchall()
        assert dims == [("window_start", timedelta(days=1))]
        chunks = conn.execute("SELECT count(*) FROM show_chunks('readings')").fetchone()
        assert chunks == (3,)


def _hourly(conn: psycopg.Connection) -> list[tuple[datetime, int, int]]:
    rows = conn.execute(
        "SELECT bucket, readings, produced_wh FROM readings_hourly WHERE meter_id = 'm1' ORDER BY bucket"
    ).fetchall()
    return [(b, int(n), int(p)) for b, n, p in rows]


def test_continuous_aggregates_materialise_on_an_explicit_refresh(ts_dsn: str) -> None:
    _fill(ts_dsn, days=1)
    with psycopg.connect(ts_dsn, autocommit=True) as conn:
        # materialised rows only: real-time aggregation would hide whether the refresh happened
        for view in ("readings_hourly", "readings_daily"):
            conn.execute(f"ALTER MATERIALIZED VIEW {view} SET (timescaledb.materialized_only = true)")
        assert _hourly(conn) == []
        conn.execute("CALL refresh_continuous_aggregate('readings_hourly', NULL, NULL)")
        conn.execute("CALL refresh_continuous_aggregate('readings_daily', NULL, NULL)")
        hourly = _hourly(conn)
        assert len(hourly) == 24 and all(n == 4 for _, n, _ in hourly)
        assert hourly[0] == (DAY0, 4, 0 + 1 + 2 + 3)
        daily = conn.execute("SELECT bucket, readings FROM readings_daily WHERE meter_id = 'm2'").fetchall()
        assert daily == [(DAY0, WINDOWS_PER_DAY)]


async def test_old_chunks_compress_and_every_reading_stays_readable_and_unique(ts_dsn: str) -> None:
    total = _fill(ts_dsn, days=2)
    with psycopg.connect(ts_dsn, autocommit=True) as conn:
        before = conn.execute("SELECT meter_id, window_start, seq, produced_wh FROM readings ORDER BY 1, 2").fetchall()
        compressed = conn.execute(
            "SELECT count(compress_chunk(c)) FROM show_chunks('readings', older_than => interval '7 days') c"
        ).fetchone()
        assert compressed == (2,)
        flags = conn.execute(
            "SELECT bool_and(is_compressed) FROM timescaledb_information.chunks WHERE hypertable_name = 'readings'"
        ).fetchone()
        assert flags == (True,)
        after = conn.execute("SELECT meter_id, window_start, seq, produced_wh FROM readings ORDER BY 1, 2").fetchall()
        assert after == before and len(after) == total
        # the database still makes a reading stored once, compressed or not
        with pytest.raises(psycopg.errors.UniqueViolation):
            insert_reading(conn, "m1", DAY0, produced=1, consumed=0, seq=999)
    async with await aconnect(ts_dsn) as aconn:
        rows = await readings_for_meter(aconn, "m2", DAY0, DAY0 + timedelta(hours=1))
        assert [r.seq for r in rows] == [1, 2, 3, 4]


def test_policies_are_registered_and_raw_readings_are_never_dropped(ts_dsn: str) -> None:
    with psycopg.connect(ts_dsn) as conn:
        jobs = conn.execute(
            """SELECT proc_name, coalesce(hypertable_name, '') FROM timescaledb_information.jobs
               WHERE proc_schema = '_timescaledb_functions' AND proc_name LIKE 'policy_%' ORDER BY 1"""
        ).fetchall()
    procs = [p for p, _ in jobs]
    assert procs.count("policy_refresh_continuous_aggregate") == 2
    assert procs.count("policy_compression") == 1
    assert "policy_retention" not in procs  # signed readings are the audit trail (migration 030)

"""Migrations and read-side queries on a real PostgreSQL, with or without TimescaleDB
(``GRIDX_PG_FLAVOR``; `make test` runs them on both)."""

from __future__ import annotations

import shutil
import threading
from datetime import UTC, datetime, timedelta

import psycopg
import pytest

from gridx.db import (
    MigrationError,
    aconnect,
    aggregates,
    applied_versions,
    enroll_meter,
    migrate,
    readings_for_meter,
    surplus_available_wh,
)
from gridx.db._migrate import SQL_DIR, load_migrations
from tests.helpers.db import insert_reading
from tests.helpers.gateway import wallet

T0 = datetime(2026, 11, 24, 10, 0, tzinfo=UTC)


def test_migrations_apply_once_and_twice_is_a_no_op(pg_dsn):
    versions = [m.version for m in load_migrations()]
    assert migrate(pg_dsn) == versions
    assert migrate(pg_dsn) == []
    assert sorted(applied_versions(pg_dsn)) == versions


def test_concurrent_migrators_do_not_collide(pg_dsn):
    results: list[list[int]] = []
    errors: list[BaseException] = []

    def run() -> None:
        try:
            results.append(migrate(pg_dsn))
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=run) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert sorted(map(len, results)) == [0, 0, len(load_migrations())]


def test_an_edited_migration_is_refused(pg_dsn, tmp_path):
    sql = tmp_path / "sql"
    shutil.copytree(SQL_DIR, sql, ignore=shutil.ignore_patterns("*.md"))
    migrate(pg_dsn, sql)
    first = sorted(sql.glob("001_*.sql"))[0]
    first.write_text(first.read_text() + "\n-- edited\n")
    with pytest.raises(MigrationError):
        migrate(pg_dsn, sql)


async def test_queries_return_the_right_sums(pg_dsn):
    migrate(pg_dsn)
    owner, other = wallet(), wallet()
    with psycopg.connect(pg_dsn) as conn:
        for i, (mid, who) in enumerate((("m1", owner), ("m2", owner), ("m3", other))):
            enroll_meter(conn, meter_id=mid, pubkey_hex=f"{i:064x}", owner_wallet=who, edge_id="e", rated_power_w=5000)
        # m1: 8 windows of 15 min over two hours (10:00-12:00) and one the next day
        for k in range(8):
            insert_reading(
                conn, "m1", T0 + timedelta(minutes=15 * k), produced=100 + k, consumed=120 if k == 0 else 40, seq=k + 1
            )
        insert_reading(conn, "m1", T0 + timedelta(days=1), produced=10, consumed=0, seq=9)
        insert_reading(conn, "m2", T0, produced=500, consumed=100, seq=1)
        insert_reading(conn, "m3", T0, produced=999, consumed=0, seq=1)
        conn.execute("INSERT INTO surplus_reservations (ref, owner_wallet, wh) VALUES ('order-1', %s, 150)", (owner,))
        conn.commit()

    async with await aconnect(pg_dsn) as conn:
        rows = await readings_for_meter(conn, "m1", T0, T0 + timedelta(hours=1))
        assert [r.seq for r in rows] == [1, 2, 3, 4]
        assert rows[0].surplus_wh == -20

        hourly = await aggregates(conn, "m1", T0, T0 + timedelta(days=2), "hour")
        assert [(a.bucket, a.readings) for a in hourly] == [
            (T0, 4),
            (T0 + timedelta(hours=1), 4),
            (T0 + timedelta(days=1), 1),
        ]
        h0 = hourly[0]
        assert (h0.produced_wh, h0.consumed_wh) == (100 + 101 + 102 + 103, 120 + 40 * 3)
        assert h0.net_wh == h0.produced_wh - h0.consumed_wh
        assert h0.surplus_wh == (101 - 40) + (102 - 40) + (103 - 40)  # the deficit window mints nothing

        daily = await aggregates(conn, "m1", T0 - timedelta(hours=10), T0 + timedelta(days=2), "day")
        assert [a.readings for a in daily] == [8, 1]
        assert daily[0].produced_wh == sum(100 + k for k in range(8))

        positive_m1 = sum(100 + k - 40 for k in range(1, 8)) + 10
        assert await surplus_available_wh(conn, owner) == positive_m1 + 400 - 150
        assert await surplus_available_wh(conn, other) == 999
        assert await surplus_available_wh(conn, wallet()) == 0

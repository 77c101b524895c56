"""Read-side query functions (readings, aggregates, surplus). Async: the API is async."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal

import psycopg
from psycopg.rows import class_row

__all__ = ["Aggregate", "StoredReading", "aggregates", "readings_for_meter", "surplus_available_wh"]


@dataclass(frozen=True)
class StoredReading:
    meter_id: str
    seq: int
    window_start: datetime
    window_end: datetime
    produced_wh: int
    consumed_wh: int
    surplus_wh: int
    produced_total_wh: int
    consumed_total_wh: int
    hash: str
    edge_id: str


@dataclass(frozen=True)
class Aggregate:
    meter_id: str
    bucket: datetime
    produced_wh: int
    consumed_wh: int
    net_wh: int  # produced - consumed, may be negative
    surplus_wh: int  # sum of the positive per-window surplus (what can be minted)
    readings: int


async def readings_for_meter(
    conn: psycopg.AsyncConnection, meter_id: str, start: datetime, end: datetime, limit: int = 10_000
) -> list[StoredReading]:
    """Readings whose window starts in [start, end), oldest first."""
    async with conn.cursor(row_factory=class_row(StoredReading)) as cur:
        await cur.execute(
            """SELECT meter_id, seq, window_start, window_end, produced_wh, consumed_wh, surplus_wh,
                      produced_total_wh, consumed_total_wh, hash, edge_id
                 FROM readings
                WHERE meter_id = %s AND window_start >= %s AND window_start < %s
                ORDER BY window_start LIMIT %s""",
            (meter_id, start, end, limit),
        )
        return await cur.fetchall()


async def aggregates(
    conn: psycopg.AsyncConnection,
    meter_id: str,
    start: datetime,
    end: datetime,
    bucket: Literal["hour", "day"] = "hour",
) -> list[Aggregate]:
    """Per-bucket sums for one meter, buckets starting in [start, end) (UTC buckets)."""
    view = {"hour": "readings_hourly", "day": "readings_daily"}[bucket]
    async with conn.cursor(row_factory=class_row(Aggregate)) as cur:
        await cur.execute(
            f"""SELECT meter_id, bucket, produced_wh, consumed_wh, net_wh, surplus_wh, readings
                  FROM {view}
                 WHERE meter_id = %s AND bucket >= %s AND bucket < %s
                 ORDER BY bucket""",  # noqa: S608 - view is one of two fixed names
            (meter_id, start, end),
        )
        return await cur.fetchall()


async def surplus_available_wh(conn: psycopg.AsyncConnection, owner_wallet: str) -> int:
    """Accepted positive surplus of the owner's meters minus energy reserved by open sell
    offers (``surplus_reservations``). Accepted, not minted: minting lags acceptance by
    seconds and a later issue may switch this to confirmed mints once trading settles on chain."""
    cur = await conn.execute("SELECT surplus_available_wh(%s)", (owner_wallet,))
    row = await cur.fetchone()
    return int(row[0]) if row else 0

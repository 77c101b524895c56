"""What the operator's dashboard reads besides the book feed, each panel one query: the
gateway's health (accepted readings, open quarantine by reason, meters not advancing), the
hourly production and consumption of the most active meters, recent mints and swaps in flight."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel

__all__ = ["Overview", "overview"]

# a meter is "not advancing" after three of its own intervals without an accepted reading
# (the gateway's gridx_gateway_meter_stalled_seconds gauge uses the same rule)
_STALLED = """
SELECT m.meter_id, extract(epoch FROM now() - s.updated_at)::bigint
  FROM meters m JOIN meter_state s ON s.meter_id = m.meter_id
 WHERE m.status = 'active' AND s.updated_at < now() - make_interval(secs => 3 * m.interval_s)
 ORDER BY s.updated_at LIMIT 50
"""
_QUARANTINE = """
SELECT reason, count(*) FROM quarantine
 WHERE readmitted_at IS NULL GROUP BY reason ORDER BY reason
"""
# the meters with the most readings in the window: a chart per meter stays readable
_HOURLY = """
WITH top AS (
    SELECT meter_id FROM readings_hourly WHERE bucket >= now() - make_interval(hours => %(hours)s)
     GROUP BY meter_id ORDER BY sum(readings) DESC, meter_id LIMIT %(meters)s)
SELECT h.meter_id, h.bucket, h.produced_wh, h.consumed_wh
  FROM readings_hourly h JOIN top USING (meter_id)
 WHERE h.bucket >= now() - make_interval(hours => %(hours)s)
 ORDER BY h.meter_id, h.bucket
"""
_MINTS = """
SELECT meter_id, window_start, window_end, amount, tx_signature, slot
  FROM token_mints ORDER BY id DESC LIMIT %s
"""
_SWAPS = """
SELECT swap_id, status, grxe, grx, thbc, evm_leg, sol_leg, created_at
  FROM payment_swaps WHERE status NOT IN ('completed', 'refunded', 'abandoned', 'broken')
 ORDER BY created_at DESC LIMIT %s
"""


class HourView(BaseModel):
    bucket: datetime
    produced_wh: int
    consumed_wh: int


class MeterHours(BaseModel):
    meter_id: str
    hours: list[HourView]


class MintRow(BaseModel):
    meter_id: str
    window_start: datetime
    window_end: datetime
    amount: int
    tx_signature: str
    slot: int | None


class StalledMeter(BaseModel):
    meter_id: str
    seconds: int


class GatewayHealth(BaseModel):
    accepted: int  # readings stored
    quarantined: dict[str, int]  # refused and never readmitted, by reason
    stalled: list[StalledMeter]


class SwapRow(BaseModel):
    swap_id: str
    status: str
    grxe: int
    grx: int
    thbc: int
    evm_leg: str
    sol_leg: str
    created_at: datetime


class Overview(BaseModel):
    market: str
    gateway: GatewayHealth
    meters: list[MeterHours]
    mints: list[MintRow]
    swaps: list[SwapRow]


async def _rows(conn: Any, sql: str, args: Any = None) -> list[tuple[Any, ...]]:
    return list(await (await conn.execute(sql, args)).fetchall())


async def overview(conn: Any, market: str, hours: int, meters: int, limit: int) -> Overview:
    """Every panel's data from one read-only snapshot (so the panels agree with each other)."""
    async with conn.transaction():
        await conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")
        # pg_class.reltuples would be cheaper but is only an estimate; the panel shows an exact count
        accepted = (await _rows(conn, "SELECT count(*) FROM readings"))[0][0]
        quarantined = {str(r): int(n) for r, n in await _rows(conn, _QUARANTINE)}
        stalled = [StalledMeter(meter_id=m, seconds=int(s)) for m, s in await _rows(conn, _STALLED)]
        hourly = await _rows(conn, _HOURLY, {"hours": hours, "meters": meters})
        mints = await _rows(conn, _MINTS, (limit,))
        swaps = await _rows(conn, _SWAPS, (limit,))
    by_meter: dict[str, list[HourView]] = {}
    for meter_id, bucket, produced, consumed in hourly:
        by_meter.setdefault(meter_id, []).append(
            HourView(bucket=bucket, produced_wh=int(produced), consumed_wh=int(consumed))
        )
    return Overview(
        market=market,
        gateway=GatewayHealth(accepted=int(accepted), quarantined=quarantined, stalled=stalled),
        meters=[MeterHours(meter_id=m, hours=h) for m, h in by_meter.items()],
        mints=[
            MintRow(meter_id=m, window_start=a, window_end=b, amount=int(n), tx_signature=s, slot=sl)
            for m, a, b, n, s, sl in mints
        ],
        swaps=[
            SwapRow(swap_id=str(i), status=st, grxe=int(g), grx=int(x), thbc=int(t), evm_leg=e, sol_leg=s, created_at=c)
            for i, st, g, x, t, e, s, c in swaps
        ],
    )

"""``/me/meters``, ``/me/readings``, ``/me/aggregates`` (the TimescaleDB continuous aggregates,
or their plain-PostgreSQL fallback) and ``/me/mints`` with their transaction signatures."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated, Literal

from litestar import Controller, get
from litestar.params import Parameter
from pydantic import BaseModel

from gridx.db import Aggregate, StoredReading, aggregates, readings_for_meter

from ._errors import ApiError, Problem
from ._state import Services

__all__ = ["EnergyController"]

METER_ID = r"^[A-Za-z0-9_.-]{1,32}$"  # as the meters table constrains it


class MeterView(BaseModel):
    meter_id: str
    edge_id: str
    rated_power_w: int
    status: str


class MintView(BaseModel):
    meter_id: str
    window_start: datetime
    window_end: datetime
    amount: int
    tx_signature: str
    slot: int | None


def _window(start: datetime | None, end: datetime | None) -> tuple[datetime, datetime]:
    # a time without a zone is UTC (the database buckets in UTC)
    end = (end or datetime.now(UTC)).replace(tzinfo=(end.tzinfo if end and end.tzinfo else UTC))
    start = (start or end - timedelta(days=1)).replace(tzinfo=(start.tzinfo if start and start.tzinfo else UTC))
    if start >= end or end - start > timedelta(days=400):
        raise ApiError(Problem.INVALID_REQUEST, "start must be before end, at most 400 days apart")
    return start, end


async def _own_meter(services: Services, wallet: str, meter_id: str) -> None:
    async with services.pool.connection() as conn:
        row = await (await conn.execute("SELECT owner_wallet FROM meters WHERE meter_id = %s", (meter_id,))).fetchone()
    if row is None or row[0] != wallet:
        raise ApiError(Problem.NOT_FOUND, f"no meter {meter_id!r} of this wallet")


class EnergyController(Controller):
    path = "/me"
    tags = ["energy"]

    @get("/meters", operation_id="listMyMeters")
    async def meters(self, services: Services, wallet: str) -> list[MeterView]:
        async with services.pool.connection() as conn:
            rows = await (
                await conn.execute(
                    "SELECT meter_id, edge_id, rated_power_w, status FROM meters WHERE owner_wallet = %s ORDER BY 1",
                    (wallet,),
                )
            ).fetchall()
        return [MeterView(meter_id=m, edge_id=e, rated_power_w=r, status=s) for m, e, r, s in rows]

    @get("/readings", operation_id="listMyReadings")
    async def readings(
        self,
        services: Services,
        wallet: str,
        meter_id: Annotated[str, Parameter(pattern=METER_ID)],
        start: datetime | None = None,
        end: datetime | None = None,
        limit: Annotated[int, Parameter(ge=1, le=10_000)] = 1_000,
    ) -> list[StoredReading]:
        await _own_meter(services, wallet, meter_id)
        a, b = _window(start, end)
        async with services.pool.connection() as conn:
            return await readings_for_meter(conn, meter_id, a, b, limit)

    @get("/aggregates", operation_id="listMyAggregates")
    async def aggregates(
        self,
        services: Services,
        wallet: str,
        meter_id: Annotated[str, Parameter(pattern=METER_ID)],
        bucket: Literal["hour", "day"] = "hour",
        start: datetime | None = None,
        end: datetime | None = None,
    ) -> list[Aggregate]:
        await _own_meter(services, wallet, meter_id)
        a, b = _window(start, end)
        async with services.pool.connection() as conn:
            return await aggregates(conn, meter_id, a, b, bucket)

    @get("/mints", operation_id="listMyMints")
    async def mints(
        self, services: Services, wallet: str, limit: Annotated[int, Parameter(ge=1, le=1_000)] = 100
    ) -> list[MintView]:
        async with services.pool.connection() as conn:
            rows = await (
                await conn.execute(
                    """SELECT t.meter_id, t.window_start, t.window_end, t.amount, t.tx_signature, t.slot
                         FROM token_mints t JOIN meters m USING (meter_id)
                        WHERE m.owner_wallet = %s ORDER BY t.window_start DESC LIMIT %s""",
                    (wallet, limit),
                )
            ).fetchall()
        return [
            MintView(meter_id=r[0], window_start=r[1], window_end=r[2], amount=int(r[3]), tx_signature=r[4], slot=r[5])
            for r in rows
        ]

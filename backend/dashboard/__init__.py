"""The operator's dashboard: one page (``/dashboard``, static HTML and JavaScript shipped in
this package, no build step, nothing from a CDN) live over the market feed ``/ws/markets/{id}``,
plus the two reads it needs besides the book: ``/dashboard/overview`` and a mint's proof.

Mounted only when ``GRIDX_API_DASHBOARD=true``: the overview shows every meter's production,
which is not for the public internet."""

from __future__ import annotations

import asyncio
from importlib import resources
from typing import Annotated, Any

from litestar import Controller, MediaType, Response, get
from litestar.params import Parameter

from backend._errors import ApiError, Problem
from backend._state import Services

from ._queries import Overview, overview

__all__ = ["DashboardController", "Overview"]

_STATIC = {"": ("index.html", MediaType.HTML), "dashboard.js": ("dashboard.js", "text/javascript")}
_SIGNATURE = r"^[1-9A-HJ-NP-Za-km-z]{64,88}$"  # base58 transaction signature
_CSP = "default-src 'self'; connect-src 'self' ws: wss:; img-src 'self' data:; style-src 'self' 'unsafe-inline'"


def _asset(name: str) -> bytes:
    return resources.files(__package__).joinpath("static", name).read_bytes()


def _prove(rpc_url: str, dsn: str, signature: str) -> dict[str, Any]:
    """``gridx prove`` for one mint, in its own thread and loop: the proof reads the database
    through a blocking connection, which must not stall the API's event loop."""
    from solana.rpc.async_api import AsyncClient

    from gridx.db import connect
    from gridx.registry import prove

    async def go() -> dict[str, Any]:
        async with AsyncClient(rpc_url, timeout=30) as client:
            with connect(dsn) as conn:
                p = await prove(client, conn, signature)
        return {
            "signature": p.signature,
            "meter": p.meter,
            "owner": p.owner,
            "amount": p.amount,
            "readings": p.readings,
            "checks": [{"name": c.name, "ok": c.ok, "detail": c.detail} for c in p.checks],
            "verified": p.ok,
        }

    return asyncio.run(go())


class DashboardController(Controller):
    path = "/dashboard"
    tags = ["dashboard"]

    @get(["/", "/{asset:str}"], operation_id="dashboardPage", include_in_schema=False)
    async def page(self, asset: str = "") -> Response[bytes]:
        if asset not in _STATIC:
            raise ApiError(Problem.NOT_FOUND, f"no dashboard asset {asset!r}")
        name, media = _STATIC[asset]
        return Response(_asset(name), media_type=media, headers={"Content-Security-Policy": _CSP})

    @get("/overview", operation_id="dashboardOverview")
    async def overview(
        self,
        services: Services,
        hours: Annotated[int, Parameter(ge=1, le=168)] = 24,
        meters: Annotated[int, Parameter(ge=1, le=50)] = 6,
        limit: Annotated[int, Parameter(ge=1, le=200)] = 20,
    ) -> Overview:
        """Gateway health, hourly production/consumption per meter, recent mints, swaps in flight."""
        async with services.pool.connection() as conn:
            return await overview(conn, services.market.id, hours, meters, limit)

    @get("/proofs/{signature:str}", operation_id="dashboardProof")
    async def proof(
        self, services: Services, signature: Annotated[str, Parameter(pattern=_SIGNATURE)]
    ) -> dict[str, Any]:
        """The signed readings behind one mint, each check of ``gridx prove`` with its outcome."""
        from gridx.errors import ChainError

        s = services.settings
        try:
            return await asyncio.to_thread(_prove, s.rpc_url, s.dsn, signature)
        except ChainError as exc:
            # no such mint / transaction: a named 404; anything else is the chain being unreachable
            problem = Problem.NOT_FOUND if exc.code in ("NotMinted", "NotFound") else Problem.CHAIN_UNAVAILABLE
            raise ApiError(problem, str(exc)) from None

"""``gridx reconcile``: the one chain-versus-database check, every area in one report.

The mint area (GRXE supply, each meter's mint state, owner balances against ``token_mints``)
is shared code in ``gridx.registry``. Other areas belong to parts: a part module listed in
``_AREAS`` exposes ``reconcile_area(client, dsn, keys_dir, strict) -> dict | None`` (a report with an
integer ``drift``, or None when the part has nothing deployed to check). ``strict`` asks for
owner balances: the trading area holds each owner to its mints plus its trades; without a
trading area, the mint area holds each owner to what was minted to it. The areas are
imported by name, as ``gridx.cli`` assembles the part commands, so ``gridx`` never imports a
part and an install without that part checks what it has.

The last line printed is one JSON object ``{"drift": total, "areas": {name: report}}``; the
exit status is 1 when the total is not 0.
"""

from __future__ import annotations

import asyncio
import importlib
import json
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

from gridx.config import DEFAULT_RPC_URL

if TYPE_CHECKING:
    from solana.rpc.async_api import AsyncClient

__all__ = ["register", "run_reconcile"]

# (area name, part module exposing ``reconcile_area``)
_AREAS: tuple[tuple[str, str], ...] = (("trading", "backend.cli"),)
_LISTED = 20  # names of disagreeing items shown per list (the drift counts them all)

Area = Callable[["AsyncClient", str, Path | None, bool], Awaitable[dict[str, Any] | None]]


def _part_areas() -> list[tuple[str, Area]]:
    out: list[tuple[str, Area]] = []
    for name, modname in _AREAS:
        try:
            mod = importlib.import_module(modname)
        except ModuleNotFoundError as exc:
            if exc.name is not None and (modname == exc.name or modname.startswith(exc.name + ".")):
                continue  # the part is not in this install; anything else missing is a real error
            raise
        out.append((name, mod.reconcile_area))
    return out


async def _mint_area(client: AsyncClient, dsn: str, strict: bool) -> dict[str, Any]:
    from gridx.db import connect
    from gridx.registry import reconcile

    with connect(dsn) as conn:
        rep = await reconcile(client, conn, strict)
    return {
        "supply": rep.supply,
        "recorded_total": rep.recorded_total,
        "windows_on_chain": rep.windows_on_chain,
        "windows_in_db": rep.windows_in_db,
        "missing_in_db": rep.missing_in_db[:_LISTED],
        "missing_on_chain": rep.missing_on_chain[:_LISTED],
        "amount_mismatch": rep.amount_mismatch[:_LISTED],
        "owner_drift": rep.owner_drift,
        "strict_balances": strict,
        "drift": rep.drift,
    }


async def run_reconcile(
    rpc_url: str, dsn: str, keys_dir: Path | None = None, strict_balances: bool | None = None
) -> dict[str, Any]:
    """Every area against the chain. ``strict_balances`` None: owner balances checked by the
    trading area when it runs, else by the mint area; False: by neither; True: by both."""
    from solana.rpc.async_api import AsyncClient

    parts: dict[str, dict[str, Any]] = {}
    async with AsyncClient(rpc_url) as client:
        for name, area in _part_areas():
            rep = await area(client, dsn, keys_dir, strict_balances is not False)
            if rep is not None:
                parts[name] = rep
        # owner balances: the trading area holds them to mints plus trades once it runs; the
        # mint area's minted-only check is for a system without trading
        strict = ("trading" not in parts) if strict_balances is None else strict_balances
        areas = {"mint": await _mint_area(client, dsn, strict), **parts}
    return {"drift": sum(int(a["drift"]) for a in areas.values()), "areas": areas}


_DSN = typer.Option(..., envvar=["GRIDX_DSN", "GRIDX_MINT_DSN", "GRIDX_API_DSN"], help="PostgreSQL DSN")
_RPC = typer.Option(DEFAULT_RPC_URL, envvar=["GRIDX_RPC_URL", "GRIDX_MINT_RPC_URL", "GRIDX_API_RPC_URL"])
_KEYS = typer.Option(None, envvar="GRIDX_API_KEYS_DIR", help="deployment.json; default .secrets/chain")
_STRICT = typer.Option(
    None,
    "--strict-balances/--no-strict-balances",
    help="owner GRXE balances equal mints plus trades (default; minted only without trading)",
)


def register(root: typer.Typer) -> None:
    @root.command("reconcile")
    def reconcile(
        dsn: str = _DSN, rpc_url: str = _RPC, keys_dir: Path | None = _KEYS, strict_balances: bool | None = _STRICT
    ) -> None:
        """Chain versus database for mints, users, orders, escrow and trades; prints one JSON
        line with the drift per area and in total, exits 1 on any drift."""
        out = asyncio.run(run_reconcile(rpc_url, dsn, keys_dir, strict_balances))
        typer.echo(json.dumps(out))
        raise typer.Exit(1 if out["drift"] else 0)

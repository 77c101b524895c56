"""``gridx reconcile``: the one chain-versus-database check, every area in one report.

The mint area (GRXE supply, each meter's mint state, owner balances against ``token_mints``)
is shared code in ``gridx.registry``. Other areas belong to parts: a part module listed in
``_AREAS`` exposes ``reconcile_area(client, dsn, keys_dir) -> dict | None`` (a report with an
integer ``drift``, or None when the part has nothing deployed to check). The areas are
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

Area = Callable[["AsyncClient", str, Path | None], Awaitable[dict[str, Any] | None]]


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


def _traded(dsn: str) -> bool:
    """Any order ever reached the chain: then trades moved GRXE between owners on purpose and
    an owner's balance is no longer what was minted to them."""
    from gridx.db import connect

    with connect(dsn) as conn:
        row = conn.execute("SELECT EXISTS (SELECT 1 FROM orders WHERE status <> 'prepared')").fetchone()
    return bool(row and row[0])


async def run_reconcile(
    rpc_url: str, dsn: str, keys_dir: Path | None = None, strict_balances: bool | None = None
) -> dict[str, Any]:
    """Every area against the chain; ``strict_balances`` None: strict unless trading happened."""
    from solana.rpc.async_api import AsyncClient

    strict = (not await asyncio.to_thread(_traded, dsn)) if strict_balances is None else strict_balances
    areas: dict[str, dict[str, Any]] = {}
    async with AsyncClient(rpc_url) as client:
        areas["mint"] = await _mint_area(client, dsn, strict)
        for name, area in _part_areas():
            rep = await area(client, dsn, keys_dir)
            if rep is not None:
                areas[name] = rep
    return {"drift": sum(int(a["drift"]) for a in areas.values()), "areas": areas}


_DSN = typer.Option(..., envvar=["GRIDX_DSN", "GRIDX_MINT_DSN", "GRIDX_API_DSN"], help="PostgreSQL DSN")
_RPC = typer.Option(DEFAULT_RPC_URL, envvar=["GRIDX_RPC_URL", "GRIDX_MINT_RPC_URL", "GRIDX_API_RPC_URL"])
_KEYS = typer.Option(None, envvar="GRIDX_API_KEYS_DIR", help="deployment.json; default .secrets/chain")
_STRICT = typer.Option(
    None,
    "--strict-balances/--no-strict-balances",
    help="owner GRXE balances must equal what was minted to them (default: unless orders were traded)",
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

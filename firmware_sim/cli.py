"""``gridx sim``: serve simulated smart meters over Modbus TCP."""

from __future__ import annotations

from typing import Annotated

import typer

__all__ = ["app", "parse_fault"]

app = typer.Typer(no_args_is_help=True, help="Simulated smart meters (Modbus TCP).")


def parse_fault(spec: str) -> tuple[int, str]:
    """``INDEX=KIND`` (KIND: offline, stuck, rollback, garbage)."""
    from firmware_sim._fleet import Fault

    index, _, kind = spec.partition("=")
    try:
        return int(index), Fault(kind).value
    except ValueError as exc:
        raise typer.BadParameter(f"expected INDEX=KIND with KIND in {[f.value for f in Fault]}: {spec!r}") from exc


@app.command("meters")
def meters(
    count: int = typer.Option(1000, help="number of meters"),
    port: int = typer.Option(5020, help="first TCP port; meter i is on port + i // per-port, unit i % per-port + 1"),
    host: str = typer.Option("127.0.0.1", help="address to bind"),
    speed: float = typer.Option(1.0, help="sim seconds per wall second (1440 runs a day in a minute)"),
    seed: int = typer.Option(1, help="seed of the deterministic profiles"),
    start: int | None = typer.Option(None, help="sim unix time at start (default: now)"),
    per_port: int = typer.Option(200, min=1, max=247, help="meters (unit ids) per port"),
    fault: Annotated[
        list[str] | None, typer.Option(help="inject a fault: INDEX=offline|stuck|rollback|garbage (repeatable)")
    ] = None,
    chaos: float = typer.Option(0.0, help="random faults: probability per meter per second (e.g. 0.001)"),
    script: Annotated[
        list[str] | None,
        typer.Option(help="INDEX=WINDOW_S:WH,WH,... : the meter's surplus per edge window, from its first read"),
    ] = None,
) -> None:
    """Serve COUNT meters until interrupted."""
    import asyncio
    import contextlib

    import structlog

    from firmware_sim._fleet import Fault, Fleet, FleetConfig
    from firmware_sim._script import parse_script
    from firmware_sim._server import serve

    fleet = Fleet(FleetConfig(count=count, seed=seed, speed=speed, start_s=start, meters_per_port=per_port))
    for spec in fault or []:
        index, kind = parse_fault(spec)
        fleet.set_fault(index, Fault(kind))
    for spec in script or []:
        try:
            index, window_s, surplus = parse_script(spec)
        except ValueError as exc:
            raise typer.BadParameter(f"expected INDEX=WINDOW_S:WH,WH,...: {spec!r}") from exc
        fleet.set_script(index, window_s, surplus)
    ports = (count + per_port - 1) // per_port
    log = structlog.get_logger("firmware_sim")
    log.info(
        "serving", meters=count, host=host, ports=f"{port}-{port + ports - 1}", speed=speed, seed=seed, chaos=chaos
    )
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(serve(fleet, host, port, chaos=chaos))

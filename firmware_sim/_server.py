"""Serve a :class:`Fleet` over Modbus TCP with pymodbus: one server per port, up to
``meters_per_port`` unit ids on each. Registers are filled on read (pymodbus SimDevice
``action``), so every request sees the model at that instant and idle meters cost nothing.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import random
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from firmware_sim._fleet import Fault, Fleet, address_of, chaos_tick
from gridx.registers import BLOCK_START, BLOCK_WORDS, encode

__all__ = ["serve", "serve_in_thread"]


async def _action(
    fleet: Fleet,
    index: int,
    _fc: int,
    start: int,
    _address: int,
    _count: int,
    regs: list[int],
    set_values: Any,
) -> Any:
    from pymodbus.constants import ExcCodes

    if set_values is not None:
        return ExcCodes.ILLEGAL_FUNCTION  # a meter's registers are read-only
    fault = fleet.fault(index)
    if fault is Fault.OFFLINE:
        return ExcCodes.GATEWAY_NO_RESPONSE
    if fault is Fault.GARBAGE:
        values = [random.getrandbits(16) for _ in range(BLOCK_WORDS)]
    else:
        values = encode(fleet.snapshot(index))
    off = BLOCK_START - start
    regs[off : off + BLOCK_WORDS] = values
    return None


def _servers(fleet: Fleet, host: str, base_port: int) -> list[Any]:
    from pymodbus.server import ModbusTcpServer
    from pymodbus.simulator import DataType, SimData, SimDevice

    by_port: dict[int, list[SimDevice]] = {}
    for index in fleet.indices:
        port, unit = address_of(index - fleet.cfg.first_index, base_port, fleet.cfg.meters_per_port)
        block = SimData(address=BLOCK_START, count=BLOCK_WORDS, values=0, datatype=DataType.REGISTERS)
        action = functools.partial(_action, fleet, index)
        by_port.setdefault(port, []).append(SimDevice(id=unit, simdata=[block], action=action))
    return [ModbusTcpServer(devices, address=(host, port)) for port, devices in sorted(by_port.items())]


async def _chaos(fleet: Fleet, rate: float) -> None:
    import structlog

    log = structlog.get_logger("firmware_sim")
    rng = random.Random(fleet.cfg.seed)
    while True:
        await asyncio.sleep(1.0)
        for index, kind in chaos_tick(fleet, rng, rate):
            log.info("fault", meter=index, fault=kind.value)


async def serve(
    fleet: Fleet, host: str, base_port: int, started: asyncio.Event | None = None, chaos: float = 0.0
) -> None:
    """Serve until cancelled; ``chaos`` > 0 injects random faults (probability per meter per second)."""
    servers = _servers(fleet, host, base_port)
    for s in servers:
        await s.serve_forever(background=True)
    if started is not None:
        started.set()
    try:
        if chaos > 0:
            await _chaos(fleet, chaos)
        await asyncio.Event().wait()
    finally:
        for s in servers:
            await s.shutdown()


@contextmanager
def serve_in_thread(fleet: Fleet, host: str, base_port: int) -> Iterator[Fleet]:
    """Run the servers on their own event loop in a thread (tests, benchmarks)."""
    loop = asyncio.new_event_loop()
    ready = threading.Event()
    task: list[asyncio.Task[None]] = []
    errors: list[BaseException] = []

    def run() -> None:
        asyncio.set_event_loop(loop)
        started = asyncio.Event()

        async def main() -> None:
            t = asyncio.ensure_future(serve(fleet, host, base_port, started))
            task.append(t)
            waiter = asyncio.ensure_future(started.wait())
            await asyncio.wait({t, waiter}, return_when=asyncio.FIRST_COMPLETED)
            if t.done() and not t.cancelled() and t.exception() is not None:
                errors.append(t.exception())  # type: ignore[arg-type]
            ready.set()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await t

        loop.run_until_complete(main())
        loop.close()

    th = threading.Thread(target=run, name="modbus-sim", daemon=True)
    th.start()
    ready.wait(30)
    if errors:
        raise errors[0]
    try:
        yield fleet
    finally:
        if task:
            loop.call_soon_threadsafe(task[0].cancel)
        th.join(10)

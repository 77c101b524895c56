"""Modbus TCP polling with bounded concurrency, retries and per-meter backoff.

Concurrency is bounded by construction: each (host, port) gets ``connections_per_port``
client connections and each connection reads its meters one after another (pymodbus
serialises requests on a connection anyway), so at most ports x connections requests are in
flight. A meter that keeps failing is skipped for exponentially growing periods (cap 60 s)
so a dead RS485 branch does not eat the cycle's time budget.
"""

from __future__ import annotations

import asyncio
import enum
import time
from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from edge.config import MeterConfig
from gridx.registers import BLOCK_START, BLOCK_WORDS, MeterSnapshot, decode

__all__ = ["ModbusPoller", "PollFailure"]

_BACKOFF_CAP_S = 60.0


class PollFailure(enum.StrEnum):
    OFFLINE = "offline"  # the device or its gateway answered with a Modbus exception
    NO_RESPONSE = "no_response"  # timeout or connection down: a missed poll
    BACKOFF = "backoff"  # skipped on purpose after repeated failures
    LATE = "late"  # not reached before the cycle's deadline: a missed poll


@dataclass
class _Backoff:
    failures: int = 0
    next_at: float = 0.0


class ModbusPoller:
    def __init__(self, meters: list[MeterConfig], timeout_s: float, retries: int, connections_per_port: int) -> None:
        self.timeout_s = timeout_s
        self.retries = retries
        groups: dict[tuple[str, int], list[MeterConfig]] = defaultdict(list)
        for m in meters:
            groups[(m.host, m.port)].append(m)
        # lanes: (host, port, connection number) -> meters read sequentially on that connection
        self._lanes: dict[tuple[str, int, int], list[MeterConfig]] = {}
        for (host, port), ms in groups.items():
            n = min(connections_per_port, len(ms))
            for k in range(n):
                self._lanes[(host, port, k)] = ms[k::n]
        self._clients: dict[tuple[str, int, int], Any] = {}
        self._backoff: dict[str, _Backoff] = defaultdict(_Backoff)

    async def _client(self, lane: tuple[str, int, int]) -> Any:
        from pymodbus.client import AsyncModbusTcpClient

        client = self._clients.get(lane)
        if client is None:
            # pymodbus's own reconnect loop is off: this poller decides when to retry
            client = AsyncModbusTcpClient(
                lane[0], port=lane[1], timeout=self.timeout_s, retries=0, reconnect_delay=0, reconnect_delay_max=0
            )
            self._clients[lane] = client
        if not client.connected:
            await client.connect()
        return client

    def close(self) -> None:
        for c in self._clients.values():
            c.close()
        self._clients.clear()

    async def _read(self, lane: tuple[str, int, int], m: MeterConfig) -> MeterSnapshot | PollFailure:
        from pymodbus.exceptions import ModbusException

        for attempt in range(self.retries + 1):
            try:
                client = await self._client(lane)
                if not client.connected:
                    return PollFailure.NO_RESPONSE
                rr = await client.read_holding_registers(BLOCK_START, count=BLOCK_WORDS, device_id=m.unit)
            except (TimeoutError, ModbusException, OSError):
                if attempt < self.retries:
                    await asyncio.sleep(0.05 * (attempt + 1))
                continue
            if rr.isError():
                return PollFailure.OFFLINE
            try:
                return decode(list(rr.registers))
            except ValueError:
                return PollFailure.OFFLINE
        return PollFailure.NO_RESPONSE

    async def _lane(
        self, lane: tuple[str, int, int], deadline: float, out: dict[str, MeterSnapshot | PollFailure]
    ) -> None:
        for m in self._lanes[lane]:
            now = time.monotonic()
            if now >= deadline:
                out[m.meter_id] = PollFailure.LATE
                continue
            b = self._backoff[m.meter_id]
            if b.next_at > now:
                out[m.meter_id] = PollFailure.BACKOFF
                continue
            try:
                res = await asyncio.wait_for(self._read(lane, m), max(0.001, deadline - now))
            except TimeoutError:
                res = PollFailure.LATE
            out[m.meter_id] = res
            if isinstance(res, PollFailure):
                b.failures += 1
                if b.failures >= 3:
                    b.next_at = time.monotonic() + min(_BACKOFF_CAP_S, 2.0 ** (b.failures - 3))
            else:
                b.failures, b.next_at = 0, 0.0

    async def poll_all(self, deadline: float) -> dict[str, MeterSnapshot | PollFailure]:
        """Read every meter once before ``deadline`` (time.monotonic())."""
        out: dict[str, MeterSnapshot | PollFailure] = {}
        await asyncio.gather(*(self._lane(lane, deadline, out) for lane in self._lanes))
        return out

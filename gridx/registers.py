"""Register map of the simulated GridTokenX meter (the meter's "datasheet").

This is the contract between the simulator and the edge agent, so it lives in the shared
layer; it has no dependencies so the edge can import it on a Pi. All values live in one
block of 24 registers starting at address 0, readable as holding registers (FC3) or input
registers (FC4), so one request reads a complete, consistent snapshot of the meter.

=======  =====  ======================  ==============================================
address  words  field                   encoding
=======  =====  ======================  ==============================================
0        4      produced_total_wh       uint64, Wh, big-endian word order (word 0 = MSW)
4        4      consumed_total_wh       uint64, Wh, big-endian word order
8        2      production_w            uint32, W, big-endian word order
10       2      consumption_w           uint32, W, big-endian word order
12       1      voltage_dv              uint16, 0.1 V
13       1      frequency_chz           uint16, 0.01 Hz
14       1      status                  bit 0 = measuring OK, bit 1 = has PV (prosumer)
15       1      map_version             uint16, always ``MAP_VERSION``
16       8      serial                  ASCII, 16 bytes, NUL padded, high byte first
=======  =====  ======================  ==============================================

Each register is big-endian (Modbus), and multi-word values put the most significant
word first, so the 64-bit counters read naturally as ``w0<<48 | w1<<32 | w2<<16 | w3``.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = [
    "BLOCK_START",
    "BLOCK_WORDS",
    "MAP_VERSION",
    "SERIAL_BYTES",
    "STATUS_HAS_PV",
    "STATUS_OK",
    "MeterSnapshot",
    "address_of",
    "decode",
    "encode",
]

BLOCK_START = 0
BLOCK_WORDS = 24
MAP_VERSION = 1
SERIAL_BYTES = 16
STATUS_OK = 0x0001
STATUS_HAS_PV = 0x0002


@dataclass(frozen=True, slots=True)
class MeterSnapshot:
    """One consistent read of a meter's register block."""

    produced_total_wh: int
    consumed_total_wh: int
    production_w: int
    consumption_w: int
    voltage_dv: int
    frequency_chz: int
    status: int
    map_version: int
    serial: str


def _words(value: int, n: int) -> list[int]:
    return [(value >> (16 * (n - 1 - i))) & 0xFFFF for i in range(n)]


def _value(words: list[int]) -> int:
    out = 0
    for w in words:
        out = (out << 16) | (w & 0xFFFF)
    return out


def encode(s: MeterSnapshot) -> list[int]:
    raw = s.serial.encode("ascii")[:SERIAL_BYTES].ljust(SERIAL_BYTES, b"\x00")
    serial_words = [(raw[i] << 8) | raw[i + 1] for i in range(0, SERIAL_BYTES, 2)]
    return [
        *_words(s.produced_total_wh, 4),
        *_words(s.consumed_total_wh, 4),
        *_words(s.production_w, 2),
        *_words(s.consumption_w, 2),
        s.voltage_dv & 0xFFFF,
        s.frequency_chz & 0xFFFF,
        s.status & 0xFFFF,
        s.map_version & 0xFFFF,
        *serial_words,
    ]


def decode(regs: list[int]) -> MeterSnapshot:
    """Decode a block; never raises on content (garbage decodes to garbage values), only on
    a short block, because judging plausibility is the edge's job, not the decoder's."""
    if len(regs) < BLOCK_WORDS:
        raise ValueError(f"expected {BLOCK_WORDS} registers, got {len(regs)}")
    raw = b"".join(((w >> 8) & 0xFF).to_bytes(1, "big") + (w & 0xFF).to_bytes(1, "big") for w in regs[16:24])
    serial = raw.rstrip(b"\x00").decode("ascii", errors="replace")
    return MeterSnapshot(
        produced_total_wh=_value(regs[0:4]),
        consumed_total_wh=_value(regs[4:8]),
        production_w=_value(regs[8:10]),
        consumption_w=_value(regs[10:12]),
        voltage_dv=regs[12],
        frequency_chz=regs[13],
        status=regs[14],
        map_version=regs[15],
        serial=serial,
    )


def address_of(index: int, base_port: int, meters_per_port: int = 200) -> tuple[int, int]:
    """(port, unit id) of meter ``index`` in a fleet: meters fill ports in order, unit ids from 1."""
    return base_port + index // meters_per_port, index % meters_per_port + 1

"""Pure, seeded meter model: power and cumulative energy as functions of (seed, meter, sim time).

Power is defined at slot boundaries (every ``SLOT_S`` simulated seconds) and interpolated
linearly in between, so the energy counter has an exact closed form in integer arithmetic:
no float drift, the same value whether it is computed in one go (tests) or incrementally
(the server), and it never decreases. Energy is kept in W·ms internally; the meter shows
whole Wh (floor).

Solar production follows a daylight curve (sunrise 06:00, sunset 18:00 local) shaded by
clouds that are shared by the neighbourhood (slow) and per roof (fast). Household
consumption has a base load plus morning and evening peaks with per-slot noise.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

__all__ = [
    "SLOT_MS",
    "SLOT_S",
    "WMS_PER_WH",
    "Channel",
    "MeterProfile",
    "consumption_w",
    "counters_wh",
    "energy_wms",
    "frequency_chz",
    "meter_id",
    "production_w",
    "profile",
    "voltage_dv",
]

SLOT_S = 60
SLOT_MS = SLOT_S * 1000
WMS_PER_WH = 3_600_000
_MASK = (1 << 64) - 1


def _mix(*parts: int) -> int:
    """splitmix64 over the parts: a fast, stable hash (Python's hash() is salted per process)."""
    z = 0x9E3779B97F4A7C15
    for p in parts:
        z = (z ^ (p & _MASK)) & _MASK
        z = (z + 0x9E3779B97F4A7C15) & _MASK
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & _MASK
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & _MASK
        z ^= z >> 31
    return z


def _unit(*parts: int) -> float:
    return _mix(*parts) / float(1 << 64)


class Channel:
    PRODUCED = 1
    CONSUMED = 2


@dataclass(frozen=True, slots=True)
class MeterProfile:
    seed: int
    index: int
    prosumer: bool
    pv_peak_w: int
    base_w: int
    morning_w: int
    evening_w: int
    initial_produced_wh: int
    initial_consumed_wh: int
    tz_offset_s: int


def meter_id(index: int) -> str:
    """The meter's serial, also its meter_id on the wire."""
    return f"GTX-SIM-{index:06d}"


def profile(seed: int, index: int, tz_offset_s: int = 7 * 3600, prosumer_share: float = 0.4) -> MeterProfile:
    u = [_unit(seed, index, 100 + k) for k in range(8)]
    prosumer = u[0] < prosumer_share
    return MeterProfile(
        seed=seed,
        index=index,
        prosumer=prosumer,
        pv_peak_w=int(2500 + 7500 * u[1]) if prosumer else 0,
        base_w=int(120 + 280 * u[2]),
        morning_w=int(500 + 1200 * u[3]),
        evening_w=int(900 + 2100 * u[4]),
        # meters arrive with history so the 64-bit counters are exercised beyond 32 bits of Wh
        initial_produced_wh=int(u[5] * 40_000_000) if prosumer else 0,
        initial_consumed_wh=int(u[6] * 60_000_000),
        tz_offset_s=tz_offset_s,
    )


def _local_hour(p: MeterProfile, t_s: int) -> float:
    return ((t_s + p.tz_offset_s) % 86400) / 3600.0


def production_w(p: MeterProfile, t_s: int) -> int:
    """Instantaneous PV power at the slot boundary ``t_s`` (unix seconds, multiple of SLOT_S)."""
    if not p.prosumer:
        return 0
    h = _local_hour(p, t_s)
    if not 6.0 < h < 18.0:
        return 0
    sun = math.sin(math.pi * (h - 6.0) / 12.0) ** 1.2
    slot = t_s // SLOT_S
    # neighbourhood clouds change every 15 slots and are shared by every 50 meters
    region = p.index // 50
    cloud = 0.65 * _unit(p.seed, region, slot // 15, 1) ** 2 + 0.2 * _unit(p.seed, p.index, slot, 2)
    return max(0, int(p.pv_peak_w * sun * (1.0 - cloud)))


def _bump(h: float, centre: float, width: float) -> float:
    d = min(abs(h - centre), 24.0 - abs(h - centre))
    return math.exp(-0.5 * (d / width) ** 2)


def consumption_w(p: MeterProfile, t_s: int) -> int:
    h = _local_hour(p, t_s)
    slot = t_s // SLOT_S
    shape = p.base_w + p.morning_w * _bump(h, 7.25, 1.0) + p.evening_w * _bump(h, 19.5, 1.6)
    noise = 0.8 + 0.4 * _unit(p.seed, p.index, slot, 3)
    return max(0, int(shape * noise))


def voltage_dv(p: MeterProfile, t_s: int) -> int:
    return 2300 + int(80 * (_unit(p.seed, p.index, t_s // SLOT_S, 4) - 0.5))


def frequency_chz(p: MeterProfile, t_s: int) -> int:
    return 5000 + int(10 * (_unit(p.seed, t_s // SLOT_S, 5) - 0.5))


def _power(p: MeterProfile, channel: int, t_s: int) -> int:
    return production_w(p, t_s) if channel == Channel.PRODUCED else consumption_w(p, t_s)


def slot_energy_wms(p: MeterProfile, channel: int, slot: int) -> int:
    """Energy of one whole slot (trapezoid; exact because SLOT_MS is even)."""
    a = _power(p, channel, slot * SLOT_S)
    b = _power(p, channel, (slot + 1) * SLOT_S)
    return (a + b) * SLOT_MS // 2


def partial_energy_wms(p: MeterProfile, channel: int, slot: int, tau_ms: int) -> int:
    """Energy from the start of ``slot`` to ``tau_ms`` into it (0 <= tau_ms <= SLOT_MS)."""
    a = _power(p, channel, slot * SLOT_S)
    b = _power(p, channel, (slot + 1) * SLOT_S)
    return (2 * SLOT_MS * a * tau_ms + (b - a) * tau_ms * tau_ms) // (2 * SLOT_MS)


def energy_wms(p: MeterProfile, channel: int, t0_ms: int, t_ms: int) -> int:
    """Energy in W·ms between sim times ``t0_ms`` (a slot boundary) and ``t_ms``."""
    if t0_ms % SLOT_MS:
        raise ValueError("t0_ms must be a slot boundary")
    first, last = t0_ms // SLOT_MS, t_ms // SLOT_MS
    total = sum(slot_energy_wms(p, channel, k) for k in range(first, last))
    return total + partial_energy_wms(p, channel, last, t_ms - last * SLOT_MS)


def counters_wh(p: MeterProfile, t0_ms: int, t_ms: int) -> tuple[int, int]:
    """The (produced, consumed) Wh counters a healthy meter shows at ``t_ms`` if it started
    counting at ``t0_ms``."""
    return (
        p.initial_produced_wh + energy_wms(p, Channel.PRODUCED, t0_ms, t_ms) // WMS_PER_WH,
        p.initial_consumed_wh + energy_wms(p, Channel.CONSUMED, t0_ms, t_ms) // WMS_PER_WH,
    )

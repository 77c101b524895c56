"""Fleet state: the pure model advanced incrementally, plus per-meter injected faults.

The incremental counter equals :func:`firmware_sim.model.counters_wh` exactly (same integer
slot sums); faults only add an offset or freeze what is shown, so tests can predict values.
"""

from __future__ import annotations

import enum
import random
import time
from dataclasses import dataclass, field

from firmware_sim import model
from firmware_sim._script import ScriptedMeter
from gridx.registers import MAP_VERSION, STATUS_HAS_PV, STATUS_OK, MeterSnapshot, address_of

__all__ = ["Fault", "Fleet", "FleetConfig", "SimClock", "address_of", "chaos_tick"]


class Fault(enum.StrEnum):
    NONE = "none"
    OFFLINE = "offline"  # the RS485 gateway answers "target device failed to respond"
    STUCK = "stuck"  # counters freeze; power registers keep moving
    ROLLBACK = "rollback"  # one-shot: counters reset to 0 and count on from there
    GARBAGE = "garbage"  # every register reads random noise


@dataclass(frozen=True, slots=True)
class FleetConfig:
    count: int
    seed: int = 1
    speed: float = 1.0
    start_s: int | None = None  # sim unix time at start; default: now (rounded down to a slot)
    tz_offset_s: int = 7 * 3600
    prosumer_share: float = 0.4
    meters_per_port: int = 200  # Modbus unit ids are 1..247; 200 keeps the arithmetic readable
    first_index: int = 0


@dataclass
class SimClock:
    """Sim time runs ``speed`` times faster than the wall clock from ``start_ms``."""

    start_ms: int
    speed: float
    wall0: float = field(default_factory=time.time)

    def now_ms(self) -> int:
        return self.start_ms + int((time.time() - self.wall0) * self.speed * 1000)


@dataclass(slots=True)
class _Meter:
    profile: model.MeterProfile
    slot: int
    acc_wms: list[int]  # energy from t0 to the start of ``slot``, per channel
    offset_wh: list[int] = field(default_factory=lambda: [0, 0])
    frozen_wh: list[int] | None = None
    fault: Fault = Fault.NONE

    def true_wh(self, t_ms: int) -> tuple[int, int]:
        last = t_ms // model.SLOT_MS
        while self.slot < last:
            for ch in (0, 1):
                self.acc_wms[ch] += model.slot_energy_wms(self.profile, ch + 1, self.slot)
            self.slot += 1
        tau = t_ms - last * model.SLOT_MS
        p = self.profile
        e = [self.acc_wms[ch] + model.partial_energy_wms(p, ch + 1, last, tau) for ch in (0, 1)]
        return p.initial_produced_wh + e[0] // model.WMS_PER_WH, p.initial_consumed_wh + e[1] // model.WMS_PER_WH

    def shown_wh(self, t_ms: int) -> tuple[int, int]:
        if self.frozen_wh is not None:
            return self.frozen_wh[0], self.frozen_wh[1]
        prod, cons = self.true_wh(t_ms)
        return prod - self.offset_wh[0], cons - self.offset_wh[1]


class Fleet:
    """All simulated meters of one process, addressed by index."""

    def __init__(self, cfg: FleetConfig, clock: SimClock | None = None) -> None:
        start_s = cfg.start_s if cfg.start_s is not None else int(time.time())
        t0_ms = (start_s * 1000) // model.SLOT_MS * model.SLOT_MS
        self.cfg = cfg
        self.t0_ms = t0_ms
        self.clock = clock or SimClock(start_ms=t0_ms, speed=cfg.speed)
        self._meters = {
            i: _Meter(
                profile=model.profile(cfg.seed, i, cfg.tz_offset_s, cfg.prosumer_share),
                slot=t0_ms // model.SLOT_MS,
                acc_wms=[0, 0],
            )
            for i in range(cfg.first_index, cfg.first_index + cfg.count)
        }
        self._scripts: dict[int, ScriptedMeter] = {}

    def set_script(self, index: int, window_s: int, surplus_wh: list[int]) -> None:
        """Meter ``index`` plays ``surplus_wh`` per edge window instead of its profile (from its
        profile's initial counters; see ``_script``); it reports PV whatever its profile."""
        p = self._meters[index].profile
        self._scripts[index] = ScriptedMeter(window_s, surplus_wh, p.initial_produced_wh, p.initial_consumed_wh)

    @property
    def indices(self) -> list[int]:
        return list(self._meters)

    def profile(self, index: int) -> model.MeterProfile:
        return self._meters[index].profile

    def fault(self, index: int) -> Fault:
        return self._meters[index].fault

    def set_fault(self, index: int, fault: Fault) -> None:
        m = self._meters[index]
        now = self.clock.now_ms()
        if m.frozen_wh is not None:
            # leaving "stuck": count on from the frozen value; the energy meanwhile is lost,
            # as it would be on a real meter whose register stopped
            true = m.true_wh(now)
            m.offset_wh = [true[0] - m.frozen_wh[0], true[1] - m.frozen_wh[1]]
            m.frozen_wh = None
        if fault is Fault.STUCK:
            m.frozen_wh = list(m.shown_wh(now))
        if fault is Fault.ROLLBACK:
            true = m.true_wh(now)
            m.offset_wh = [true[0], true[1]]
            fault = Fault.NONE
        m.fault = fault

    def snapshot(self, index: int, t_ms: int | None = None) -> MeterSnapshot:
        m = self._meters[index]
        t = self.clock.now_ms() if t_ms is None else t_ms
        script = self._scripts.get(index)
        prod, cons = m.shown_wh(t) if script is None else script.counters_wh()
        p = m.profile
        slot_s = t // model.SLOT_MS * model.SLOT_S
        return MeterSnapshot(
            produced_total_wh=prod,
            consumed_total_wh=cons,
            # a scripted meter's counters move in steps: its power registers read 0, so the
            # edge does not take a flat counter under load for a stuck register
            production_w=model.production_w(p, slot_s) if script is None else 0,
            consumption_w=model.consumption_w(p, slot_s) if script is None else 0,
            voltage_dv=model.voltage_dv(p, slot_s),
            frequency_chz=model.frequency_chz(p, slot_s),
            status=STATUS_OK | (STATUS_HAS_PV if p.prosumer or script is not None else 0),
            map_version=MAP_VERSION,
            serial=model.meter_id(index),
        )


_CHAOS_KINDS = (Fault.OFFLINE, Fault.STUCK, Fault.ROLLBACK, Fault.GARBAGE)


def chaos_tick(fleet: Fleet, rng: random.Random, rate: float, recover: float = 0.2) -> list[tuple[int, Fault]]:
    """One step of random fault injection: a healthy meter falls into a random fault with
    probability ``rate``, a faulty one recovers with probability ``recover``. Returns the
    changes (seeded ``rng``: the same run twice injects the same faults)."""
    changes: list[tuple[int, Fault]] = []
    for index in fleet.indices:
        current = fleet.fault(index)
        if current is Fault.NONE and rng.random() < rate:
            kind = rng.choice(_CHAOS_KINDS)
        elif current is not Fault.NONE and rng.random() < recover:
            kind = Fault.NONE
        else:
            continue
        fleet.set_fault(index, kind)
        changes.append((index, kind))
    return changes

"""The edge agent: poll → interval reading → sign → durable outbox → publish.

A thin async loop around pure pieces: ``_poller`` reads snapshots, ``_intervals.step``
decides what each snapshot means, ``gridx.wire.sign_reading`` signs, ``_store`` commits a
whole cycle atomically, and ``_publisher`` (its own thread) drains the outbox to the broker.
"""

from __future__ import annotations

import asyncio
import json
import math
import os
import time
from dataclasses import asdict, dataclass

import structlog

from edge._intervals import MeterState, Outcome, step
from edge._poller import ModbusPoller, PollFailure
from edge._publisher import Publisher, PublisherConfig
from edge._store import Outbox
from edge.config import EdgeConfig
from edge.keys import load_key
from gridx.errors import ServiceError
from gridx.registers import MeterSnapshot
from gridx.wire import sign_reading

__all__ = ["AgentStats", "run_agent"]

log = structlog.get_logger("edge")


@dataclass
class AgentStats:
    meters: int = 0
    cycles: int = 0
    polls_ok: int = 0
    missed_polls: int = 0  # a scheduled read that got no answer in its cycle (timeouts, late, skipped cycles)
    offline: int = 0  # the meter answered with a Modbus exception
    backoff: int = 0
    readings: int = 0
    garbage: int = 0
    rollback: int = 0
    implausible: int = 0
    stuck_suspect: int = 0
    outbox_pending: int = 0
    readings_acked: int = 0
    batches_refused: int = 0
    mqtt_connected: bool = False
    cycle_ms_max: float = 0.0
    cycle_ms_total: float = 0.0


def _write_stats(path: os.PathLike[str], stats: AgentStats) -> None:
    tmp = f"{os.fspath(path)}.tmp"
    with open(tmp, "w") as fh:
        json.dump({**asdict(stats), "pid": os.getpid(), "time": time.time()}, fh)
    os.replace(tmp, path)


class _Cycle:
    """Applies one cycle's poll results to the meter states (pure apart from logging)."""

    def __init__(self, cfg: EdgeConfig, states: dict[str, MeterState], stats: AgentStats) -> None:
        self.cfg = cfg
        self.states = states
        self.stats = stats
        self.keys = {m.meter_id: load_key(cfg.keys_dir, m.meter_id) for m in cfg.meters}
        self._last_problem: dict[str, str] = {}

    def _note(self, meter_id: str, problem: str, **kw: object) -> None:
        # log transitions only: an offline meter must not write a line every second
        if self._last_problem.get(meter_id, "ok") != problem:
            self._last_problem[meter_id] = problem
            if problem == "ok":
                log.info("meter_recovered", meter_id=meter_id)
            else:
                log.warning("meter_fault", meter_id=meter_id, fault=problem, **kw)

    def apply(
        self, results: dict[str, MeterSnapshot | PollFailure], now_s: float
    ) -> tuple[list[MeterState], list[tuple[str, int, str]]]:
        changed: list[MeterState] = []
        rows: list[tuple[str, int, str]] = []
        st = self.stats
        for meter_id, res in results.items():
            if isinstance(res, PollFailure):
                if res is PollFailure.OFFLINE:
                    st.offline += 1
                elif res is PollFailure.BACKOFF:
                    st.backoff += 1
                else:
                    st.missed_polls += 1
                if res is not PollFailure.BACKOFF:
                    self._note(meter_id, res.value)
                continue
            st.polls_ok += 1
            prev = self.states.get(meter_id)
            s = step(prev, meter_id, res, now_s, self.cfg.interval_s, self.cfg.max_power_w)
            if s.outcome is Outcome.GARBAGE:
                st.garbage += 1
                self._note(meter_id, "garbage", detail=s.detail)
                continue
            if s.outcome in (Outcome.ROLLBACK, Outcome.IMPLAUSIBLE):
                # the new baseline is stored, nothing is signed for the broken delta
                st.rollback += s.outcome is Outcome.ROLLBACK
                st.implausible += s.outcome is Outcome.IMPLAUSIBLE
                log.warning("meter_rebaseline", meter_id=meter_id, fault=s.outcome.value, detail=s.detail)
            else:
                self._note(meter_id, "ok")
            if s.stuck_suspect:
                st.stuck_suspect += 1
                log.warning("meter_counter_still", meter_id=meter_id, detail="power registers show load")
            if s.state is not None and s.state != prev:
                self.states[meter_id] = s.state
                changed.append(s.state)
            for unsigned in s.readings:  # several after an outage longer than the longest window
                signed = sign_reading(unsigned, self.keys[meter_id])
                rows.append((meter_id, signed.seq, signed.model_dump_json()))
                st.readings += 1
        return changed, rows


def _publisher_config(cfg: EdgeConfig) -> PublisherConfig:
    return PublisherConfig(
        edge_id=cfg.edge_id,
        host=cfg.mqtt_host,
        port=cfg.mqtt_port,
        password=cfg.password(),
        ca_file=cfg.mqtt_ca_file,
        outbox_path=cfg.outbox_path,
        batch_max=cfg.batch_max,
        inflight_max=cfg.inflight_max,
    )


async def _wait_for_tick(stop: asyncio.Event, tick: float) -> bool:
    """Sleep until the scheduled tick; True if ``stop`` was set meanwhile."""
    delay = tick - time.time()
    if delay > 0:
        try:
            await asyncio.wait_for(stop.wait(), delay)
            return True
        except TimeoutError:
            pass
    return False


def _next_tick(tick: float, period: float, stats: AgentStats, meters: int) -> float:
    """The next cycle's tick; whole cycles that cannot start on time are skipped, and every
    meter in them missed."""
    tick += period
    behind = time.time() - tick
    if behind > 0:
        skipped = math.ceil(behind / period)
        stats.missed_polls += skipped * meters
        tick += skipped * period
        log.warning("cycles_skipped", count=skipped)
    return tick


def _report(cfg: EdgeConfig, stats: AgentStats, outbox: Outbox, publisher: Publisher) -> None:
    stats.outbox_pending = outbox.pending()
    stats.readings_acked = publisher.stats.readings_acked
    stats.batches_refused = publisher.stats.batches_refused
    stats.mqtt_connected = publisher.connected
    if cfg.stats_file is not None:
        _write_stats(cfg.stats_file, stats)
    log.info("edge_stats", **asdict(stats))


async def run_agent(cfg: EdgeConfig, stop: asyncio.Event | None = None) -> AgentStats:
    """Run until ``stop`` is set (or forever)."""
    stop = stop or asyncio.Event()
    stats = AgentStats(meters=len(cfg.meters))
    outbox = Outbox(cfg.outbox_path)
    cycle = _Cycle(cfg, outbox.load_states(), stats)
    poller = ModbusPoller(cfg.meters, cfg.modbus_timeout_s, cfg.modbus_retries, cfg.connections_per_port)
    publisher = Publisher(_publisher_config(cfg))
    publisher.start()
    period = cfg.poll_period_s
    tick = math.ceil(time.time() / period) * period
    next_stats = time.monotonic()
    log.info("edge_started", edge_id=cfg.edge_id, meters=len(cfg.meters), resumed=len(cycle.states))
    try:
        while not stop.is_set():
            if await _wait_for_tick(stop, tick):
                break
            if not publisher.alive:
                raise ServiceError("publisher thread died; exiting so the supervisor restarts the agent")
            # windows close on the wall time the reads start (not the scheduled tick), so a late
            # cycle never attributes counters read after a boundary to the window before it
            started_s, t0 = time.time(), time.monotonic()
            results = await poller.poll_all(deadline=t0 + 0.9 * period)
            changed, rows = cycle.apply(results, started_s)
            if changed or rows:
                outbox.commit_cycle(changed, rows)
                publisher.notify()
            stats.cycles += 1
            took_ms = (time.monotonic() - t0) * 1000
            stats.cycle_ms_max = max(stats.cycle_ms_max, took_ms)
            stats.cycle_ms_total += took_ms
            tick = _next_tick(tick, period, stats, len(cfg.meters))
            if time.monotonic() >= next_stats:
                next_stats = time.monotonic() + cfg.stats_every_s
                _report(cfg, stats, outbox, publisher)
    finally:
        poller.close()
        publisher.stop(drain_s=2.0)
        outbox.close()
    return stats

"""Prometheus metrics of one gateway, in its own registry (several gateways may share a process;
the convention is ``gridx.metrics``)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TextIO

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from gateway._intake import Msg
from gridx.errors import Reason
from gridx.metrics import MetricsServer, new_registry, serve_metrics

__all__ = ["Metrics"]


@dataclass
class Metrics:
    registry: CollectorRegistry = field(default_factory=new_registry)

    def __post_init__(self) -> None:
        r = self.registry
        self.accepted = Counter("gridx_gateway_readings_accepted", "Readings accepted and committed", registry=r)
        self.rejected = Counter(
            "gridx_gateway_readings_rejected", "Readings rejected and quarantined", ["reason"], registry=r
        )
        for reason in Reason:
            self.rejected.labels(reason.value)
        self.batch_size = Histogram(
            "gridx_gateway_batch_readings",
            "Readings per database transaction",
            buckets=(1, 10, 50, 100, 250, 500, 1000, 2000, 5000, 10000),
            registry=r,
        )
        self.latency = Histogram(
            "gridx_gateway_e2e_latency_seconds",
            "Edge publish (sent_at_ms) to commit, per message",
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60),
            registry=r,
        )
        self.flush_seconds = Histogram("gridx_gateway_flush_seconds", "Database transaction time", registry=r)
        self.db_errors = Counter(
            "gridx_gateway_db_errors", "Database calls that failed and will be retried", registry=r
        )
        self.stalled = Gauge(
            "gridx_gateway_meter_stalled_seconds",
            "Active meters whose chain has not advanced for 3 intervals (at most 100, oldest first)",
            ["meter_id"],
            registry=r,
        )
        self.subscribed = Gauge("gridx_gateway_subscribed", "1 while subscribed to the readings", registry=r)
        self.messages = Counter("gridx_gateway_messages_acked", "MQTT messages acknowledged", registry=r)
        self.parked = Gauge(
            "gridx_gateway_parked_readings", "Readings waiting in memory for a predecessor in flight", registry=r
        )

    def observe_latency(self, m: Msg, committed_at: float, flush_started: float, log: TextIO | None) -> None:
        """A message's readings are all committed: publish to commit, and for benchmarks its
        stages (broker, intake, waiting for a flush, the flush) in ``log``."""
        self.latency.observe(max(0.0, committed_at - m.sent_at_ms / 1000))
        if log is not None:
            log.write(
                f"{m.sent_at_ms} {int(committed_at * 1000)} {m.accepted}"
                f" {m.received_ms} {m.taken_ms} {int(flush_started * 1000)}\n"
            )

    def serve(self, host: str, port: int) -> MetricsServer:
        """Serve /metrics in a daemon thread (``port`` 0 picks a free one: see ``MetricsServer.port``)."""
        return serve_metrics(self.registry, host, port)

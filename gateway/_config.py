"""Gateway configuration: ``GRIDX_GATEWAY_*`` environment variables or keyword arguments."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from gateway._checks import Policy
from gridx.config import dsn_field
from gridx.metrics import metrics_host_field, metrics_port_field
from gridx.wire import GATEWAY_USER

__all__ = ["GatewayConfig"]


class GatewayConfig(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="GRIDX_GATEWAY_", frozen=True, extra="forbid", populate_by_name=True)

    dsn: str = dsn_field("GRIDX_GATEWAY_")  # or GRIDX_DSN
    mqtt_host: str = "127.0.0.1"
    mqtt_port: int = Field(8883, ge=1, le=65535)
    mqtt_ca_file: Path | None = None
    # one broker user per gateway process: the broker binds the session (queued and
    # unacknowledged messages) to the user (use_username_as_clientid), so a restarted gateway
    # comes back under the same user to get its unacknowledged messages, and no edge can take
    # the session over by sending the same client id
    mqtt_username: str = Field("gateway", pattern=GATEWAY_USER.pattern)
    mqtt_password: SecretStr
    client_id: str = Field("gateway-1", min_length=1, max_length=64)  # logs; the broker uses the user
    share_group: str = "gateway"
    # never expires (MQTT v5: 0xFFFFFFFF): with no gateway session the broker would discard
    # readings edges have already deleted; retire a gateway with `gridx gateway retire`
    session_expiry_s: int = Field(0xFFFFFFFF, ge=0, le=0xFFFFFFFF)
    # unacknowledged messages the broker may have in flight to us: bounds memory, and is the
    # backpressure when the database is slow or down
    receive_max: int = Field(200, ge=1, le=65535)
    metrics_host: str = metrics_host_field()
    metrics_port: int | None = metrics_port_field(9464)  # 0: any free port; None: off
    max_age_s: int = Field(86_400, ge=1)
    max_future_s: int = Field(120, ge=0)
    batch_size: int = Field(2000, ge=1)  # readings per database transaction
    linger_ms: int = Field(50, ge=0)  # how long a partial batch may wait for more
    gap_grace_s: float = Field(10.0, ge=0)  # how long a reading may wait for missing predecessors
    # a reading whose predecessor is in another gateway's flush waits this long in memory (its
    # message unacknowledged; at most receive_max/4 such messages) before the quarantine; 0: never
    park_s: float = Field(2.0, ge=0)
    registry_ttl_s: float = Field(5.0, ge=0)
    verify_threads: int = Field(2, ge=1, le=64)  # PyNaCl releases the GIL while verifying
    db_retry_max_s: float = Field(2.0, gt=0)
    # a flood of garbage from one edge must not fill the database: past this rate, rejected
    # readings are counted and acknowledged but stored as one summary row per reason
    quarantine_per_edge_per_s: float = Field(50.0, gt=0)
    quarantine_burst: int = Field(5_000, ge=1)
    quarantine_retention_days: int = Field(90, ge=1)  # held (open chain_gap) rows are kept
    latency_log: Path | None = None  # "sent_at_ms committed_ms readings" per message, for benchmarks

    @property
    def policy(self) -> Policy:
        return Policy(max_age_s=self.max_age_s, max_future_s=self.max_future_s)

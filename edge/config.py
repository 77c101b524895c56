"""Edge agent configuration: a TOML or JSON file, overridden by ``GRIDX_EDGE_*`` environment
variables (so a container can inject the broker password without writing it to the file)."""

from __future__ import annotations

import json
import tomllib
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from gridx.errors import ConfigError
from gridx.wire import is_gateway_user

__all__ = ["EdgeConfig", "MeterConfig", "load_config", "render_toml"]


class MeterConfig(BaseModel):
    """Where one meter answers: Modbus TCP host/port and unit id."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    meter_id: str = Field(min_length=1, max_length=32, pattern=r"^[A-Za-z0-9_.-]+$")
    host: str = "127.0.0.1"
    port: int = Field(502, ge=1, le=65535)
    unit: int = Field(1, ge=1, le=247)


class EdgeConfig(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="GRIDX_EDGE_", frozen=True, extra="forbid")

    edge_id: str = Field(min_length=1, max_length=32, pattern=r"^[A-Za-z0-9_.-]+$")
    meters: list[MeterConfig]
    keys_dir: Path
    outbox_path: Path
    # windows are aligned to multiples of interval_s (UTC); polling is independent of it
    interval_s: int = Field(60, ge=1, le=86400)
    poll_period_s: float = Field(1.0, gt=0)
    # plausibility bound for a counter delta; raise it when a simulator runs faster than real time
    max_power_w: int = Field(50_000, ge=1)
    modbus_timeout_s: float = Field(0.5, gt=0)
    modbus_retries: int = Field(1, ge=0, le=5)
    connections_per_port: int = Field(2, ge=1, le=16)
    mqtt_host: str = "127.0.0.1"
    mqtt_port: int = Field(8883, ge=1, le=65535)
    mqtt_ca_file: Path | None = None
    mqtt_password: SecretStr | None = None
    mqtt_password_file: Path | None = None
    batch_max: int = Field(500, ge=1, le=1000)
    inflight_max: int = Field(8, ge=1, le=100)
    stats_file: Path | None = None
    stats_every_s: float = Field(5.0, gt=0)

    @field_validator("interval_s")
    @classmethod
    def _divides_a_day(cls, v: int) -> int:
        # the registry's rule (meters.interval_s): windows align the same way every day
        if 86_400 % v:
            raise ValueError(f"interval_s {v} does not divide a day (86400 s)")
        return v

    @field_validator("edge_id")
    @classmethod
    def _not_the_gateway(cls, v: str) -> str:
        # the broker ACL denies gateway users their would-be edge topics
        if is_gateway_user(v):
            raise ValueError(f"edge_id {v!r} is reserved for a gateway's broker user (gateway, gateway-<id>)")
        return v

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # environment wins over the file (passed as init kwargs)
        return env_settings, init_settings

    def password(self) -> str:
        if self.mqtt_password is not None:
            return self.mqtt_password.get_secret_value()
        if self.mqtt_password_file is not None:
            return self.mqtt_password_file.read_text().strip()
        raise ConfigError("set mqtt_password or mqtt_password_file (or GRIDX_EDGE_MQTT_PASSWORD)")


def load_config(path: Path) -> EdgeConfig:
    try:
        raw = path.read_bytes()
        data: dict[str, Any] = json.loads(raw) if path.suffix == ".json" else tomllib.loads(raw.decode())
        return EdgeConfig(**data)
    except (OSError, ValueError) as exc:
        raise ConfigError(f"edge config {path}: {exc}") from exc


def _toml_value(v: object) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int | float):
        return repr(v)
    return json.dumps(str(v))  # a JSON string is a valid TOML basic string


def render_toml(settings: dict[str, object], meters: list[MeterConfig]) -> str:
    """Minimal TOML writer for what provisioning emits (flat keys plus ``[[meters]]``)."""
    lines = [f"{k} = {_toml_value(v)}" for k, v in settings.items() if v is not None]
    for m in meters:
        lines += ["", "[[meters]]", *(f"{k} = {_toml_value(v)}" for k, v in m.model_dump().items())]
    return "\n".join(lines) + "\n"

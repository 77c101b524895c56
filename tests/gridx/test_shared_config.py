"""The shared configuration vocabulary, settings → environment, and the one percentile."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from gridx.config import DEFAULT_RPC_URL, dsn_field, rpc_url_field
from gridx.services import settings_env
from gridx.stats import percentile


class _PartSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="GRIDX_PART_", frozen=True, extra="forbid", populate_by_name=True)

    dsn: str = dsn_field("GRIDX_PART_")
    rpc_url: str = rpc_url_field("GRIDX_PART_")
    password: SecretStr = SecretStr("x")
    ca_file: Path | None = None
    workers: int = Field(2, ge=1)


def test_shared_names_are_the_fallback_and_part_names_override(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GRIDX_DSN", "postgresql://shared/db")
    s = _PartSettings()
    assert (s.dsn, s.rpc_url) == ("postgresql://shared/db", DEFAULT_RPC_URL)
    monkeypatch.setenv("GRIDX_RPC_URL", "http://shared:8899")
    monkeypatch.setenv("GRIDX_PART_DSN", "postgresql://part/db")
    s = _PartSettings()
    assert (s.dsn, s.rpc_url) == ("postgresql://part/db", "http://shared:8899")
    assert _PartSettings(dsn="postgresql://kw/db").dsn == "postgresql://kw/db"


def test_a_missing_dsn_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("GRIDX_DSN", raising=False)
    monkeypatch.delenv("GRIDX_PART_DSN", raising=False)
    with pytest.raises(ValueError, match="GRIDX_PART_DSN"):
        _PartSettings()


def test_settings_env_round_trips_through_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for var in ("GRIDX_DSN", "GRIDX_RPC_URL", "GRIDX_PART_DSN"):
        monkeypatch.delenv(var, raising=False)
    original = _PartSettings(dsn="postgresql://a/b", password=SecretStr("s3cret"), ca_file=Path("/ca.crt"), workers=5)
    env = settings_env(original)
    assert env == {
        "GRIDX_PART_DSN": "postgresql://a/b",
        "GRIDX_PART_PASSWORD": "s3cret",
        "GRIDX_PART_CA_FILE": "/ca.crt",
        "GRIDX_PART_WORKERS": "5",
    }
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    assert _PartSettings() == original


def test_percentile_is_nearest_rank() -> None:
    values = [10.0, 20.0, 30.0, 40.0]
    assert [percentile(values, q) for q in (0.0, 0.25, 0.5, 0.75, 0.99, 1.0)] == [10, 10, 20, 30, 40, 40]
    assert percentile([], 0.5) == 0.0
    with pytest.raises(ValueError):
        percentile(values, 1.5)


@given(st.lists(st.tuples(st.integers(0, 10_000), st.integers(1, 50)), min_size=1), st.floats(0, 1))
def test_weights_count_a_value_that_many_times(pairs: list[tuple[int, int]], q: float) -> None:
    pairs.sort()
    expanded = [v for v, w in pairs for _ in range(w)]
    weighted = percentile([v for v, _ in pairs], q, [w for _, w in pairs])
    assert weighted == percentile(expanded, q)
    assert expanded[max(0, math.ceil(q * len(expanded)) - 1)] == weighted

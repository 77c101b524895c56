"""The API's rate limit (``CountingRateLimit``): Litestar's fixed window per client, its
headers and a problem document on refusal, with a stored value that does not grow with the
requests in the window (Litestar's own stored every timestamp and re-encoded it per request)."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from litestar import Litestar, get
from litestar.middleware.rate_limit import RateLimitConfig
from litestar.stores.memory import MemoryStore
from litestar.testing import TestClient

from backend import _ratelimit
from backend._errors import exception_handlers
from backend._ratelimit import CountingRateLimit, _parse


@get("/ping", sync_to_thread=False)
def ping() -> dict[str, str]:
    return {"ok": "yes"}


@get("/health", sync_to_thread=False)
def health() -> dict[str, str]:
    return {"status": "ok"}


def _app(limit: int, store: MemoryStore) -> Litestar:
    cfg = RateLimitConfig(rate_limit=("minute", limit), exclude=["/health"], middleware_class=CountingRateLimit)
    return Litestar(
        [ping, health],
        middleware=[cfg.middleware],
        exception_handlers=exception_handlers(),
        stores={"rate_limit": store},
    )


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    now = [1_800_000_000]
    monkeypatch.setattr(_ratelimit, "_now", lambda: now[0])
    return now


def test_the_window_admits_the_limit_then_refuses_with_a_problem(clock: list[int]) -> None:
    with TestClient(_app(3, MemoryStore())) as client:
        seen = [client.get("/ping") for _ in range(3)]
        assert [r.status_code for r in seen] == [200, 200, 200]
        assert [r.headers["RateLimit-Remaining"] for r in seen] == ["2", "1", "0"]
        assert seen[0].headers["RateLimit-Limit"] == "3" and seen[0].headers["RateLimit-Reset"] == "60"
        refused = client.get("/ping")
        assert refused.status_code == 429
        assert refused.headers["content-type"].startswith("application/problem+json")
        assert refused.json()["code"] == "rate_limited"
        assert refused.headers["RateLimit-Remaining"] == "0" and refused.headers["Retry-After"] == "60"
        assert client.get("/health").status_code == 200  # excluded: a probe is never limited
        clock[0] += 59
        assert client.get("/ping").status_code == 429  # a refused request did not extend the window
        clock[0] += 1
        fresh = client.get("/ping")
        assert fresh.status_code == 200 and fresh.headers["RateLimit-Remaining"] == "2"


def test_the_stored_value_does_not_grow_with_the_window(clock: list[int]) -> None:
    store = MemoryStore()
    with TestClient(_app(10_000, store)) as client:
        for _ in range(300):
            assert client.get("/ping").status_code == 200
        values: list[Any] = [v.data for v in store._store.values()]
    assert len(values) == 1 and values[0] == f"{clock[0] + 60}:300".encode()


@given(raw=st.binary(max_size=40) | st.none())
def test_any_stored_value_parses_or_starts_a_window(raw: bytes | None) -> None:
    out = _parse(raw)
    assert out is None or (isinstance(out[0], int) and isinstance(out[1], int))

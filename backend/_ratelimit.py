"""The API's rate limit: Litestar's fixed window per client, kept as a count.

Litestar's ``RateLimitMiddleware`` stores every request's timestamp in the window and decodes
and re-encodes that whole list on each request, so a request costs CPU in proportion to the
requests before it in the window: at the default 6,000 a minute, one busy client made each
request ~0.3 ms dearer by the end of a minute, and the limit itself became a way to slow the
API for everyone. The window, the headers and the refusal are Litestar's; only the stored
value is the count (``reset:count``), so a request costs the same at any point of a window."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

from litestar.datastructures import MutableScopeHeaders
from litestar.exceptions import TooManyRequestsException
from litestar.middleware.rate_limit import DURATION_VALUES, RateLimitMiddleware

if TYPE_CHECKING:
    from litestar.stores.base import Store
    from litestar.types import Message, Receive, Scope, Send

__all__ = ["CountingRateLimit"]


def _now() -> int:
    return int(time.time())


@dataclass(frozen=True)
class _Window:
    reset: int  # unix second the window ends
    count: int  # requests admitted in it, this one included


def _parse(raw: bytes | None) -> tuple[int, int] | None:
    """(reset, count) as stored; None for nothing or anything else (a fresh window)."""
    if not raw:
        return None
    reset, _, count = raw.partition(b":")
    try:
        return int(reset), int(count)
    except ValueError:
        return None


class CountingRateLimit(RateLimitMiddleware):
    """``RateLimitConfig(..., middleware_class=CountingRateLimit)``: a refused request is not
    counted, as in Litestar's."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        app = scope["litestar_app"]
        request = app.request_class(scope)
        if await self.should_check_request(request=request):
            key = self.cache_key_from_request(request)
            store = self.config.get_store_from_app(app)
            async with self._lock:  # read-modify-write of the store, as Litestar's
                window = await self._admit(key, store)
            if window.count > self.max_requests:
                headers = self._headers(window) if self.config.set_rate_limit_headers else {}
                retry = str(max(1, window.reset - _now()))
                raise TooManyRequestsException(headers={**headers, "Retry-After": retry})
            if self.config.set_rate_limit_headers:
                send = self._with_headers(send, window)
        await self.app(scope, receive, send)

    async def _admit(self, key: str, store: Store) -> _Window:
        """The window with this request counted, or over the limit (then nothing is stored)."""
        now, duration = _now(), DURATION_VALUES[self.unit]
        raw = await store.get(key)
        reset, count = (now + duration, 0)
        stored = _parse(raw)
        if stored is not None and stored[0] > now:
            reset, count = stored
        if count < self.max_requests:
            await store.set(key, f"{reset}:{count + 1}", expires_in=max(1, reset - now))
        return _Window(reset, count + 1)

    def _headers(self, window: _Window) -> dict[str, str]:
        cfg = self.config
        return {
            cfg.rate_limit_policy_header_key: f"{self.max_requests}; w={DURATION_VALUES[self.unit]}",
            cfg.rate_limit_limit_header_key: str(self.max_requests),
            cfg.rate_limit_remaining_header_key: str(max(0, self.max_requests - window.count)),
            cfg.rate_limit_reset_header_key: str(max(0, window.reset - _now())),
        }

    def _with_headers(self, send: Send, window: _Window) -> Send:
        async def wrapped(message: Message) -> None:
            if message["type"] == "http.response.start":
                message.setdefault("headers", [])
                headers = MutableScopeHeaders(message)
                for key, value in self._headers(window).items():
                    headers[key] = value
            await send(message)

        return wrapped

"""Dependencies the handlers declare by name: ``services`` and the signed-in ``wallet``."""

from __future__ import annotations

import time
from typing import Any

from litestar import Request
from litestar.datastructures import State

from ._errors import ApiError, Problem
from ._state import Services
from .auth import read_token

__all__ = ["bearer_wallet", "provide_services", "provide_wallet"]


async def provide_services(state: State) -> Services:
    services: Services = state.services
    return services


def bearer_wallet(services: Services, authorization: str | None) -> str:
    if not authorization or not authorization.startswith("Bearer "):
        raise ApiError(Problem.TOKEN_MISSING, "send Authorization: Bearer <token> from POST /auth/login")
    return read_token(services.token_key, authorization[len("Bearer ") :], int(time.time()))


async def provide_wallet(request: Request[Any, Any, Any], services: Services) -> str:
    return bearer_wallet(services, request.headers.get("authorization"))

"""GridTokenX trading API (Litestar): wallet sign-in, orders, book, matching, settlement on
chain, the chain→database indexer and the live feed.

    from backend import ApiSettings, create_app
    app = create_app(ApiSettings(dsn=..., rpc_url=...))   # or GRIDX_API_* from the environment

Names are imported lazily so ``gridx`` sub-commands that do not serve the API stay light.
"""

from __future__ import annotations

from typing import Any

__all__ = ["ApiSettings", "create_app"]


def __getattr__(name: str) -> Any:
    if name == "create_app":
        from backend._app import create_app

        return create_app
    if name == "ApiSettings":
        from backend._config import ApiSettings

        return ApiSettings
    raise AttributeError(name)

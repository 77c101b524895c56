"""What every request handler and background task shares, built once at startup: the
database pool, the chain client, the deployment, the market's rules and the live feed."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from solders.keypair import Keypair
from solders.pubkey import Pubkey

from gridx.chain import Deployment, MarketKeys, chain_secrets_dir, fetch_decoded, load_deployment, load_keypair
from gridx.errors import ConfigError
from gridx.paths import secrets_dir, write_private

from ._config import ApiSettings

if TYPE_CHECKING:
    from psycopg_pool import AsyncConnectionPool
    from solana.rpc.async_api import AsyncClient

    from .feed import FeedHub

__all__ = ["MarketInfo", "Services", "token_key"]


@dataclass(frozen=True)
class MarketInfo:
    id: str  # the market account's address
    keys: MarketKeys
    fee_bps: int
    price_tick: int
    lot: int


class Services:
    """Not a dataclass on purpose: Litestar would try to validate it field by field as a
    dependency value."""

    def __init__(
        self,
        settings: ApiSettings,
        pool: AsyncConnectionPool,
        chain: AsyncClient,
        deployment: Deployment,
        market: MarketInfo,
        authority: Keypair,  # the market authority: signs match_order (and the dev faucet), nothing else
        token_key: bytes,
        feed: FeedHub,
    ) -> None:
        self.settings, self.pool, self.chain, self.deployment = settings, pool, chain, deployment
        self.market, self.authority, self.token_key, self.feed = market, authority, token_key, feed
        self.matcher_wake = asyncio.Event()

    def market_by_id(self, market_id: str) -> MarketInfo:
        from ._errors import ApiError, Problem

        if market_id != self.market.id:
            raise ApiError(Problem.UNKNOWN_MARKET, f"no market {market_id!r}")
        return self.market


def token_key(settings: ApiSettings) -> bytes:
    """The session-token HMAC key: configured, or created once in .secrets/api/ (0600)."""
    if settings.token_secret is not None:
        return settings.token_secret.get_secret_value().encode()
    import secrets

    path = secrets_dir() / "api" / "token.key"
    if not path.exists():
        write_private(path, secrets.token_hex(32).encode())
    return path.read_bytes()


def keys_dir(settings: ApiSettings) -> Path:
    return settings.keys_dir or chain_secrets_dir()


async def load_market(chain: AsyncClient, settings: ApiSettings) -> tuple[Deployment, MarketInfo, Keypair]:
    dep = load_deployment(keys_dir(settings))
    keys = dep.market_keys()
    acct = await fetch_decoded(chain, "trading", keys.address)
    if acct is None:
        raise ConfigError(f"market {keys.address} is not on chain at {settings.rpc_url} (run `gridx chain bootstrap`)")
    authority = load_keypair(keys_dir(settings) / "market_authority.json")
    if Pubkey.from_string(dep.market_authority) != authority.pubkey():
        raise ConfigError("market_authority.json does not match the deployment")
    info = MarketInfo(str(keys.address), keys, int(acct.fee_bps), settings.price_tick, settings.lot)
    return dep, info, authority

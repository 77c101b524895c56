"""What every request handler and background task shares, built once at startup: the
database pool, the chain client, the deployment, the market's rules and the live feed."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from solders.hash import Hash
from solders.keypair import Keypair
from solders.pubkey import Pubkey

from gridx.chain import Deployment, MarketKeys, chain_secrets_dir, fetch_decoded, load_deployment, load_keypair
from gridx.errors import ConfigError
from gridx.paths import secrets_dir, write_private

from ._config import ApiSettings
from ._reads import AccountReader

if TYPE_CHECKING:
    from psycopg_pool import AsyncConnectionPool
    from solana.rpc.async_api import AsyncClient

    from .feed import FeedHub

__all__ = ["MarketInfo", "Services", "load_registry_authority", "token_key"]


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
        # approves meter enrolments (co-signs register_meter); None: enrolment is off
        self.registry_authority: Keypair | None = None
        self.reads = AccountReader(settings.rpc_url)  # balance checks, coalesced under load
        # (market, depth) -> (feed version, book): GET /book answered without a query until
        # the market's next feed event
        self.book_cache: dict[tuple[str, int], tuple[tuple[int, int], Any]] = {}
        self._blockhash: tuple[float, Hash, int] | None = None

    async def blockhash(self) -> tuple[Hash, int]:
        """A recent blockhash and its last valid height, fetched at most once a second (it stays
        valid for ~150 blocks): one RPC less per prepared transaction."""
        import time

        from gridx.chain import blockhash_with_height

        now = time.monotonic()
        if self._blockhash is None or now - self._blockhash[0] > 1.0:
            bh, height = await blockhash_with_height(self.chain)
            self._blockhash = (now, bh, height)
        return self._blockhash[1], self._blockhash[2]

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


async def _fee_bps(chain: AsyncClient, pool: AsyncConnectionPool, settings: ApiSettings, market: str) -> int:
    """The market's fee from its account on chain (remembered in the database, so an API that
    starts during a chain outage still serves, and its settler waits for the chain)."""
    from gridx.errors import ChainError

    try:
        acct = await fetch_decoded(chain, "trading", Pubkey.from_string(market))
    except ChainError as exc:
        async with pool.connection() as conn:
            row = await (await conn.execute("SELECT fee_bps FROM market_state WHERE market = %s", (market,))).fetchone()
        if row is None or row[0] is None:
            raise ConfigError(f"chain unreachable and market {market} never seen: {exc}") from exc
        return int(row[0])
    if acct is None:
        raise ConfigError(f"market {market} is not on chain at {settings.rpc_url} (run `gridx chain bootstrap`)")
    async with pool.connection() as conn:
        await conn.execute(
            """INSERT INTO market_state (market, fee_bps) VALUES (%s, %s)
               ON CONFLICT (market) DO UPDATE SET fee_bps = excluded.fee_bps""",
            (market, int(acct.fee_bps)),
        )
    return int(acct.fee_bps)


async def load_market(
    chain: AsyncClient, pool: AsyncConnectionPool, settings: ApiSettings
) -> tuple[Deployment, MarketInfo, Keypair]:
    dep = load_deployment(keys_dir(settings))
    keys = dep.market_keys()
    fee_bps = await _fee_bps(chain, pool, settings, str(keys.address))
    authority = load_keypair(keys_dir(settings) / "market_authority.json")
    if Pubkey.from_string(dep.market_authority) != authority.pubkey():
        raise ConfigError("market_authority.json does not match the deployment")
    info = MarketInfo(str(keys.address), keys, fee_bps, settings.price_tick, settings.lot)
    return dep, info, authority


def load_registry_authority(settings: ApiSettings, dep: Deployment) -> Keypair | None:
    """The key that approves enrolments, if this deployment gives it to the API."""
    path = settings.registry_authority_keypair or keys_dir(settings) / "registry_authority.json"
    if settings.registry_authority_keypair is None and not path.exists():
        return None
    kp = load_keypair(path)
    if Pubkey.from_string(dep.registry_authority) != kp.pubkey():
        raise ConfigError(f"{path} is not the deployment's registry authority")
    return kp

"""API settings: ``GRIDX_API_*`` variables (``GRIDX_DSN`` / ``GRIDX_RPC_URL`` as the shared
fallbacks) or keyword arguments; built once and handed to ``create_app``."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

from pydantic import AliasChoices, Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from gridx.metrics import metrics_host_field, metrics_port_field

__all__ = ["ApiSettings"]


class ApiSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="GRIDX_API_", frozen=True, extra="forbid", populate_by_name=True)

    dsn: str = Field(
        "postgresql://127.0.0.1:5432/gridx", validation_alias=AliasChoices("GRIDX_API_DSN", "GRIDX_DSN", "dsn")
    )
    rpc_url: str = Field(
        "http://127.0.0.1:8899",
        validation_alias=AliasChoices("GRIDX_API_RPC_URL", "GRIDX_RPC_URL", "rpc_url"),
    )
    # chain keys: deployment.json (public) and market_authority.json (signs match_order only)
    keys_dir: Path | None = None
    # the registry authority, which approves meter enrolments by co-signing register_meter
    # (the program requires it, DESIGN §2) after the API's checks; None: registry_authority.json
    # in keys_dir if it is there, else POST /meters answers 503 enrolment_unavailable
    registry_authority_keypair: Path | None = None
    # the largest rated power the API approves by itself (the registry's bound is 10 MW): rated
    # power caps what a meter can mint, so larger installations go through the operator
    enrol_max_rated_power_w: int = Field(100_000, ge=1, le=10_000_000)
    host: str = "127.0.0.1"
    port: int = Field(8000, ge=0, le=65535)
    # /metrics (the API's registry, matcher and indexer included) on its own listener; None: off
    metrics_host: str = metrics_host_field()
    metrics_port: int | None = metrics_port_field(None)
    # Sign-In-With-Solana: the domain and URI a message must name, and the chain id
    domain: str = "127.0.0.1:8000"
    uri: str = "http://127.0.0.1:8000"
    chain_id: str = "localnet"
    nonce_ttl_s: int = Field(300, ge=10, le=300)  # the issue: single-use, at most 5 minutes
    token_ttl_s: int = Field(900, ge=10, le=86_400)
    # a refresh token's life (single use, rotated on every use); at most 30 days
    refresh_ttl_s: int = Field(7 * 86_400, ge=60, le=30 * 86_400)
    # HMAC key for session tokens; None: .secrets/api/token.key (created 0600 on first use)
    token_secret: SecretStr | None = None
    # market rules (base units): price tick and amount lot
    price_tick: int = Field(1_000, ge=1)
    lot: int = Field(1_000, ge=1)
    max_body_bytes: int = Field(64 * 1024, ge=1024)
    rate_limit_per_minute: int = Field(6_000, ge=1)
    pool_max: int = Field(10, ge=1, le=200)
    # run the single-writer matcher and settler inside the API process
    matcher: bool = True
    settle_lease_s: float = Field(30.0, gt=0)
    # match_order instructions per settlement transaction (1: one trade each; 7: the most the
    # default compute budget of 200k units per instruction, 1.4 M per transaction, allows)
    settle_per_tx: int = Field(7, ge=1, le=7)
    # the indexer's poll period (slot-cursor polling until the live log feed is available)
    index_poll_s: float = Field(0.5, gt=0)
    indexer: bool = True
    # the live path (logsSubscribe + slot-cursor catch-up) at this PubSub URL; None: polling
    index_ws_url: str | None = None
    # fault injection for tests: "settle_after_send" kills the process (SIGKILL) once match_order
    # transactions are confirmed on chain but before their outcome is recorded; "submit_before_send"
    # once a user's signed transaction is marked submitted, before it is sent
    failpoint: str | None = None
    # test GRX for local and dev clusters only
    faucet: bool = False
    # the operator's dashboard (/dashboard): shows every meter's production, so off unless asked for
    dashboard: bool = False
    # THB payments (issue 12): the EVM chain's JSON-RPC URL and our THBC and HTLC contracts;
    # without all three the /payments/thb routes answer 503 payments_unavailable
    evm_rpc_url: str | None = None
    evm_thbc: str | None = None
    evm_htlc: str | None = None
    evm_confirmations: int = Field(0, ge=0, le=64)
    # the configured GRX -> THB rate (seed: 1 GRX = 10 THB); the quote fixes the THBC amount with it
    thb_per_grx: Decimal = Field(Decimal(10), gt=0)

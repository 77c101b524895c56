"""Mint worker settings: ``GRIDX_MINT_*`` environment variables or keyword arguments."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from gateway.mint._limits import MintLimits
from gateway.mint._worker import MintWorkerConfig
from gridx.chain import chain_secrets_dir
from gridx.config import dsn_field, rpc_url_field
from gridx.metrics import metrics_host_field, metrics_port_field

__all__ = ["MintSettings"]


class MintSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="GRIDX_MINT_", frozen=True, extra="forbid", populate_by_name=True)

    dsn: str = dsn_field("GRIDX_MINT_")  # or GRIDX_DSN
    rpc_url: str = rpc_url_field("GRIDX_MINT_")  # or GRIDX_RPC_URL
    minter_keypair: Path = Field(default_factory=lambda: chain_secrets_dir() / "gateway_minter.json")
    per_tx: int = Field(4, ge=1, le=8)
    claim_batch: int = Field(2000, ge=1)
    # claim -> send -> record loops in this process: while one waits on the chain or the
    # database, another packs and sends (the claim never gives one meter to two of them)
    workers: int = Field(1, ge=1, le=8)
    # passes of one worker between claim and record at once (1: strictly one after another)
    pipeline: int = Field(2, ge=1, le=4)
    lease_s: float = Field(30.0, gt=0)
    confirm_s: float = Field(30.0, gt=0)
    per_meter_per_s: float = Field(2.0, gt=0)
    per_meter_burst: int = Field(10, ge=1)
    global_per_s: float = Field(5000.0, gt=0)
    global_burst: int = Field(5000, ge=1)
    mirror_interval_s: float = Field(1.0, gt=0)  # how soon an on-chain revocation reaches the mirror
    # /metrics of this worker's registry (gridx.metrics); a container sets host 0.0.0.0
    metrics_host: str = metrics_host_field()
    metrics_port: int | None = metrics_port_field(None)
    # fault injection for tests: "after_send" kills the process once transactions are
    # confirmed but before their outcome is recorded (the crash window exactly-once must survive)
    failpoint: str | None = None

    def worker(self) -> MintWorkerConfig:
        return MintWorkerConfig(
            dsn=self.dsn,
            rpc_url=self.rpc_url,
            minter_keypair=self.minter_keypair,
            per_tx=self.per_tx,
            claim_batch=self.claim_batch,
            lease_s=self.lease_s,
            confirm_s=self.confirm_s,
            limits=MintLimits(self.per_meter_per_s, self.per_meter_burst, self.global_per_s, self.global_burst),
            failpoint=self.failpoint,
            pipeline=self.pipeline,
        )

"""Mint-path fixtures: a bootstrapped local chain, meters enrolled on chain (mirror in the
database), the mint worker in a thread or as a ``gridx mint run`` process."""

from __future__ import annotations

import asyncio
import os
import subprocess
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
from solana.rpc.async_api import AsyncClient
from solders.keypair import Keypair
from solders.pubkey import Pubkey

from gateway.mint import MintSettings, MintWorker
from gridx.chain import (
    LocalNode,
    airdrop,
    ata_address,
    authorize_edge,
    bootstrap,
    grxe_mint_pda,
    load_keypair,
    run_on_chain,
    sign_enrolment,
    token_balance,
)
from gridx.paths import ROOT
from gridx.registry import Reconciliation, enroll_on_chain, reconcile
from gridx.services import gridx_command
from gridx.wire import Reading
from tests.helpers.gateway import Meter, wait_until

HOUR = 3600
EDGE = "edge-m1"  # the edge the mint-path tests publish as


@dataclass
class ChainSetup:
    url: str
    keys: Path
    dsn: str
    node: LocalNode | None = None  # in-process: enrolment may happen "in the past" (time travel)

    @property
    def minter_keypair(self) -> Path:
        return self.keys / "gateway_minter.json"

    @property
    def authority(self) -> Keypair:
        return load_keypair(self.keys / "registry_authority.json")

    def enroll(self, meter: Meter, kind: str = "prosumer", interval_s: int = HOUR, at: int | None = None) -> Keypair:
        """Register the owner and the meter on chain, then mirror them. With an in-process node
        the chain's clock is set back to just before the meter's first window for the
        enrolment (the chain mints no window that starts before it), then forward again.
        ``at``: the chain's clock at the registration instead (the mirror's row is dated a
        second later, as a mirror written after the chain confirmed it would be)."""
        owner = Keypair()
        created = meter.window_end if at is None else at + 1
        meter.owner = str(owner.pubkey())

        async def go(client: AsyncClient) -> None:
            await airdrop(client, owner.pubkey(), 10**9)
            await authorize_edge(client, meter.edge_id, self.keys)
            with psycopg.connect(self.dsn) as conn:
                await enroll_on_chain(
                    client,
                    conn,
                    owner=owner,
                    authority=self.authority,
                    meter_id=meter.meter_id,
                    meter_pubkey=Pubkey.from_bytes(meter.key.verify_key.encode()),
                    edge_id=meter.edge_id,
                    rated_power_w=meter.rated_power_w,
                    proof=sign_enrolment(meter.key, owner.pubkey(), meter.edge_id),
                    interval_s=interval_s,
                    owner_type=kind,  # type: ignore[arg-type]
                )
                # the test's readings start before this moment: the gateway credits nothing
                # earlier than a meter's enrolment, so date it back to the first window
                conn.execute(
                    "UPDATE meters SET created_at = to_timestamp(%s) WHERE meter_id = %s",
                    (created, meter.meter_id),
                )

        if self.node is not None:
            self.node.chain.time_travel(meter.window_end - interval_s if at is None else at)
        try:
            run_on_chain(self.url, go)
        finally:
            if self.node is not None:
                self.node.chain.time_travel(int(time.time()))
        return owner

    def grxe_balance(self, owner: str) -> int:
        return run_on_chain(
            self.url, lambda c: token_balance(c, ata_address(Pubkey.from_string(owner), grxe_mint_pda()))
        )

    def reconcile(self) -> Reconciliation:
        async def go(client: AsyncClient) -> Reconciliation:
            with psycopg.connect(self.dsn) as conn:
                return await reconcile(client, conn)

        return run_on_chain(self.url, go)

    def reconcile_cli(self) -> dict[str, Any]:
        """``gridx reconcile`` as an operator runs it (one JSON line); exit status agrees."""
        import json

        from typer.testing import CliRunner

        from gridx.cli import app

        env = {"GRIDX_DSN": self.dsn, "GRIDX_RPC_URL": self.url, "GRIDX_API_KEYS_DIR": str(self.keys)}
        res = CliRunner().invoke(app, ["reconcile"], env=env)
        out: dict[str, Any] = json.loads(res.output.strip().splitlines()[-1])
        assert res.exit_code == (1 if out["drift"] else 0), res.output
        return out

    def settings(self, **kw: Any) -> MintSettings:
        base: dict[str, Any] = dict(
            dsn=self.dsn,
            rpc_url=self.url,
            minter_keypair=self.minter_keypair,
            per_meter_per_s=1000.0,
            per_meter_burst=1000,
            mirror_interval_s=0.5,
        )
        base.update(kw)
        return MintSettings(**base)


def bootstrap_chain(url: str, keys: Path, dsn: str, node: LocalNode | None = None) -> ChainSetup:
    run_on_chain(url, lambda c: bootstrap(c, keys))
    return ChainSetup(url, keys, dsn, node)


class MintThread:
    """The mint worker and registry mirror in-process, on their own event loop."""

    def __init__(self, settings: MintSettings) -> None:
        self.settings = settings
        self.worker = MintWorker(settings.worker())
        self._stop: asyncio.Event | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread = threading.Thread(target=self._main, daemon=True)
        self.error: BaseException | None = None

    def _main(self) -> None:
        from gateway.mint._service import run_mint_service

        async def run() -> None:
            self._loop = asyncio.get_running_loop()
            self._stop = asyncio.Event()
            # share the worker object so tests can look at it; the service builds its own otherwise
            await run_mint_service(self.settings, self._stop, worker=self.worker)

        try:
            asyncio.run(run())
        except BaseException as exc:
            self.error = exc

    def start(self) -> MintThread:
        self._thread.start()
        wait_until(lambda: self._stop is not None, 10, "mint service started")
        return self

    def stop(self) -> None:
        if self._loop is not None and self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(30)
        assert not self._thread.is_alive(), "mint service did not stop"
        if self.error is not None:
            raise self.error


def mint_process(settings: MintSettings, log: Path) -> subprocess.Popen[bytes]:
    env = dict(os.environ)
    for name, value in settings.model_dump().items():
        if value is not None:
            env[f"GRIDX_MINT_{name.upper()}"] = str(value)
    with log.open("ab") as fh:
        return subprocess.Popen(
            gridx_command("mint", "run"),
            env=env,
            stdout=fh,
            stderr=subprocess.STDOUT,
            cwd=ROOT,
        )


def store_for_mint(dsn: str, r: Reading, edge_id: str, outbox_amount: int | None = None) -> None:
    """A signed reading and its outbox row written straight to the database, as a buggy or
    compromised gateway might (``outbox_amount`` overrides what the row claims)."""
    surplus = r.produced_wh - r.consumed_wh
    amount = surplus * 1000 if outbox_amount is None else outbox_amount
    with psycopg.connect(dsn) as conn:
        conn.execute(
            "INSERT INTO readings (meter_id, window_start, window_end, seq, produced_wh, consumed_wh, surplus_wh,"
            " produced_total_wh, consumed_total_wh, prev_hash, hash, sig, edge_id, sent_at_ms)"
            " VALUES (%s, to_timestamp(%s), to_timestamp(%s), %s, %s, %s, %s, %s, %s, %s, '', %s, %s, 0)",
            (
                r.meter_id,
                r.window_start,
                r.window_end,
                r.seq,
                r.produced_wh,
                r.consumed_wh,
                surplus,
                r.produced_total_wh,
                r.consumed_total_wh,
                r.prev_hash,
                r.sig,
                edge_id,
            ),
        )
        conn.execute(
            "INSERT INTO mint_outbox (meter_id, window_start, window_end, surplus_wh, amount)"
            " VALUES (%s, to_timestamp(%s), to_timestamp(%s), %s, %s)",
            (r.meter_id, r.window_start, r.window_end, amount // 1000, amount),
        )


def outbox_counts(dsn: str) -> dict[str, int]:
    with psycopg.connect(dsn) as c:
        return dict(c.execute("SELECT status, count(*) FROM mint_outbox GROUP BY status").fetchall())  # type: ignore[arg-type]


def hourly(meter_id: str, rated_w: int = 30_000, edge: str = EDGE) -> Meter:
    """A meter with hourly windows whose next window ended three hours ago."""
    m = Meter(meter_id, edge, rated_power_w=rated_w)
    m.window_end = (m.window_end // HOUR - 3) * HOUR
    return m


def reading(m: Meter, produced: int, consumed: int):  # type: ignore[no-untyped-def]
    u = m.unsigned(produced, consumed, window_end=m.window_end + HOUR)
    m.advance(u)
    return m.sign(u)


def stream(meters: list[Meter], windows: int) -> list[list]:  # type: ignore[type-arg]
    """One batch per window: every meter produces more than it consumes (all mint)."""
    return [[reading(m, 1_000 + 10 * w + i, 400) for i, m in enumerate(meters)] for w in range(windows)]


def expected_grxe(batches: list[list]) -> int:  # type: ignore[type-arg]
    return sum((r.produced_wh - r.consumed_wh) * 1000 for batch in batches for r in batch)

"""The trading API as an operator runs it: ``gridx api run`` (uvicorn) against a real
PostgreSQL and the local chain node running our SBF programs, bootstrapped from scratch."""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import subprocess
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg
import pytest
from eth_account import Account
from eth_account.signers.local import LocalAccount
from solders.keypair import Keypair
from solders.pubkey import Pubkey

import gridx.chain as c
from backend.payments import Evm, EvmSettings, HtlcContracts, deploy_contracts
from gridx.chain import bootstrap
from gridx.client import TradingClient
from gridx.db import migrate
from gridx.paths import ROOT
from gridx.services import AnvilNode, free_port, gridx_command, stop_process, wait_for_port
from tests.helpers.gateway import wait_until

SOL = 10**9
UNIT = 1_000_000  # base units per GRXE / GRX


@dataclass
class Stack:
    url: str
    rpc_url: str
    keys: Path
    dsn: str
    proc: subprocess.Popen[bytes]
    log: Path
    token_secret: str
    metrics_env: dict[str, str] = field(default_factory=dict)  # GRIDX_API_METRICS_HOST / _PORT
    # every wallet a test used, so what it left in the book can be cancelled by its owner
    wallets: dict[str, Keypair] = field(default_factory=dict)

    @property
    def metrics_url(self) -> str:
        host, port = self.metrics_env["GRIDX_API_METRICS_HOST"], self.metrics_env["GRIDX_API_METRICS_PORT"]
        return f"http://{host}:{port}/metrics"

    def client(self, kp: Keypair | None = None) -> TradingClient:
        kp = kp or Keypair()
        self.wallets[str(kp.pubkey())] = kp
        c.run_on_chain(self.rpc_url, lambda cl: c.airdrop(cl, kp.pubkey(), 10 * SOL))
        return TradingClient(self.url, kp)

    def leave_book_empty(self) -> None:
        """Each test on the shared stack ends with the market as it found it: its trades settled,
        its removed orders released, its resting orders cancelled by their owners (escrow back)
        and the book empty, so no test depends on which ran before it."""
        unsettled = "SELECT count(*) FROM trades WHERE status IN ('pending', 'sent')"
        wait_until(lambda: self.sql(unsettled) == [(0,)], 30, "trades settled")
        removed = "SELECT count(*) FROM orders WHERE status = 'removed'"  # the market authority releases those
        wait_until(lambda: self.sql(removed) == [(0,)], 30, "escrow of removed orders released")
        left = self.sql("SELECT id, owner FROM orders WHERE status IN ('open', 'cancelling') ORDER BY id")
        clients: dict[str, TradingClient] = {}
        for oid, owner in left:
            assert owner in self.wallets, f"order {oid} of a wallet no test registered with the stack"
            if owner not in clients:
                clients[owner] = TradingClient(self.url, self.wallets[str(owner)])
                clients[owner].login()
            assert clients[owner].cancel(int(oid))["status"] == "confirmed"  # type: ignore[call-overload]
        book = "SELECT count(*) FROM orders WHERE status IN ('open', 'cancelling') AND in_engine"
        wait_until(lambda: self.sql(book) == [(0,)], 20, "book empty")
        for cl in clients.values():
            cl.close()

    def user(self, kind: str) -> TradingClient:
        """A fresh wallet, signed in and registered through the API."""
        cl = self.client()
        cl.login()
        assert cl.register(kind)["status"] == "confirmed"
        return cl

    def chain_balance(self, wallet: str, which: str) -> int:
        dep = c.load_deployment(self.keys)
        mint = Pubkey.from_string(dep.grxe_mint if which == "grxe" else dep.payment_mint)
        ata = c.ata_address(Pubkey.from_string(wallet), mint)
        return c.run_on_chain(self.rpc_url, lambda cl: c.token_balance(cl, ata))

    def reconcile(self, strict_balances: bool = True) -> dict[str, Any]:
        """``gridx reconcile`` as an operator runs it: every area (mints, users, orders, escrow,
        trades) in one JSON line; its exit status must agree with the total drift.
        ``strict_balances`` False: owners' wallets are not checked (a stack without the
        indexer has no mint rows to check them against)."""
        from typer.testing import CliRunner

        from gridx.cli import app

        env = {"GRIDX_DSN": self.dsn, "GRIDX_RPC_URL": self.rpc_url, "GRIDX_API_KEYS_DIR": str(self.keys)}
        args = ["reconcile"] if strict_balances else ["reconcile", "--no-strict-balances"]
        res = CliRunner().invoke(app, args, env=env)
        assert res.exception is None or isinstance(res.exception, SystemExit), res.output
        out: dict[str, Any] = json.loads(res.output.strip().splitlines()[-1])
        assert res.exit_code == (1 if out["drift"] else 0), res.output
        assert set(out["areas"]) == {"mint", "trading"}, out
        return out

    def restart(self, **env: str) -> None:
        """Start the API again on the same database and chain (after it died or was stopped)."""
        stop_process(self.proc)
        env = {**self.metrics_env, **env}
        self.proc, self.url, self.log = start_api(self.dsn, self.rpc_url, self.keys, self.log.parent, **env)
        # serving, though maybe "degraded" (the chain may be down on purpose)
        wait_until(lambda: TradingClient(self.url, Keypair()).request("GET", "/health")["database"], 30, "API")

    def sql(self, query: str, *args: object) -> list[tuple[object, ...]]:
        with psycopg.connect(self.dsn, autocommit=True) as conn:
            cur = conn.execute(query, args)
            return cur.fetchall() if cur.description else []


def mint_grxe(stack: Stack, owner: Keypair, amounts: list[int]) -> None:
    """Give ``owner`` GRXE the way the chain mints it: meter-signed readings of a meter enrolled
    to the owner, verified on chain (``gridx.chain.mint_to_owner``); the meter is enrolled in
    the database too, so the indexer records the mints and reconcile accounts for them."""
    c.run_on_chain(stack.rpc_url, lambda cl: c.mint_to_owner(cl, owner, amounts, stack.keys, stack.dsn), timeout_s=120)


def start_api(dsn: str, rpc_url: str, keys: Path, run: Path, **env: str) -> tuple[subprocess.Popen[bytes], str, Path]:
    port = free_port()
    log = run / f"api-{port}.log"
    environ = {
        **os.environ,
        "GRIDX_API_DSN": dsn,
        "GRIDX_API_RPC_URL": rpc_url,
        "GRIDX_API_KEYS_DIR": str(keys),
        "GRIDX_API_PORT": str(port),
        "GRIDX_API_DOMAIN": f"127.0.0.1:{port}",
        "GRIDX_API_URI": f"http://127.0.0.1:{port}",
        "GRIDX_API_FAUCET": "true",
        "GRIDX_API_TOKEN_SECRET": "test-token-secret",
        "GRIDX_API_INDEX_POLL_S": "0.2",
        "GRIDX_SECRETS_DIR": str(run / "secrets"),
        **env,
    }
    with log.open("ab") as fh:
        proc = subprocess.Popen(gridx_command("api", "run"), env=environ, stdout=fh, stderr=subprocess.STDOUT, cwd=ROOT)
    wait_for_port(port, proc, 60, log)
    return proc, f"http://127.0.0.1:{port}", log


@pytest.fixture(scope="package")
def chain_node() -> Iterator[c.LocalNode]:
    node = c.LocalNode.start()
    yield node
    node.stop()


@contextlib.contextmanager
def api_stack(pg_server: object, node: c.LocalNode, run: Path, **env: str) -> Iterator[Stack]:
    """A bootstrapped chain, a fresh migrated database and ``gridx api run`` on both."""
    keys = run / "chain"
    c.run_on_chain(node.url, lambda cl: bootstrap(cl, keys))
    base = pg_server.dsn.rsplit("/", 1)[0]  # type: ignore[attr-defined]
    name = f"api_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(base + "/postgres", autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    dsn = f"{base}/{name}"
    migrate(dsn)
    # /metrics on its own listener at a non-default loopback address, as the settings say
    metrics_env = {"GRIDX_API_METRICS_HOST": "127.0.0.2", "GRIDX_API_METRICS_PORT": str(free_port())}
    env = {**metrics_env, **env}
    proc, url, log = start_api(dsn, node.url, keys, run, **env)
    s = Stack(url, node.url, keys, dsn, proc, log, "test-token-secret", metrics_env)
    try:
        wait_until(lambda: TradingClient(url, Keypair()).request("GET", "/health")["status"] == "ok", 30, "API healthy")
        yield s
    finally:
        stop_process(s.proc)


@pytest.fixture(autouse=True)
def _market_left_as_found(request: pytest.FixtureRequest) -> Iterator[None]:
    """After every test on the shared stack: its orders cancelled, the book empty."""
    if "stack" not in request.fixturenames:
        yield
        return
    s: Stack = request.getfixturevalue("stack")
    yield
    s.leave_book_empty()


@pytest.fixture(scope="package")
def stack(pg_server: object, chain_node: c.LocalNode, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """One API process for the package's tests (each test uses fresh wallets)."""
    with api_stack(pg_server, chain_node, tmp_path_factory.mktemp("api")) as s:
        yield s


# ---------------------------------------------------------------- THB payments (issue 12)
ETH = 10**18


@pytest.fixture(scope="package")
def anvil(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AnvilNode]:
    node = AnvilNode(tmp_path_factory.mktemp("anvil")).start()
    yield node
    node.stop()


@pytest.fixture(scope="package")
def issuer(anvil: AnvilNode) -> LocalAccount:
    acct: LocalAccount = Account.create()
    anvil.fund(acct.address, 10 * ETH)
    return acct


@pytest.fixture(scope="package")
def contracts(anvil: AnvilNode, issuer: LocalAccount) -> HtlcContracts:
    return deploy_contracts(Evm(EvmSettings(anvil.url)), issuer, min_duration_s=60, max_duration_s=86_400)


@pytest.fixture(scope="package")
def thb_stack(stack: Stack, tmp_path_factory: pytest.TempPathFactory, contracts: HtlcContracts) -> Iterator[Stack]:
    """A second API process on the package's chain and database, with THB payments configured
    (the package's own API has none: its routes answer 503). The first one matches and indexes."""
    env = {
        "GRIDX_API_EVM_RPC_URL": contracts.evm.settings.rpc_url,
        "GRIDX_API_EVM_THBC": contracts.thbc.address,
        "GRIDX_API_EVM_HTLC": contracts.htlc.address,
        "GRIDX_API_MATCHER": "false",
        "GRIDX_API_INDEXER": "false",
    }
    proc, url, log = start_api(stack.dsn, stack.rpc_url, stack.keys, tmp_path_factory.mktemp("api_thb"), **env)
    try:
        wait_until(lambda: TradingClient(url, Keypair()).request("GET", "/health")["status"] == "ok", 30, "API")
        yield dataclasses.replace(stack, url=url, proc=proc, log=log)
    finally:
        stop_process(proc)

"""``gridx demo``: the whole spine on embedded defaults, on loopback, in about three minutes.

Simulated meters (Modbus TCP) → edge agent (signs, outbox) → mosquitto (TLS, ACL) → gateway
(validates, stores) → mint worker → the local Solana node running our SBF programs. Every part
is its own process, started the way an operator would start it; state lives in .run/demo/ and
keys in .secrets/demo/ (0600).
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import typer

from gridx.services._proc import gridx_command

__all__ = ["register"]

EDGE_ID = "demo-edge"
SIM_SEED = 7


@dataclass
class _Procs:
    """Child processes, stopped in reverse start order (producers before consumers)."""

    logs: Path
    started: list[tuple[str, subprocess.Popen[bytes]]] = field(default_factory=list)

    def gridx(self, name: str, args: list[str], env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
        from gridx.paths import ROOT

        with (self.logs / f"{name}.log").open("ab") as fh:
            p = subprocess.Popen(
                gridx_command(*args),
                env={**os.environ, **(env or {})},
                stdout=fh,
                stderr=subprocess.STDOUT,
                cwd=ROOT,
            )
        self.started.append((name, p))
        return p

    def stop_all(self, keep: tuple[str, ...] = ()) -> None:
        from gridx.services._proc import stop_process

        for name, p in reversed(self.started):
            if name not in keep:
                stop_process(p, timeout=20)


def _sim_start() -> int:
    """10:00 local time (UTC+7, as the simulator's households) today: the sun is up."""
    now = int(time.time())
    return now - now % 86400 + 3 * 3600


def _snapshot(dsn: str) -> dict[str, int]:
    from gridx.db import connect

    with connect(dsn) as conn:
        row = conn.execute(
            """SELECT (SELECT count(*) FROM readings),
                      (SELECT count(*) FROM quarantine),
                      (SELECT count(*) FROM mint_outbox WHERE status = 'confirmed'),
                      (SELECT count(*) FROM mint_outbox WHERE status IN ('pending', 'sent')),
                      (SELECT coalesce(sum(amount), 0)::bigint FROM token_mints)"""
        ).fetchone()
    assert row is not None
    return dict(zip(("readings", "quarantined", "mints_confirmed", "mints_pending", "grxe_minted"), row, strict=True))


async def _enroll(url: str, dsn: str, keys: Path, interval_s: int, meters: list[dict[str, Any]]) -> None:
    from solana.rpc.async_api import AsyncClient
    from solders.pubkey import Pubkey

    from edge.keys import load_key
    from gridx.chain import airdrop, authorize_edge, load_keypair, load_or_create_keypair, sign_enrolment
    from gridx.db import connect
    from gridx.registry import enroll_on_chain

    client = AsyncClient(url, timeout=60)
    authority = load_keypair(keys / "chain" / "registry_authority.json")
    try:
        for edge_id in sorted({m["edge_id"] for m in meters}):
            await authorize_edge(client, edge_id, keys / "chain")
        with connect(dsn) as conn:
            for m in meters:
                owner = load_or_create_keypair(keys / "wallets" / f"{m['meter_id']}.json")
                await airdrop(client, owner.pubkey(), 10**9)
                # the meter proves it holds its key (in the field the edge signs this)
                proof = sign_enrolment(load_key(keys / "meters", m["meter_id"]), owner.pubkey(), m["edge_id"])
                await enroll_on_chain(
                    client,
                    conn,
                    owner=owner,
                    authority=authority,
                    meter_id=m["meter_id"],
                    meter_pubkey=Pubkey.from_bytes(bytes.fromhex(m["pubkey"])),
                    edge_id=m["edge_id"],
                    rated_power_w=int(m["rated_power_w"]),
                    proof=proof,
                    interval_s=interval_s,
                    owner_type=m["owner_type"],
                )
    finally:
        await client.close()


async def _trade(client: Any, chain_keys: Path, wallets: Path, seller_meter: str, amount: int) -> dict[str, int]:
    """A consumer buys ``amount`` GRXE base units from a prosumer, settled atomically on chain
    through the trading program's escrow, paid in the market's THB-pegged test token."""
    from solders.keypair import Keypair

    from gridx.chain import (
        airdrop,
        ata_address,
        build_create_buy_order_ix,
        build_create_sell_order_ix,
        build_match_order_ix,
        create_ata_ix,
        load_keypair,
        mint_to_ix,
        send_and_confirm,
        token_balance,
    )
    from gridx.chain._bootstrap import load_deployment
    from gridx.registry import register_wallet

    dep = load_deployment(chain_keys)
    market = dep.market_keys()
    seller = load_keypair(wallets / f"{seller_meter}.json")
    authority = load_keypair(chain_keys / "market_authority.json")
    buyer = Keypair()
    await airdrop(client, buyer.pubkey(), 10**9)
    await register_wallet(client, buyer, "consumer")
    pay = market.payment_mint
    await send_and_confirm(
        client,
        [create_ata_ix(buyer.pubkey(), buyer.pubkey(), pay), create_ata_ix(buyer.pubkey(), seller.pubkey(), pay)],
        [buyer],
    )
    price = 4_000_000  # 4.000000 THBC per GRXE (1 kWh)
    await send_and_confirm(
        client, [mint_to_ix(pay, ata_address(buyer.pubkey(), pay), authority.pubkey(), 1_000_000_000)], [authority]
    )
    await send_and_confirm(client, [build_create_sell_order_ix(seller.pubkey(), market, 1, amount, price)], [seller])
    await send_and_confirm(client, [build_create_buy_order_ix(buyer.pubkey(), market, 1, amount, price)], [buyer])
    await send_and_confirm(
        client,
        [build_match_order_ix(authority.pubkey(), market, seller.pubkey(), 1, buyer.pubkey(), 1, amount)],
        [authority],
    )
    return {
        "traded_grxe": amount,
        "buyer_grxe": await token_balance(client, ata_address(buyer.pubkey(), market.energy_mint)),
        "seller_thbc": await token_balance(client, ata_address(seller.pubkey(), pay)),
        "fee_thbc": await token_balance(client, market.fee_account),
    }


def _run(meters: int, seconds: int, speed: float, interval_s: int) -> dict[str, Any]:
    from rich.console import Console
    from rich.table import Table

    from gridx.chain import run_on_chain
    from gridx.chain._bootstrap import bootstrap
    from gridx.db import connect, migrate
    from gridx.paths import ensure_private_dir, run_dir, secrets_dir, write_private
    from gridx.registry import reconcile
    from gridx.services import MosquittoBroker, PostgresServer
    from gridx.services._proc import free_port, wait_for_port

    console = Console()
    base = run_dir() / "demo"
    shutil.rmtree(base, ignore_errors=True)  # a demo starts from nothing; keys are kept
    base.mkdir(parents=True)
    keys = ensure_private_dir(secrets_dir() / "demo")
    procs = _Procs(base)
    pg = PostgresServer(base / "pg")
    broker = MosquittoBroker(base / "mosquitto")
    try:
        console.rule("[bold]GridTokenX demo")
        pg.start()
        gw_pw = broker.add_user("gateway")
        edge_pw_file = keys / f"{EDGE_ID}.mqtt-password"
        write_private(edge_pw_file, broker.add_user(EDGE_ID).encode())
        broker.start()
        migrate(pg.dsn)
        console.print(f"PostgreSQL {pg.dsn}   mosquitto mqtts://127.0.0.1:{broker.port}")

        chain_port = free_port()
        node = procs.gridx("chain-node", ["chain", "node", "--memory", "--port", str(chain_port)])
        wait_for_port(chain_port, node, 60)
        url = f"http://127.0.0.1:{chain_port}"
        dep = run_on_chain(url, lambda c: bootstrap(c, keys / "chain"))
        console.print(f"chain node {url}: GRXE mint {dep.grxe_mint}, gateway minter {dep.gateway_minter}")

        modbus_port = free_port()
        provision = subprocess.run(
            gridx_command(
                "edge",
                "provision",
                "--edge-id",
                EDGE_ID,
                "--meters",
                str(meters),
                "--modbus-port",
                str(modbus_port),
                "--keys-dir",
                str(keys / "meters"),
                "--config-out",
                str(base / "edge.toml"),
                "--mqtt-port",
                str(broker.port),
                "--mqtt-ca-file",
                str(broker.ca_file),
                "--mqtt-password-file",
                str(edge_pw_file),
                "--interval-s",
                str(interval_s),
                "--sim-speed",
                str(speed),
                "--sim-seed",
                str(SIM_SEED),
            ),
            check=True,
            capture_output=True,
            text=True,
        )
        enrolled = [json.loads(line) for line in provision.stdout.splitlines() if line.startswith("{")]
        asyncio.run(_enroll(url, pg.dsn, keys, interval_s, enrolled))
        kinds = [m["owner_type"] for m in enrolled]
        console.print(
            f"{len(enrolled)} meters enrolled on chain and mirrored "
            f"({kinds.count('prosumer')} prosumers, {kinds.count('consumer')} consumers)"
        )

        sim = procs.gridx(
            "sim",
            [
                "sim",
                "meters",
                "--count",
                str(meters),
                "--port",
                str(modbus_port),
                "--speed",
                str(speed),
                "--seed",
                str(SIM_SEED),
                "--start",
                str(_sim_start()),
            ],
        )
        wait_for_port(modbus_port, sim, 60)
        procs.gridx(
            "gateway",
            ["gateway", "run"],
            {
                "GRIDX_GATEWAY_DSN": pg.dsn,
                "GRIDX_GATEWAY_MQTT_PORT": str(broker.port),
                "GRIDX_GATEWAY_MQTT_CA_FILE": str(broker.ca_file),
                "GRIDX_GATEWAY_MQTT_PASSWORD": gw_pw,
                "GRIDX_GATEWAY_METRICS_PORT": "0",
            },
        )
        procs.gridx(
            "mint",
            ["mint", "run"],
            {
                "GRIDX_MINT_DSN": pg.dsn,
                "GRIDX_MINT_RPC_URL": url,
                "GRIDX_MINT_MINTER_KEYPAIR": str(keys / "chain" / "gateway_minter.json"),
            },
        )
        procs.gridx(
            "edge",
            ["edge", "run", "--config", str(base / "edge.toml")],
            {"GRIDX_EDGE_OUTBOX_PATH": str(base / "edge-outbox.sqlite")},
        )
        console.print(
            f"sim (x{speed:g}), edge, gateway and mint worker running; watching for {seconds} s (logs in {base})"
        )

        deadline = time.monotonic() + seconds
        snap = _snapshot(pg.dsn)
        while time.monotonic() < deadline:
            time.sleep(min(10.0, max(0.0, deadline - time.monotonic())))
            for name, p in procs.started:
                if p.poll() is not None:
                    raise RuntimeError(f"{name} exited with {p.returncode}; see {base / (name + '.log')}")
            snap = _snapshot(pg.dsn)
            console.print(" ".join(f"{k}={v:,}" for k, v in snap.items()))

        # edge first: what it published is drained before the consumers stop; the chain stays
        # up for the reconciliation
        procs.stop_all(keep=("chain-node",))
        with connect(pg.dsn) as conn:
            rep = run_on_chain(url, lambda c: reconcile(c, conn))
            top = conn.execute(
                "SELECT meter_id, sum(amount)::bigint FROM token_mints GROUP BY meter_id ORDER BY 2 DESC LIMIT 1"
            ).fetchone()
        snap = _snapshot(pg.dsn)
        trade: dict[str, int] = {}
        if top is not None:
            # reconcile first: a trade moves tokens between owners on purpose
            trade = run_on_chain(url, lambda c: _trade(c, keys / "chain", keys / "wallets", top[0], int(top[1]) // 2))
        table = Table(title="GridTokenX demo result", show_header=False)
        for key in ("readings", "quarantined", "mints_confirmed", "mints_pending", "grxe_minted"):
            table.add_row(key, f"{snap[key]:,}")
        table.add_row("GRXE supply on chain", f"{rep.supply:,}")
        table.add_row("reconcile drift", str(rep.drift))
        for key, value in trade.items():
            table.add_row(f"trade: {key}", f"{value:,}")
        console.print(table)
        return {**snap, "grxe_supply": rep.supply, "reconcile_drift": rep.drift, **trade}
    finally:
        procs.stop_all()
        broker.stop()
        pg.stop()


def register(app: typer.Typer) -> None:
    @app.command("demo")
    def demo(
        meters: int = typer.Option(20, min=1, max=1000),
        seconds: int = typer.Option(120, min=10, help="how long to watch the system run"),
        speed: float = typer.Option(60.0, min=1.0, help="sim seconds per wall second"),
        interval_s: int = typer.Option(10, min=1, help="reading window length (wall seconds)"),
    ) -> None:
        """Run meters → edge → broker → gateway → mint on the local chain; last line is JSON."""
        result = _run(meters, seconds, speed, interval_s)
        typer.echo(json.dumps(result))
        if result["readings"] == 0 or result["reconcile_drift"] != 0:
            raise typer.Exit(1)

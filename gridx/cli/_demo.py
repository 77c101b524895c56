"""``gridx demo``: the whole spine on embedded defaults, on loopback, in about three minutes.

Simulated meters (Modbus TCP) → edge agent (signs, outbox) → mosquitto (TLS, ACL) → gateway
(validates, stores) → mint worker → the local Solana node running our SBF programs. Every part
is its own process, started the way an operator would start it; state lives in .run/demo/ and
keys in .secrets/demo/ (0600).
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import time
from pathlib import Path
from typing import Any

import typer

from gridx.paths import ensure_private_dir, run_dir, secrets_dir, write_private
from gridx.services import LocalStack, free_port, gridx_command, remove_run_tree, settings_env, wait_for_port

__all__ = ["register"]

EDGE_ID = "demo-edge"
SIM_SEED = 7


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
        load_deployment,
        load_keypair,
        mint_to_ix,
        send_and_confirm,
        token_balance,
    )
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


def _provision(stack: LocalStack, keys: Path, meters: int, speed: float, interval_s: int, modbus_port: int) -> Any:
    """Meter keys and the edge's config; returns what must be enrolled (one dict per meter)."""
    assert stack.mqtt is not None
    edge_pw_file = keys / f"{EDGE_ID}.mqtt-password"
    write_private(edge_pw_file, stack.passwords[EDGE_ID].encode())
    options = {
        "--edge-id": EDGE_ID,
        "--meters": str(meters),
        "--modbus-port": str(modbus_port),
        "--keys-dir": str(keys / "meters"),
        "--config-out": str(stack.workdir / "edge.toml"),
        "--mqtt-port": str(stack.mqtt.port),
        "--mqtt-ca-file": str(stack.mqtt.ca_file),
        "--mqtt-password-file": str(edge_pw_file),
        "--interval-s": str(interval_s),
        "--sim-speed": str(speed),
        "--sim-seed": str(SIM_SEED),
    }
    args = [x for kv in options.items() for x in kv]
    out = subprocess.run(gridx_command("edge", "provision", *args), check=True, capture_output=True, text=True)
    return [json.loads(line) for line in out.stdout.splitlines() if line.startswith("{")]


def _start_parts(stack: LocalStack, keys: Path, meters: int, speed: float, modbus_port: int) -> None:
    """Simulator, gateway, mint worker and edge, each its own process, configured as an operator would."""
    from gateway import GatewayConfig

    assert stack.mqtt is not None and stack.chain_url is not None
    sim_args = ["--count", str(meters), "--port", str(modbus_port), "--speed", str(speed), "--seed", str(SIM_SEED)]
    sim = stack.spawn("sim", "sim", "meters", *sim_args, "--start", str(_sim_start()))
    wait_for_port(modbus_port, sim, 60)
    gateway = GatewayConfig(
        dsn=stack.dsn,
        mqtt_port=stack.mqtt.port,
        mqtt_ca_file=stack.mqtt.ca_file,
        mqtt_password=stack.passwords["gateway"],
        metrics_port=0,
    )
    stack.spawn("gateway", "gateway", "run", env=settings_env(gateway))
    mint_env = {
        "GRIDX_MINT_DSN": stack.dsn,
        "GRIDX_MINT_RPC_URL": stack.chain_url,
        "GRIDX_MINT_MINTER_KEYPAIR": str(keys / "chain" / "gateway_minter.json"),
    }
    stack.spawn("mint", "mint", "run", env=mint_env)
    edge_env = {"GRIDX_EDGE_OUTBOX_PATH": str(stack.workdir / "edge-outbox.sqlite")}
    stack.spawn("edge", "edge", "run", "--config", str(stack.workdir / "edge.toml"), env=edge_env)


def _watch(stack: LocalStack, seconds: int, console: Any) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        time.sleep(min(10.0, max(0.0, deadline - time.monotonic())))
        stack.check_alive()
        console.print(" ".join(f"{k}={v:,}" for k, v in _snapshot(stack.dsn).items()))


def _settle(stack: LocalStack, keys: Path) -> dict[str, Any]:
    """Reconcile the chain against the database, then one trade of the top prosumer's GRXE."""
    from gridx.chain import run_on_chain
    from gridx.db import connect
    from gridx.registry import reconcile

    url = stack.chain_url
    assert url is not None
    with connect(stack.dsn) as conn:
        rep = run_on_chain(url, lambda c: reconcile(c, conn))
        top = conn.execute(
            "SELECT meter_id, sum(amount)::bigint FROM token_mints GROUP BY meter_id ORDER BY 2 DESC LIMIT 1"
        ).fetchone()
    snap = _snapshot(stack.dsn)
    trade: dict[str, int] = {}
    if top is not None:
        # reconcile first: a trade moves tokens between owners on purpose
        trade = run_on_chain(url, lambda c: _trade(c, keys / "chain", keys / "wallets", top[0], int(top[1]) // 2))
    return {**snap, "grxe_supply": rep.supply, "reconcile_drift": rep.drift, **trade}


def _run(meters: int, seconds: int, speed: float, interval_s: int) -> dict[str, Any]:
    from rich.console import Console
    from rich.table import Table

    from gridx.chain import bootstrap, run_on_chain
    from gridx.db import migrate

    console = Console()
    base = run_dir() / "demo"
    remove_run_tree(base)  # a demo starts from nothing (a relocated cluster too); keys are kept
    keys = ensure_private_dir(secrets_dir() / "demo")
    console.rule("[bold]GridTokenX demo")
    with LocalStack(base, chain=True, broker_users=("gateway", EDGE_ID)) as stack:
        assert stack.mqtt is not None and stack.chain_url is not None
        migrate(stack.dsn)
        console.print(f"PostgreSQL {stack.dsn}   mosquitto mqtts://127.0.0.1:{stack.mqtt.port}")
        dep = run_on_chain(stack.chain_url, lambda c: bootstrap(c, keys / "chain"))
        console.print(f"chain node {stack.chain_url}: GRXE mint {dep.grxe_mint}, gateway minter {dep.gateway_minter}")
        modbus_port = free_port()
        enrolled = _provision(stack, keys, meters, speed, interval_s, modbus_port)
        asyncio.run(_enroll(stack.chain_url, stack.dsn, keys, interval_s, enrolled))
        kinds = [m["owner_type"] for m in enrolled]
        console.print(
            f"{len(enrolled)} meters enrolled on chain and mirrored "
            f"({kinds.count('prosumer')} prosumers, {kinds.count('consumer')} consumers)"
        )
        _start_parts(stack, keys, meters, speed, modbus_port)
        console.print(
            f"sim (x{speed:g}), edge, gateway and mint worker running; watching for {seconds} s (logs in {base})"
        )
        _watch(stack, seconds, console)
        # edge first: what it published is drained before the consumers stop; the chain stays
        # up for the reconciliation
        stack.stop_children(keep=("chain-node",))
        result = _settle(stack, keys)
    table = Table(title="GridTokenX demo result", show_header=False)
    for key, value in result.items():
        table.add_row(key.replace("_", " "), f"{value:,}")
    console.print(table)
    return result


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

"""``gridx demo``: the whole spine on embedded defaults, on loopback, in about three minutes.

Simulated meters (Modbus TCP) → edge agent (signs, outbox) → mosquitto (TLS, ACL) → gateway
(validates, stores) → mint worker → the local Solana node running our SBF programs; beside them
anvil with THBC and the HTLC escrow, the swap relayer, and the trading API (matcher, indexer,
live feed, dashboard). Every part is its own process, started the way an operator would start
it; state lives in .run/demo/ and keys in .secrets/demo/ (0600). Every user action goes through
the HTTP API with ``TradingClient`` signed by the user's own key (``_demo_trade``, ``_demo_thb``).
``--flow4`` plays the user's Flow 4 with its exact figures, A's meter scripted
(``_demo_flow4``). Ctrl-C stops every process; a second run needs no cleanup.
"""

from __future__ import annotations

import asyncio
import json
import math
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
                      (SELECT count(*) FROM mint_outbox WHERE status NOT IN ('pending', 'sent', 'confirmed')),
                      (SELECT coalesce(sum(amount), 0)::bigint FROM token_mints)"""
        ).fetchone()
    assert row is not None
    # mints_closed: stored surplus the chain will never mint (refused, failed, behind its
    # high-water mark); the gateway credits only what the program accepts, so it stays 0
    names = ("readings", "quarantined", "mints_confirmed", "mints_pending", "mints_closed", "grxe_minted")
    return dict(zip(names, row, strict=True))


async def _enroll(url: str, dsn: str, keys: Path, interval_s: int, meters: list[dict[str, Any]]) -> None:
    from solana.rpc.async_api import AsyncClient
    from solders.pubkey import Pubkey

    from edge.keys import load_key
    from gridx.chain import authorize_edge, load_keypair, sign_enrolment
    from gridx.db import connect
    from gridx.registry import enroll_on_chain

    client = AsyncClient(url, timeout=60)
    authority = load_keypair(keys / "chain" / "registry_authority.json")
    try:
        for edge_id in sorted({m["edge_id"] for m in meters}):
            await authorize_edge(client, edge_id, keys / "chain")
        with connect(dsn) as conn:
            for m in meters:
                owner = load_keypair(keys / "wallets" / f"{m['meter_id']}.json")  # registered through the API
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


def _start_parts(
    stack: LocalStack, keys: Path, meters: int, speed: float, modbus_port: int, script: str | None = None
) -> None:
    """Simulator, gateway, mint worker and edge, each its own process, configured as an operator would."""
    from gateway import GatewayConfig

    assert stack.mqtt is not None and stack.chain_url is not None
    sim_args = ["--count", str(meters), "--port", str(modbus_port), "--speed", str(speed), "--seed", str(SIM_SEED)]
    sim_args += ["--script", script] if script else []
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


def _watch(stack: LocalStack, seconds: int, console: Any, ready: Any = None, patience_s: int = 300) -> None:
    """Show progress every few seconds for ``seconds``, and longer (up to ``patience_s``) until
    the first mint is confirmed and ``ready()`` holds: on a busy machine the parts take a while
    to start."""
    started = time.monotonic()
    while True:
        time.sleep(5.0)
        stack.check_alive()
        snap = _snapshot(stack.dsn)
        console.print(" ".join(f"{k}={v:,}" for k, v in snap.items()))
        elapsed = time.monotonic() - started
        done = snap["mints_confirmed"] > 0 and (ready is None or ready())
        if elapsed >= seconds and (done or elapsed >= patience_s):
            return


def _settle(
    stack: LocalStack, keys: Path, console: Any, market_step: Any, seller: str | None = None, traded: bool = False
) -> dict[str, Any]:
    """Reconcile the chain against the database, then ``market_step(seller)`` through the API
    (default seller: the top prosumer) and ``gridx prove`` of one of A's mints."""
    from gridx.chain import run_on_chain
    from gridx.cli._demo_trade import dashboard_view, prove_one
    from gridx.db import connect
    from gridx.registry import reconcile

    url, api = stack.chain_url, stack.api_url
    assert url is not None and api is not None
    with connect(stack.dsn) as conn:
        # per-owner balances equal their mints only if nobody traded yet (--load and --flow4
        # trade meanwhile; the trading reconciliation checks those)
        rep = run_on_chain(url, lambda c: reconcile(c, conn, strict_balances=not traded))
        top = conn.execute(
            "SELECT meter_id, sum(amount)::bigint FROM token_mints GROUP BY meter_id ORDER BY 2 DESC LIMIT 1"
        ).fetchone()
    snap = _snapshot(stack.dsn)
    out: dict[str, Any] = {**snap, "minted_grxe": snap["grxe_minted"], "grxe_supply": rep.supply}
    market: dict[str, Any] = {"sold_grxe": 0, "trades": 0, "grx_paid": 0, "thbc_paid": 0, "trading_drift": 0}
    verified, signature = False, None
    seller = seller or (str(top[0]) if top is not None else None)
    if seller is not None:
        # reconcile first: a trade moves tokens between owners on purpose
        market = market_step(seller)
        verified, lines, signature = prove_one(stack.dsn, url, seller)
        console.rule("gridx prove (one of A's mints)")
        for line in lines:
            console.print(line, markup=False, highlight=False, soft_wrap=True)
    dash = dashboard_view(api, signature)
    return {**out, **market, **dash, "proof_verified": verified, "reconcile_drift": rep.drift + market["trading_drift"]}


def _flow4_day(stack: LocalStack, keys: Path, meter: str, rails: Any, console: Any) -> dict[str, Any]:
    """The scripted day: morning mints, the THB sale, afternoon mints; the parts stop, then the
    afternoon offer and the GRX purchase, and the summary."""
    from gridx.cli import _demo_flow4 as f4

    api, url = stack.api_url, stack.chain_url
    assert api is not None and url is not None
    console.rule("08:00-12:00 A's morning windows: 2, 8, 13 kWh of surplus")
    f4.wait_minted(stack, meter, sum(f4.MORNING) * 1000, console)
    am = f4.morning(api, url, keys, meter, rails, console)
    console.rule("14:00-18:00 A's afternoon windows: 10, 7, 2 kWh")
    f4.wait_minted(stack, meter, sum(f4.MORNING + f4.AFTERNOON) * 1000, console)
    stack.stop_children(keep=("chain-node", "relayer", "api"))

    def market(seller: str) -> dict[str, Any]:
        pm = f4.afternoon(api, url, keys, seller, console)
        return dict(f4.day_summary(api, stack.dsn, url, keys, seller, am, pm))

    return _settle(stack, keys, console, market, seller=meter, traded=True)


def _start_load(stack: LocalStack, keys: Path, owners: list[tuple[str, str]]) -> Any:
    from gridx.cli._demo_load import LoadTrader

    assert stack.api_url is not None and stack.chain_url is not None
    prosumers = [m for m, kind in owners if kind == "prosumer"]
    trader = LoadTrader(stack.api_url, stack.chain_url, keys / "wallets", prosumers)
    trader.start()
    return trader


def _flow4_meter(enrolled: list[dict[str, Any]]) -> dict[str, Any]:
    """Prosumer A of --flow4: the first prosumer's meter, enrolled with the rated power its
    script needs (``_demo_flow4.RATED_W``)."""
    from gridx.cli._demo_flow4 import RATED_W

    a = next((m for m in enrolled if m["owner_type"] == "prosumer"), None)
    if a is None:
        raise typer.BadParameter("--flow4 needs a prosumer among the meters; add meters")
    a["rated_power_w"] = RATED_W
    return a


def _day(
    stack: LocalStack, keys: Path, evm: dict[str, str], console: Any, seconds: int, load: bool, owners: Any, a: Any
) -> Any:
    """Watch the fleet (with background trading under --load), stop the parts, settle; or, for
    --flow4, play the scripted day of prosumer ``a``."""
    from gridx.cli._demo_thb import ThbRails
    from gridx.cli._demo_trade import trade_over_api

    api, url = stack.api_url, stack.chain_url
    assert api is not None and url is not None and stack.anvil is not None
    relayer = next(proc for name, proc in stack.children if name == "relayer")

    def relayer_alive() -> None:
        if relayer.poll() is not None:
            raise RuntimeError(f"relayer exited with {relayer.returncode}; see {stack.workdir / 'relayer.log'}")

    rails = ThbRails.from_settings(evm, keys / "evm" / "issuer.key", stack.anvil.fund, relayer_alive)
    if a is not None:
        return _flow4_day(stack, keys, str(a["meter_id"]), rails, console)
    trader = _start_load(stack, keys, owners) if load else None
    _watch(stack, seconds, console, ready=(lambda: trader.trades > 0) if trader is not None else None)
    load_figures = trader.stop() if trader is not None else {}
    _drain(stack, console)

    def market(seller: str) -> dict[str, Any]:
        return trade_over_api(api, url, stack.dsn, keys, seller, rails, console)

    return {**_settle(stack, keys, console, market, traded=load), **load_figures}


def _drain(stack: LocalStack, console: Any, patience_s: float = 120.0) -> None:
    """Stop the fleet so that the day read next is whole: edge first, then the gateway (it stores
    what the broker still holds), then the mint worker once every stored window is minted. The
    chain, the relayer and the API stay up for the reconciliation and the market step."""
    from gridx.services import wait_until

    stack.stop_children(keep=("chain-node", "relayer", "api", "mint"))
    try:
        wait_until(lambda: _snapshot(stack.dsn)["mints_pending"] == 0, patience_s, "the last stored windows minted")
    except TimeoutError as exc:  # the summary's mints_pending says how many are left
        console.print(f"[yellow]{exc}[/]")
    stack.stop_children(keep=("chain-node", "relayer", "api"))


def _run(
    meters: int, seconds: int, speed: float, interval_s: int, load: bool = False, flow4: bool = False
) -> dict[str, Any]:
    from rich.console import Console
    from rich.table import Table

    from gridx.chain import bootstrap, run_on_chain
    from gridx.cli._demo_evm import start_payments
    from gridx.cli._demo_trade import register_over_api
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
        evm = start_payments(stack, keys)
        console.print(f"anvil {evm['GRIDX_API_EVM_RPC_URL']}: THBC {evm['GRIDX_API_EVM_THBC']}, relayer running")
        api = stack.start_api(keys / "chain", GRIDX_API_DASHBOARD="true", GRIDX_API_FAUCET="true", **evm)
        console.print(f"API {api}   dashboard {api}/dashboard/")
        modbus_port = free_port()
        enrolled = _provision(stack, keys, meters, speed, interval_s, modbus_port)
        owners = [(str(m["meter_id"]), str(m["owner_type"])) for m in enrolled]
        a = _flow4_meter(enrolled) if flow4 else None
        register_over_api(api, stack.chain_url, ensure_private_dir(keys / "wallets"), owners)
        console.print(f"{len(owners)} meter owners signed in and registered through the API")
        asyncio.run(_enroll(stack.chain_url, stack.dsn, keys, interval_s, enrolled))
        kinds = [m["owner_type"] for m in enrolled]
        console.print(
            f"{len(enrolled)} meters enrolled on chain and mirrored "
            f"({kinds.count('prosumer')} prosumers, {kinds.count('consumer')} consumers)"
        )
        script = None
        if a is not None:
            from gridx.cli._demo_flow4 import script_spec

            script = script_spec(int(str(a["meter_id"]).rsplit("-", 1)[1]), interval_s)
        # a window that began before its meter's registration is never credited (the chain
        # refuses it, so the gateway quarantines it): the fleet starts on the first window
        # boundary after the enrolment, so every meter's first reading is whole
        time.sleep(-time.time() % interval_s)
        _start_parts(stack, keys, meters, speed, modbus_port, script)
        watch = f"A's meter {a['meter_id']} scripted" if a is not None else f"watching for {seconds} s"
        console.print(f"sim (x{speed:g}), edge, gateway and mint worker running; {watch} (logs in {base})")
        result = _day(stack, keys, evm, console, seconds, load, owners, a)
    table = Table(title="GridTokenX demo result", show_header=False)
    for key, value in result.items():
        number = isinstance(value, int) and not isinstance(value, bool)
        table.add_row(key.replace("_", " "), f"{value:,}" if number else str(value))
    console.print(table)
    return result


def register(app: typer.Typer) -> None:
    @app.command("demo")
    def demo(
        meters: int = typer.Option(20, min=1, max=1000),
        seconds: int = typer.Option(120, min=10, help="how long to watch the system run"),
        speed: float = typer.Option(60.0, min=1.0, help="sim seconds per wall second"),
        interval_s: int = typer.Option(10, min=1, help="reading window length (wall seconds)"),
        hours: float | None = typer.Option(None, min=0.1, help="simulated hours to run (sets --seconds)"),
        load: bool = typer.Option(False, help="background trading through the API while the fleet runs"),
        flow4: bool = typer.Option(False, help="the user's Flow 4 with its exact figures (A's meter scripted)"),
    ) -> None:
        """Meters → edge → broker → gateway → mint on the local chain, then the market through the
        API; the dashboard is served while it runs; last line is JSON."""
        if hours is not None:
            seconds = max(10, math.ceil(hours * 3600 / speed))
        try:
            if flow4 and load:
                raise typer.BadParameter("--flow4 and --load are separate demos")
            result = _run(meters, seconds, speed, interval_s, load, flow4)
        except KeyboardInterrupt:
            # the stack's context manager has stopped every process by the time we get here
            typer.echo("demo: interrupted; every process it started is stopped", err=True)
            raise typer.Exit(130) from None
        typer.echo(json.dumps(result))
        if result["readings"] == 0 or result["reconcile_drift"] != 0 or not result["proof_verified"]:
            raise typer.Exit(1)

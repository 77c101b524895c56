"""``gridx edge``: provision meter keys and run the edge agent."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

__all__ = ["app", "parse_meter_spec", "register_bench"]

SIM_RATED_POWER_W = 14_000

app = typer.Typer(no_args_is_help=True, help="Edge agent: poll meters, sign readings, publish to the broker.")


def parse_meter_spec(spec: str) -> range:
    """``N`` → simulator meters 0..N-1; ``A-B`` → meters A..B inclusive."""
    try:
        if "-" in spec:
            a, b = (int(x) for x in spec.split("-", 1))
            return range(a, b + 1)
        return range(int(spec))
    except ValueError as exc:
        raise typer.BadParameter(f"expected N or FIRST-LAST, got {spec!r}") from exc


@app.command("provision")
def provision(
    edge_id: str = typer.Option(..., help="edge id (also its MQTT username)"),
    meters: str = typer.Option(..., help="simulator meters: N (0..N-1) or FIRST-LAST"),
    modbus_host: str = typer.Option("127.0.0.1", help="host of the meters' Modbus TCP servers"),
    modbus_port: int = typer.Option(5020, help="first Modbus port (as `gridx sim meters --port`)"),
    per_port: int = typer.Option(200, help="unit ids per port (as `gridx sim meters --per-port`)"),
    keys_dir: Annotated[Path | None, typer.Option(help="default: .secrets/edges/<edge-id>/meters")] = None,
    config_out: Annotated[Path | None, typer.Option(help="also write an agent config (TOML) here")] = None,
    mqtt_host: str = typer.Option("127.0.0.1"),
    mqtt_port: int = typer.Option(8883),
    mqtt_ca_file: Annotated[Path | None, typer.Option(help="CA certificate of the broker")] = None,
    mqtt_password_file: Annotated[Path | None, typer.Option(help="file holding this edge's broker password")] = None,
    interval_s: int = typer.Option(60, help="reading window length"),
    sim_seed: int = typer.Option(1, help="the simulator's --seed (tells prosumers from consumers)"),
    sim_speed: float = typer.Option(1.0, help="the simulator's --speed (scales the rated power to enrol)"),
) -> None:
    """Create a key per meter (0600, kept if present) and print what must be enrolled, one JSON
    object per meter: meter_id, pubkey (hex), edge_id, owner_type, rated_power_w."""
    import json

    from edge.config import EdgeConfig, MeterConfig, render_toml
    from edge.keys import ensure_key
    from firmware_sim.model import meter_id, profile
    from gridx.paths import run_dir, secrets_dir
    from gridx.registers import address_of

    kdir = keys_dir or secrets_dir() / "edges" / edge_id / "meters"
    indices = parse_meter_spec(meters)
    mconf: list[MeterConfig] = []
    for i in indices:
        mid = meter_id(i)
        port, unit = address_of(i, modbus_port, per_port)
        mconf.append(MeterConfig(meter_id=mid, host=modbus_host, port=port, unit=unit))
        enrol = {
            "meter_id": mid,
            "pubkey": ensure_key(kdir, mid),
            "edge_id": edge_id,
            "owner_type": "prosumer" if profile(sim_seed, i).prosumer else "consumer",
            # a 60 A single-phase service (~14 kW) bounds any simulated roof (<= 10 kWp); the
            # simulator's speed multiplies the energy per wall-clock window
            "rated_power_w": int(SIM_RATED_POWER_W * sim_speed),
        }
        typer.echo(json.dumps(enrol))
    if config_out is not None:
        settings: dict[str, object] = {
            "edge_id": edge_id,
            "keys_dir": str(kdir.resolve()),
            "outbox_path": str((run_dir() / f"edge-{edge_id}" / "outbox.sqlite").resolve()),
            "interval_s": interval_s,
            # the edge's own jump bound: a simulator at speed X delivers X times the energy per window
            "max_power_w": int(50_000 * max(1.0, sim_speed)),
            "mqtt_host": mqtt_host,
            "mqtt_port": mqtt_port,
            "mqtt_ca_file": str(mqtt_ca_file.resolve()) if mqtt_ca_file else None,
            "mqtt_password_file": str(mqtt_password_file.resolve()) if mqtt_password_file else None,
        }
        text = render_toml(settings, mconf)
        EdgeConfig.model_validate({**{k: v for k, v in settings.items() if v is not None}, "meters": mconf})
        config_out.parent.mkdir(parents=True, exist_ok=True)
        config_out.write_text(text)


@app.command("enrol-proof")
def enrol_proof(
    edge_id: str = typer.Option(..., help="the edge that will serve the meter (bound into the proof)"),
    meter_id: str = typer.Option(..., help="the meter whose key signs"),
    owner: str = typer.Option(..., help="the owner's wallet (base58) that will sign the enrolment"),
    keys_dir: Annotated[Path | None, typer.Option(help="default: .secrets/edges/<edge-id>/meters")] = None,
) -> None:
    """The meter key's proof of possession for `gridx meters enroll|rotate --proof`: its
    signature over (meter key, owner, edge). Runs where the key lives; the key never leaves.
    Prints one JSON object: meter_id, pubkey (hex), edge_id, owner, proof (hex)."""
    import json

    from edge.keys import load_key
    from gridx.errors import ConfigError
    from gridx.paths import secrets_dir
    from gridx.wire import b58decode_key, sign_enrolment_proof

    try:
        owner_key = b58decode_key(owner)
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--owner") from None
    if len(edge_id.encode()) > 32:
        raise typer.BadParameter("at most 32 bytes", param_hint="--edge-id")
    try:
        key = load_key(keys_dir or secrets_dir() / "edges" / edge_id / "meters", meter_id)
    except ConfigError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from None
    proof = sign_enrolment_proof(key, owner_key, edge_id)
    out = {"meter_id": meter_id, "pubkey": key.verify_key.encode().hex(), "edge_id": edge_id, "owner": owner}
    typer.echo(json.dumps({**out, "proof": proof.hex()}))


def _configure_logging() -> None:
    import sys

    from gridx.log import configure_logging

    configure_logging(stream=sys.stderr)


@app.command("run")
def run(
    config: Annotated[Path, typer.Option(help="agent config, TOML or JSON; GRIDX_EDGE_* env overrides")],
) -> None:
    """Run the agent until SIGINT/SIGTERM; state and unsent readings survive in the outbox."""
    import asyncio
    import signal

    from edge.agent import run_agent
    from edge.config import load_config

    _configure_logging()
    cfg = load_config(config)

    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        await run_agent(cfg, stop)

    asyncio.run(main())


def register_bench(bench_app: Any) -> None:
    @bench_app.command("edge")
    def bench_edge(
        meters: int = typer.Option(1000, help="simulated meters"),
        seconds: float = typer.Option(30.0, help="measured duration"),
        interval_s: int = typer.Option(1, help="reading window; 1 s means one reading per meter per poll"),
        chaos: float = typer.Option(0.0, help="simulator random faults per meter per second"),
    ) -> None:
        """Simulator (own process) → agent (own process) → real TLS mosquitto → subscriber."""
        from edge._bench import run_bench

        run_bench(meters=meters, seconds=seconds, interval_s=interval_s, chaos=chaos)

"""``gridx services``: start the project-local broker and database (for the demo and for operators
trying the system on one box)."""

from __future__ import annotations

import time

import typer

__all__ = ["app"]

app = typer.Typer(no_args_is_help=True, help="Project-local mosquitto and PostgreSQL on loopback.")


@app.command("up")
def up(
    mqtt_port: int = typer.Option(8883, help="TLS MQTT port on 127.0.0.1"),
    pg_port: int = typer.Option(55432, help="PostgreSQL port on 127.0.0.1"),
) -> None:
    """Run broker and database in the foreground until Ctrl-C."""
    from rich.console import Console

    from gridx.paths import run_dir
    from gridx.services import LocalStack

    console = Console()
    with LocalStack(run_dir(), pg_port=pg_port, mqtt_port=mqtt_port) as stack:
        assert stack.mqtt is not None
        console.print(f"PostgreSQL: {stack.dsn}   (GRIDX_DSN)")
        console.print(f"mosquitto:  mqtts://127.0.0.1:{stack.mqtt.port} (CA {stack.mqtt.ca_file})")
        try:
            while True:
                time.sleep(1)
        except KeyboardInterrupt:
            pass

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
    from gridx.services.mosquitto import MosquittoBroker
    from gridx.services.postgres import PostgresServer

    console = Console()
    pg = PostgresServer(run_dir() / "pg", port=pg_port).start()
    broker = MosquittoBroker(run_dir() / "mosquitto", port=mqtt_port)
    broker.add_user("gateway")
    broker.start()
    console.print(f"PostgreSQL: {pg.dsn}")
    console.print(f"mosquitto:  mqtts://127.0.0.1:{broker.port} (CA {broker.ca_file})")
    try:
        while True:
            time.sleep(1)
    except KeyboardInterrupt:
        pass
    finally:
        broker.stop()
        pg.stop()

"""``gridx gateway run`` and ``gridx bench ingest``."""

from __future__ import annotations

import typer

__all__ = ["app", "register_bench"]

app = typer.Typer(no_args_is_help=True, help="The validating gateway (MQTT → PostgreSQL).")


def configure_logging(json_logs: bool = True) -> None:
    from gridx.log import configure_logging as configure

    configure(json_logs=json_logs)


@app.command("run")
def run(
    migrate: bool = typer.Option(True, help="apply pending migrations first (idempotent)"),
) -> None:
    """Run until SIGTERM/SIGINT, then flush and acknowledge what was taken in.

    Configured by GRIDX_GATEWAY_* variables (DSN, MQTT_HOST/PORT/CA_FILE/PASSWORD, CLIENT_ID,
    METRICS_PORT, MAX_AGE_S, BATCH_SIZE, LINGER_MS, ...)."""
    import asyncio
    import signal

    from gateway._config import GatewayConfig
    from gateway._service import Gateway
    from gridx.db import migrate as do_migrate

    configure_logging()
    cfg = GatewayConfig()  # from the environment
    if migrate:
        do_migrate(cfg.dsn)

    async def main() -> None:
        gw = Gateway(cfg)
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, gw.stop)
        await gw.run()

    asyncio.run(main())


@app.command("retire")
def retire(
    idle_s: float = typer.Option(5.0, min=0.5, help="leave once no message came for this long"),
) -> None:
    """Retire this gateway's broker user for good: take in what its session holds until it
    has been idle for IDLE_S, then leave with session expiry 0 so the broker drops the
    session. The gateway's session never expires otherwise (an edge's readings must not be
    discarded while a gateway is down). Same GRIDX_GATEWAY_* configuration as ``run``;
    afterwards remove the user from the broker's password file and ACL."""
    import asyncio

    from gateway._config import GatewayConfig
    from gateway._service import Gateway

    configure_logging()

    async def main() -> None:
        gw = Gateway(GatewayConfig())
        task = asyncio.create_task(gw.run())
        # polls a clock (time since the last message), which no event can signal
        while not (gw.subscribed and gw.idle_s >= idle_s) and not task.done():  # noqa: ASYNC110
            await asyncio.sleep(0.2)
        gw.retiring = True
        gw.stop()
        await task

    asyncio.run(main())
    typer.echo("gateway session dropped; remove its broker user now")


def register_bench(bench_app: typer.Typer) -> None:
    @bench_app.command("ingest")
    def ingest(
        meters: int = typer.Option(1000, min=1),
        readings: int = typer.Option(100_000, min=1),
        gateways: int = typer.Option(2, min=1, max=8, help="gateway processes on the shared subscription"),
        publishers: int = typer.Option(2, min=1, max=16, help="publisher processes (edges split among them)"),
        edges: int = typer.Option(10, min=1),
        batch: int = typer.Option(500, min=1, max=1000, help="readings per MQTT message"),
        rate: int = typer.Option(12_000, min=0, help="offered readings/s (0: unpaced, measures queueing)"),
        gateway_batch: int = typer.Option(2000, min=1, help="readings per database transaction"),
        verify_threads: int = typer.Option(2, min=1),
        profile: bool = typer.Option(False, help="cProfile gateway 0 into .run/bench-*/gateway0.prof"),
        keep: bool = typer.Option(False, help="keep the work directory (database, logs)"),
    ) -> None:
        """Edges → mosquitto → gateway(s) → PostgreSQL, end to end; last line is JSON."""
        from gateway._bench import BenchSpec, run_bench

        run_bench(
            BenchSpec(
                meters=meters,
                readings=readings,
                gateways=gateways,
                publishers=publishers,
                edges=edges,
                batch=batch,
                rate=rate,
                gateway_batch=gateway_batch,
                verify_threads=verify_threads,
                profile=profile,
                keep=keep,
            )
        )

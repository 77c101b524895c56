"""``gridx bench match`` and ``gridx bench auction``: the market engine alone, on one core."""

from __future__ import annotations

import json

import typer

__all__ = ["register_bench"]


def register_bench(bench_app: typer.Typer) -> None:
    @bench_app.command("match")
    def bench_match(
        orders: int = typer.Option(1_000_000, min=1),
        owners: int = typer.Option(1000, min=1, help="distinct owners (self-trade prevention fires among them)"),
        latency_sample: int = typer.Option(200_000, min=1, help="orders timed one by one for the percentiles"),
        seed: int = typer.Option(1),
        tif_mix: bool = typer.Option(True, help="5% each IOC, FOK, post-only among the GTC orders"),
        pure: bool = typer.Option(False, help="the pure-Python reference engine instead of the compiled one"),
    ) -> None:
        """Random limit orders through the continuous engine; last line is JSON.

        orders_per_s counts CPU seconds of the engine's thread; wall_orders_per_s is beside it."""
        from backend.market._bench import bench_match as run

        out = run(orders, owners=owners, seed=seed, latency_sample=latency_sample, mix=tif_mix, pure=pure)
        typer.echo(json.dumps(out))

    @bench_app.command("auction")
    def bench_auction(
        bids: int = typer.Option(10_000, min=1),
        offers: int = typer.Option(10_000, min=1),
        rounds: int = typer.Option(5, min=1),
        seed: int = typer.Option(1),
    ) -> None:
        """Clearing one uniform-price auction slot; last line is JSON (clear_ms: median CPU ms)."""
        from backend.market._bench import bench_auction as run

        typer.echo(json.dumps(run(bids, offers, rounds=rounds, seed=seed)))

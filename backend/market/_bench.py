"""``gridx bench match`` and ``gridx bench auction``: the engine alone, in this process, on one
core. Orders are generated before the clock starts (in chunks, to bound memory); the engine's
events are built and returned as in production, then dropped.
"""

from __future__ import annotations

import gc
import random
import statistics
import time
from typing import Any

from backend.market._auction import Auction
from backend.market._engine import Engine as PyEngine
from backend.market._native import Engine
from backend.market._types import Clear, MarketSpec, Mechanism, NewOrder, Side, StpMode, TimeInForce, Trade

__all__ = ["bench_auction", "bench_match", "bench_spec", "random_orders"]

TICK = 10_000  # 0.01 payment token per GRXE
LOT = 100_000  # 0.1 kWh
_CHUNK = 100_000
# what the workload sends besides plain limit orders, so every order-type check runs
_TIF_MIX = (TimeInForce.GTC,) * 85 + (TimeInForce.IOC,) * 5 + (TimeInForce.FOK,) * 5 + (TimeInForce.POST_ONLY,) * 5


def bench_spec(mechanism: Mechanism = Mechanism.CONTINUOUS, ticks: int = 200) -> MarketSpec:
    return MarketSpec(
        "bench",
        tick=TICK,
        lot=LOT,
        max_price=ticks * TICK,
        max_amount=100 * LOT,
        stp=StpMode.CANCEL_TAKER,
        fee_bps=25,
        mechanism=mechanism,
    )


def random_orders(
    rng: random.Random, n: int, first_id: int, owners: int, ticks: int = 200, mix: bool = True
) -> list[NewOrder]:
    """Prices uniform in 1..ticks ticks, 1-4 lots, 50/50 sides, ``owners`` owners (so
    self-trade prevention fires); ``mix``: 85% GTC and 5% each IOC, FOK, post-only, else all GTC
    (every check still runs on every order)."""
    tifs = _TIF_MIX if mix else (TimeInForce.GTC,)
    names = [f"owner{i:05d}" for i in range(owners)]
    rand, choice = rng.random, rng.choice
    out = []
    for i in range(first_id, first_id + n):
        side = Side.BUY if rand() < 0.5 else Side.SELL
        price = (int(rand() * ticks) + 1) * TICK
        amount = (int(rand() * 4) + 1) * LOT
        out.append(NewOrder(i, choice(names), side, price, amount, choice(tifs)))
    return out


def bench_match(
    orders: int,
    owners: int = 1000,
    seed: int = 1,
    latency_sample: int = 200_000,
    mix: bool = True,
    pure: bool = False,
) -> dict[str, Any]:
    """Throughput over ``orders`` orders (CPU time of this thread, so other processes on a
    shared machine do not count; wall time beside it), then per-order wall latency on a fresh
    engine over the first ``latency_sample`` of the same orders (timing each order costs time).
    ``Engine.apply`` one command at a time, as the market service calls it; ``pure``: ``PyEngine``."""
    rng = random.Random(seed)
    impl = PyEngine if pure else Engine
    eng = impl(bench_spec())
    cpu = wall = 0.0
    trades = done = 0
    first_chunk: list[NewOrder] = []
    while done < orders:
        chunk = random_orders(rng, min(_CHUNK, orders - done), done + 1, owners, mix=mix)
        first_chunk = first_chunk or chunk
        apply = eng.apply
        gc.collect()
        c0, w0 = time.thread_time(), time.perf_counter()
        for cmd in chunk:
            for ev in apply(cmd):
                if type(ev) is Trade:
                    trades += 1
        cpu += time.thread_time() - c0
        wall += time.perf_counter() - w0
        done += len(chunk)
    p50, p99, p999 = _latencies(impl(bench_spec()), first_chunk[:latency_sample])
    return {
        "orders": orders,
        "orders_per_s": round(orders / cpu),
        "wall_orders_per_s": round(orders / wall),
        "trades": trades,
        "events": eng.seq,
        "resting_orders": len(eng.resting()),
        "p50_us": p50,
        "p99_us": p99,
        "p999_us": p999,
        "latency_sample": min(latency_sample, orders),
        "tif_mix": mix,
        "engine": "pure" if pure else "compiled",
    }


def _latencies(eng: Engine | PyEngine, cmds: list[NewOrder]) -> tuple[float, float, float]:
    apply, clock = eng.apply, time.perf_counter_ns
    ns = []
    for cmd in cmds:
        t0 = clock()
        apply(cmd)
        ns.append(clock() - t0)
    ns.sort()
    n = len(ns)
    p50, p99, p999 = (round(ns[min(n - 1, int(n * q))] / 1000, 2) for q in (0.5, 0.99, 0.999))
    return p50, p99, p999


def bench_auction(bids: int, offers: int, rounds: int = 5, seed: int = 1) -> dict[str, Any]:
    """Median CPU time of ``Clear`` (sort, sweep, allocate, trade events, expiry of the rest)
    over ``rounds`` slots of ``bids`` + ``offers`` orders, prices uniform in 1-1000 ticks."""
    rng = random.Random(seed)
    spec = bench_spec(Mechanism.AUCTION, ticks=1000)
    cpu, wall = [], []
    volume = trades = 0
    for r in range(rounds):
        auc = Auction(spec)
        for i in range(bids + offers):
            side = Side.BUY if i < bids else Side.SELL
            price = rng.randint(1, 1000) * TICK
            auc.apply(NewOrder(i + 1, f"o{rng.randrange(5000)}", side, price, rng.randint(1, 4) * LOT))
        gc.collect()
        c0, w0 = time.thread_time(), time.perf_counter()
        evs = auc.apply(Clear(r))
        cpu.append(time.thread_time() - c0)
        wall.append(time.perf_counter() - w0)
        volume = sum(e.amount for e in evs if type(e) is Trade)
        trades = sum(1 for e in evs if type(e) is Trade)
    return {
        "bids": bids,
        "offers": offers,
        "clear_ms": round(statistics.median(cpu) * 1000, 2),
        "wall_clear_ms": round(statistics.median(wall) * 1000, 2),
        "rounds": rounds,
        "trades": trades,
        "volume": volume,
    }

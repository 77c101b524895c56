"""The compiled engine (``Engine``) against the pure one (``PyEngine``, the reference): the
same commands give the same events (type and every field), book, open orders and seq."""

from __future__ import annotations

import random

import pytest
from hypothesis import given, settings

from backend.market import (
    CORE_AVAILABLE,
    Amend,
    Cancel,
    Engine,
    NewOrder,
    PyEngine,
    Side,
    StpMode,
    TimeInForce,
)
from backend.market._bench import bench_spec, random_orders
from tests.backend.market.test_market_engine import commands, spec, stps


def same_run(cmds: list, a: Engine, b: PyEngine) -> None:
    for cmd in cmds:
        ea, eb = a.apply(cmd), b.apply(cmd)
        assert [(type(e), *e) for e in ea] == [(type(e), *e) for e in eb], cmd
    assert (a.book(), a.resting(), a.seq) == (b.book(), b.resting(), b.seq)
    for o in b.resting():
        assert a.order(o.order_id) == o


def test_the_compiled_core_is_built() -> None:
    """No silent fallback: ``make setup`` builds it, and without it ``Engine`` refuses to run."""
    assert CORE_AVAILABLE


@settings(max_examples=200, deadline=None)
@given(cmds=commands, stp=stps)
def test_compiled_engine_equals_the_pure_one(cmds: list, stp: StpMode) -> None:
    same_run(cmds, Engine(spec(stp)), PyEngine(spec(stp)))


@pytest.mark.parametrize("seed", [1, 2])
def test_equal_on_the_bench_workload(seed: int) -> None:
    """Deep books, many levels, every order type, 50 owners (self-trade prevention fires)."""
    rng = random.Random(seed)
    cmds: list = random_orders(rng, 20_000, 1, 50)
    live = list(range(1, 20_001, 3))
    cmds += [Cancel(i, "x") for i in live[:200]] + [Amend(i, "x", 1) for i in live[200:400]]
    for i in live[400:3000]:  # the real owner: cancels and amends that land
        owner = cmds[i - 1].owner
        cmds.append(Cancel(i, owner) if i % 2 else Amend(i, owner, bench_spec().lot))
    cmds += random_orders(rng, 5_000, 30_000, 50)
    same_run(cmds, Engine(bench_spec()), PyEngine(bench_spec()))


class Owner(str):
    pass


@pytest.mark.parametrize(
    "cmd",
    [
        NewOrder(-1, "a", Side.BUY, 1000, 1000),
        NewOrder(2**64, "a", Side.BUY, 1000, 1000),
        NewOrder(True, "a", Side.BUY, 1000, 1000),  # type: ignore[arg-type]
        NewOrder(1, "a", Side.BUY, 2**70, 1000),
        NewOrder(1, "a", Side.BUY, 1000, -(2**70)),
        NewOrder(1, Owner("a"), Side.BUY, 1000, 1000),
        NewOrder(1, "a", Side.BUY, 1000, 1000, TimeInForce.FOK, StpMode.ABORT),
        tuple.__new__(NewOrder, (1, "a", Side.BUY)),
        Cancel(2**64, "a"),
        Amend(7, "b", 2**70),
        Amend(7, "a", 2**70),
        Amend(7, "a", 1500),
        Amend(7, "a", True),  # type: ignore[arg-type]
    ],
)
def test_equal_on_hostile_commands(cmd: object) -> None:
    a, b = Engine(spec()), PyEngine(spec())
    same_run([NewOrder(7, "a", Side.SELL, 5000, 3000), cmd], a, b)

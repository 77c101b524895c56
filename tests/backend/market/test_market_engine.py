"""The continuous double auction: equal to the slow reference model event for event, and the
market's properties checked directly on random command streams."""

from __future__ import annotations

from collections import defaultdict

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from backend.market import (
    Accepted,
    Amend,
    Amended,
    Cancel,
    Cancelled,
    Engine,
    LevelChanged,
    MarketSpec,
    MarketSpecError,
    NewOrder,
    PyEngine,
    Rejected,
    RejectReason,
    Side,
    StpMode,
    TimeInForce,
    Trade,
    fill_fee,
    fill_payment,
)
from tests.backend.market._model import Model

# Every engine test runs on the compiled engine and on the pure one it must equal (the
# reference); a missing core fails here rather than testing the wrong implementation.
ENGINES = pytest.mark.parametrize("E", [Engine, PyEngine], ids=["native", "pure"])

TICK, LOT = 1_000, 1_000
OWNERS = ("alice", "bob", "carol")


def spec(stp: StpMode = StpMode.CANCEL_TAKER) -> MarketSpec:
    return MarketSpec("t", tick=TICK, lot=LOT, max_price=12 * TICK, max_amount=9 * LOT, stp=stp, fee_bps=30)


ids = st.integers(0, 40).flatmap(lambda i: st.integers(1, 30) if i else st.sampled_from((-1, 2**64, 2**64 - 1)))
owners = st.sampled_from(OWNERS)
# mostly valid and close together (so orders cross and meet their owners), sometimes anything
prices = st.integers(0, 40).flatmap(
    lambda i: st.integers(3, 8).map(lambda t: t * TICK) if i else st.integers(-1, 14 * TICK)
)
amounts = st.integers(0, 40).flatmap(
    lambda i: st.integers(1, 4).map(lambda n: n * LOT) if i > 1 else st.integers(-1, 10 * LOT)
)
new_orders = st.builds(
    NewOrder,
    ids,
    owners,
    st.sampled_from(Side),
    prices,
    amounts,
    st.sampled_from(TimeInForce),
    st.one_of(st.none(), st.sampled_from(StpMode)),
)
commands = st.lists(
    st.one_of(
        new_orders,
        new_orders,
        new_orders,
        st.builds(Cancel, ids, owners),
        st.builds(Amend, ids, owners, st.integers(0, 9).map(lambda n: n * LOT)),
    ),
    min_size=10,
    max_size=80,
)
stps = st.sampled_from(StpMode)


def run(eng: Engine | PyEngine, cmds: list) -> list:
    out = []
    for cmd in cmds:
        evs = eng.apply(cmd)
        assert evs, cmd
        out.append(evs)
    return out


@settings(max_examples=200, deadline=None)
@given(cmds=commands, stp=stps)
@ENGINES
def test_engine_equals_reference_model(cmds: list, stp: StpMode, E: type[Engine | PyEngine]) -> None:
    eng, model = E(spec(stp)), Model(spec(stp))
    for cmd in cmds:
        assert eng.apply(cmd) == model.apply(cmd), cmd
    book = eng.book()
    assert book.seq == model.seq == eng.seq
    for side, levels in ((Side.BUY, book.bids), (Side.SELL, book.asks)):
        rest = [o for o in model.resting if o.side == side]
        want = sorted({o.price for o in rest}, reverse=side == Side.BUY)
        assert [lv.price for lv in levels] == want
        for lv in levels:
            at = [o for o in rest if o.price == lv.price]
            assert (lv.amount, lv.orders) == (sum(o.rem for o in at), len(at))
    assert [(r.order_id, r.remaining) for r in eng.resting()] == [
        (o.oid, o.rem)
        for side in (Side.SELL, Side.BUY)
        for o in sorted(
            (o for o in model.resting if o.side == side),
            key=lambda o: (o.price if side == Side.SELL else -o.price, o.arrival),
        )
    ]


@settings(max_examples=200, deadline=None)
@given(cmds=commands, stp=stps)
@ENGINES
def test_market_properties(cmds: list, stp: StpMode, E: type[Engine | PyEngine]) -> None:
    """Limits, conservation, no self-trade, payments, sequence numbers, IOC/FOK/post-only."""
    eng = E(spec(stp))
    orders: dict[int, Accepted] = {}
    filled: dict[int, int] = defaultdict(int)
    seq = 0
    for cmd in cmds:
        evs = eng.apply(cmd)
        assert evs
        for ev in evs:
            seq += 1
            assert ev.seq == seq
        if isinstance(evs[0], Rejected):
            assert len(evs) == 1
            continue
        if isinstance(evs[0], Accepted):
            orders[cmd.order_id] = evs[0]  # an id may come back once its order is gone
            filled[cmd.order_id] = 0
        trades = [e for e in evs if isinstance(e, Trade)]
        for tr in trades:
            sell, buy = orders[tr.sell_order_id], orders[tr.buy_order_id]
            assert sell.side == Side.SELL and buy.side == Side.BUY
            assert tr.seller != tr.buyer  # never a self-trade, in any mode
            assert sell.price <= buy.price and tr.price == sell.price  # inside both limits, at the sell price
            assert tr.payment == fill_payment(tr.amount, tr.price) >= 1
            assert tr.fee == fill_fee(tr.payment, 30)
            filled[tr.sell_order_id] += tr.amount
            filled[tr.buy_order_id] += tr.amount
            assert filled[tr.sell_order_id] <= sell.amount and filled[tr.buy_order_id] <= buy.amount
        if isinstance(cmd, NewOrder) and isinstance(evs[0], Accepted):
            mine = sum(t.amount for t in trades)
            rest = eng.order(cmd.order_id)
            if cmd.tif == TimeInForce.FOK:
                assert mine == cmd.amount
            if cmd.tif == TimeInForce.POST_ONLY:
                assert not trades
            if cmd.tif == TimeInForce.IOC:
                assert rest is None
            left = [e for e in evs if isinstance(e, Cancelled) and e.order_id == cmd.order_id]
            assert mine + (rest.remaining if rest else 0) + sum(e.remaining for e in left) == cmd.amount


def check_book_crossed_never(eng: Engine | PyEngine) -> None:
    b = eng.book(1)
    if b.bids and b.asks:
        assert b.bids[0].price < b.asks[0].price


@settings(max_examples=150, deadline=None)
@given(cmds=commands, stp=stps, cut=st.integers(0, 60))
@ENGINES
def test_replay_and_restore_reproduce_the_state(cmds: list, stp: StpMode, cut: int, E: type[Engine | PyEngine]) -> None:
    a = E(spec(stp))
    first = run(a, cmds[:cut])
    check_book_crossed_never(a)
    b = E.replay(spec(stp), cmds[:cut])
    assert (b.book(), b.resting(), b.seq) == (a.book(), a.resting(), a.seq)
    c = E.restore(spec(stp), a.seq, a.resting())
    assert (c.book(), c.resting()) == (a.book(), a.resting())
    rest = cmds[cut:]
    assert run(a, rest) == run(b, rest) == run(c, rest)
    assert first == run(E(spec(stp)), cmds[:cut])  # and the same events, field for field


@ENGINES
def test_price_time_priority_and_partial_fills(E: type[Engine | PyEngine]) -> None:
    eng = E(spec())
    eng.apply(NewOrder(1, "alice", Side.SELL, 5 * TICK, 2 * LOT))
    eng.apply(NewOrder(2, "bob", Side.SELL, 4 * TICK, 2 * LOT))
    eng.apply(NewOrder(3, "alice", Side.SELL, 4 * TICK, 2 * LOT))
    evs = eng.apply(NewOrder(4, "carol", Side.BUY, 5 * TICK, 5 * LOT))
    trades = [(e.sell_order_id, e.amount, e.price) for e in evs if isinstance(e, Trade)]
    assert trades == [(2, 2 * LOT, 4 * TICK), (3, 2 * LOT, 4 * TICK), (1, LOT, 5 * TICK)]
    assert eng.order(1) is not None and eng.order(1).remaining == LOT  # type: ignore[union-attr]
    changed = [(e.price, e.amount, e.orders) for e in evs if isinstance(e, LevelChanged)]
    assert changed == [(4 * TICK, 0, 0), (5 * TICK, LOT, 1)]


@ENGINES
def test_a_selling_taker_is_paid_its_own_limit(E: type[Engine | PyEngine]) -> None:
    """The chain settles at the sell order's price, so an aggressive seller gets its limit and
    the resting buyer the improvement."""
    eng = E(spec())
    eng.apply(NewOrder(1, "bob", Side.BUY, 9 * TICK, LOT))
    (tr,) = [e for e in eng.apply(NewOrder(2, "alice", Side.SELL, 3 * TICK, LOT)) if isinstance(e, Trade)]
    assert (tr.price, tr.payment, tr.maker_order_id) == (3 * TICK, fill_payment(LOT, 3 * TICK), 1)


@pytest.mark.parametrize(
    ("stp", "taker_events", "maker_left"),
    [
        (StpMode.CANCEL_MAKER, [Accepted, Cancelled, Trade, LevelChanged], None),
        (StpMode.CANCEL_TAKER, [Accepted, Cancelled], 2 * LOT),
        (StpMode.ABORT, [Rejected], 2 * LOT),
    ],
)
@ENGINES
def test_self_trade_modes(stp: StpMode, taker_events: list, maker_left: int | None, E: type[Engine | PyEngine]) -> None:
    eng = E(spec(stp))
    eng.apply(NewOrder(1, "alice", Side.SELL, 4 * TICK, 2 * LOT))
    eng.apply(NewOrder(2, "bob", Side.SELL, 4 * TICK, LOT))
    evs = eng.apply(NewOrder(3, "alice", Side.BUY, 4 * TICK, LOT))
    assert [type(e) for e in evs] == taker_events
    left = eng.order(1)
    assert (left.remaining if left else None) == maker_left


@ENGINES
def test_amend_down_keeps_priority_and_cancel_checks_owner(E: type[Engine | PyEngine]) -> None:
    eng = E(spec())
    eng.apply(NewOrder(1, "alice", Side.BUY, 4 * TICK, 3 * LOT))
    eng.apply(NewOrder(2, "bob", Side.BUY, 4 * TICK, 3 * LOT))
    assert [type(e) for e in eng.apply(Amend(1, "alice", LOT))] == [Amended, LevelChanged]
    assert eng.apply(Amend(1, "alice", 2 * LOT))[0].reason == RejectReason.NOT_DOWN  # type: ignore[union-attr]
    assert eng.apply(Cancel(2, "carol"))[0].reason == RejectReason.NOT_OWNER  # type: ignore[union-attr]
    evs = eng.apply(NewOrder(3, "carol", Side.SELL, 4 * TICK, 2 * LOT))
    assert [(e.buy_order_id, e.amount) for e in evs if isinstance(e, Trade)] == [(1, LOT), (2, LOT)]


@pytest.mark.parametrize(
    "cmd",
    [
        NewOrder(1, "a", Side.BUY, 1.5 * TICK, LOT),  # type: ignore[arg-type]
        NewOrder(1, "a", Side.BUY, True, LOT),  # type: ignore[arg-type]
        NewOrder(1, "a", 1, TICK, LOT),  # type: ignore[arg-type]
        NewOrder(1, "a", Side.BUY, TICK, LOT, "gtc"),  # type: ignore[arg-type]
        NewOrder("1", "a", Side.BUY, TICK, LOT),  # type: ignore[arg-type]
        NewOrder(1, b"a", Side.BUY, TICK, LOT),  # type: ignore[arg-type]
        NewOrder(1, "a", Side.BUY, TICK, LOT, TimeInForce.GTC, "abort"),  # type: ignore[arg-type]
        Cancel("x", "a"),  # type: ignore[arg-type]
        Amend(1, "a", 0.5),  # type: ignore[arg-type]
        ("not", "a", "command"),
        None,
    ],
)
@ENGINES
def test_hostile_commands_end_in_a_named_rejection(cmd: object, E: type[Engine | PyEngine]) -> None:
    eng = E(spec())
    (ev,) = eng.apply(cmd)  # type: ignore[arg-type]
    assert isinstance(ev, Rejected) and isinstance(ev.reason, RejectReason)
    assert eng.book() == (1, (), ())


@pytest.mark.parametrize(
    "kw",
    [
        {"tick": 999, "lot": 1000},  # a one-lot fill at one tick would pay 0 on chain
        {"tick": 0},
        {"max_price": 10**13, "max_amount": 10**13},  # u64 overflow of escrow
        {"max_price": 1500},  # not a multiple of the tick
        {"fee_bps": 10_001},
        {"slot_s": 7},
        {"stp": "abort"},
    ],
)
def test_market_spec_refuses_what_the_chain_would(kw: dict) -> None:
    base = {"tick": TICK, "lot": LOT, "max_price": 12 * TICK, "max_amount": 9 * LOT}
    with pytest.raises(MarketSpecError):
        MarketSpec("t", **(base | kw))


@ENGINES
def test_cancelled_orders_do_not_pile_up_in_a_level(E: type[Engine | PyEngine]) -> None:
    """Cancels are O(1) and leave corpses; a level with many of them is compacted, and the
    queue order of the live ones is kept."""
    eng = E(spec())
    eng.apply(NewOrder(1, "alice", Side.SELL, 5 * TICK, LOT))
    for i in range(2, 500):
        eng.apply(NewOrder(i, "bob", Side.SELL, 5 * TICK, LOT))
    for i in range(2, 500):
        if i % 7:
            eng.apply(Cancel(i, "bob"))
    live = [o.order_id for o in eng.resting()]
    assert live == [1] + [i for i in range(2, 500) if i % 7 == 0]
    if isinstance(eng, PyEngine):  # white-box: the deque holds at most ~2x the live orders
        assert len(eng._asks.levels[5]) <= 2 * len(live) + 40
    evs = eng.apply(NewOrder(999, "carol", Side.BUY, 5 * TICK, 9 * LOT, TimeInForce.IOC))
    assert [e.sell_order_id for e in evs if isinstance(e, Trade)] == live[:9]


def test_new_market_and_restore_refuse_what_does_not_fit() -> None:
    from backend.market import Auction, Mechanism, RestingOrder, new_market

    assert isinstance(new_market(spec()), Engine)
    auc = MarketSpec("a", tick=TICK, lot=LOT, max_price=TICK, max_amount=LOT, mechanism=Mechanism.AUCTION)
    assert isinstance(new_market(auc), Auction)
    with pytest.raises(MarketSpecError):
        Engine(auc)
    crossed = [RestingOrder(1, "a", Side.SELL, TICK, LOT), RestingOrder(2, "b", Side.BUY, 2 * TICK, LOT)]
    with pytest.raises(MarketSpecError):
        Engine.restore(spec(), 10, crossed)


def test_market_spec_bounds_the_tick_arrays() -> None:
    with pytest.raises(MarketSpecError):
        MarketSpec("t", tick=1, lot=10**6, max_price=10**6 + 1, max_amount=10**6)

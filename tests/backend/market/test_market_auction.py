"""The uniform-price auction: every clearing checked against a brute force over all prices."""

from __future__ import annotations

from collections import defaultdict

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from backend.market import (
    Accepted,
    Amend,
    Auction,
    Cancel,
    Cancelled,
    CancelReason,
    Clear,
    Cleared,
    MarketSpec,
    Mechanism,
    NewOrder,
    Rejected,
    RejectReason,
    RestingOrder,
    Side,
    StpMode,
    TimeInForce,
    Trade,
    fill_fee,
    fill_payment,
)
from backend.market._auction import clearing_tick

TICK, LOT, TICKS = 1_000, 1_000, 10


def spec(stp: StpMode = StpMode.CANCEL_TAKER, rollover: bool = False) -> MarketSpec:
    return MarketSpec(
        "a",
        tick=TICK,
        lot=LOT,
        max_price=TICKS * TICK,
        max_amount=20 * LOT,
        stp=stp,
        fee_bps=10,
        mechanism=Mechanism.AUCTION,
        rollover=rollover,
    )


ids = st.integers(1, 40)
owners = st.sampled_from(("alice", "bob", "carol", "dave"))
orders = st.builds(
    NewOrder,
    ids,
    owners,
    st.sampled_from(Side),
    st.integers(1, TICKS).map(lambda t: t * TICK),
    st.integers(1, 6).map(lambda n: n * LOT),
    st.sampled_from((TimeInForce.GTC, TimeInForce.GTC, TimeInForce.IOC)),
    st.one_of(st.none(), st.sampled_from(StpMode)),
)
steps = st.lists(
    st.one_of(orders, orders, orders, orders, st.builds(Cancel, ids, owners), st.just("clear")),
    min_size=5,
    max_size=70,
)


def brute(rest: list[RestingOrder]) -> dict[int, tuple[int, int]]:
    """(D, S) at every tick price."""
    out = {}
    for t in range(1, TICKS + 1):
        d = sum(o.remaining for o in rest if o.side == Side.BUY and o.price >= t * TICK)
        s = sum(o.remaining for o in rest if o.side == Side.SELL and o.price <= t * TICK)
        out[t] = (d, s)
    return out


def check_clear(rest: list[RestingOrder], evs: list, rollover: bool, after: list[RestingOrder]) -> None:
    ds = brute(rest)
    vmax = max(min(d, s) for d, s in ds.values())
    (cl,) = [e for e in evs if isinstance(e, Cleared)]
    trades = [e for e in evs if isinstance(e, Trade)]
    assert cl.volume == vmax == sum(t.amount for t in trades)  # maximal volume, all of it traded
    if not vmax:
        assert cl.price is None and not trades
    else:
        best = min(abs(d - s) for d, s in ds.values() if min(d, s) == vmax)
        tied = [t for t, (d, s) in ds.items() if min(d, s) == vmax and abs(d - s) == best]
        assert tied == list(range(tied[0], tied[-1] + 1))  # one interval
        assert cl.price == (tied[0] + tied[-1]) // 2 * TICK  # its midpoint, rounded down
    by_id = {o.order_id: o for o in rest}
    fills: dict[int, int] = defaultdict(int)
    for tr in trades:
        s, b = by_id[tr.sell_order_id], by_id[tr.buy_order_id]
        assert tr.price == cl.price and s.price <= tr.price <= b.price
        assert tr.seller != tr.buyer
        assert tr.payment == fill_payment(tr.amount, tr.price) and tr.fee == fill_fee(tr.payment, 10)
        fills[s.order_id] += tr.amount
        fills[b.order_id] += tr.amount
    for oid, f in fills.items():
        assert f <= by_id[oid].remaining and f % LOT == 0
    if vmax:
        check_allocation(rest, fills, cl.price, ds[cl.price // TICK])
    left = {o.order_id: o.remaining for o in after}
    for o in rest:
        kept = rollover and o.order_id in left  # only GTC rolls over; IOC never does
        assert left.get(o.order_id, 0) == (o.remaining - fills[o.order_id] if kept else 0)
    cancelled = {e.order_id: e for e in evs if isinstance(e, Cancelled)}
    for o in rest:
        gone_unfilled = o.remaining > fills[o.order_id] and o.order_id not in left
        assert (o.order_id in cancelled) == gone_unfilled


def check_allocation(rest: list[RestingOrder], fills: dict[int, int], price: int, ds: tuple[int, int]) -> None:
    """Short side all filled; long side by price, pro rata within a lot at the margin."""
    d, s = ds
    buys = [o for o in rest if o.side == Side.BUY and o.price >= price]
    sells = [o for o in rest if o.side == Side.SELL and o.price <= price]
    short, long_, sign = (buys, sells, 1) if d <= s else (sells, buys, -1)
    for o in short:
        assert fills[o.order_id] == o.remaining
    if d == s:
        return
    filled_long = [o for o in long_ if fills[o.order_id]]
    margin = max(o.price * sign for o in filled_long) * sign  # the worst price that got anything
    for o in long_:
        if o.price * sign < margin * sign:
            assert fills[o.order_id] == o.remaining  # strictly better than the margin: complete
        elif o.price != margin:
            assert fills[o.order_id] == 0
    at = [o for o in long_ if o.price == margin]
    want = sum(fills[o.order_id] for o in at) // LOT
    have = sum(o.remaining for o in at) // LOT
    if want < have:
        for o in at:
            exact = o.remaining // LOT * want / have
            assert exact - 1 < fills[o.order_id] // LOT < exact + 1


@settings(max_examples=200, deadline=None)
@given(cmds=steps, stp=st.sampled_from(StpMode), rollover=st.booleans())
def test_auction_properties(cmds: list, stp: StpMode, rollover: bool) -> None:
    auc, log, seq, out = Auction(spec(stp, rollover)), [], 0, []
    for i, c in enumerate(cmds):
        cmd = Clear(i) if c == "clear" else c
        log.append(cmd)
        before, preview = auc.resting(), auc.indicative()
        evs = auc.apply(cmd)
        out.append(evs)
        assert [e.seq for e in evs] == list(range(seq + 1, seq + 1 + len(evs)))
        seq += len(evs)
        if isinstance(cmd, Clear):
            check_clear(before, evs, rollover, auc.resting())
            cleared = next(e for e in evs if isinstance(e, Cleared))
            assert preview == (None if cleared.price is None else (cleared.price, cleared.volume))
        for owner in {o.owner for o in auc.resting()}:  # never a crossing pair of one owner
            mine = [o for o in auc.resting() if o.owner == owner]
            bids = [o.price for o in mine if o.side == Side.BUY]
            asks = [o.price for o in mine if o.side == Side.SELL]
            assert not bids or not asks or max(bids) < min(asks)
    again = Auction(spec(stp, rollover))
    assert [again.apply(c) for c in log] == out  # deterministic, field for field
    assert Auction.replay(spec(stp, rollover), log).book() == auc.book()


def test_ties_at_the_marginal_price_are_pro_rata_in_lots_earliest_first() -> None:
    auc = Auction(spec())
    auc.apply(NewOrder(1, "s", Side.SELL, 5 * TICK, 10 * LOT))
    for i, n in enumerate((3, 3, 3)):
        auc.apply(NewOrder(10 + i, f"b{i}", Side.BUY, 5 * TICK, n * LOT))
    auc.apply(NewOrder(20, "x", Side.SELL, 6 * TICK, 2 * LOT))  # does not cross 5
    evs = auc.apply(Clear(1))
    assert next(e for e in evs if isinstance(e, Cleared)).volume == 9 * LOT
    # demand 9 < supply 10: buyers all filled, the seller sells 9 lots at 5 ticks
    assert {(e.buy_order_id, e.amount) for e in evs if isinstance(e, Trade)} == {
        (10, 3 * LOT),
        (11, 3 * LOT),
        (12, 3 * LOT),
    }
    auc2 = Auction(spec())
    auc2.apply(NewOrder(1, "s", Side.SELL, 5 * TICK, 4 * LOT))
    for i in range(3):
        auc2.apply(NewOrder(10 + i, f"b{i}", Side.BUY, 5 * TICK, 3 * LOT))
    got = {e.buy_order_id: e.amount for e in auc2.apply(Clear(1)) if isinstance(e, Trade)}
    assert got == {10: 2 * LOT, 11: LOT, 12: LOT}  # 4 lots over 3x3: 1 each, the spare to the earliest


def test_clearing_price_is_the_midpoint_of_the_crossing_interval() -> None:
    assert clearing_tick({8: 5}, {2: 5}) == (5, 5)  # anything in 2..8 clears 5 with no surplus
    assert clearing_tick({8: 5}, {2: 3}) == (5, 3)  # volume 3 everywhere in 2..8: surplus 2 at each
    assert clearing_tick({3: 5}, {4: 5}) is None


def test_self_trade_at_entry_and_the_clock_is_the_callers() -> None:
    auc = Auction(spec(StpMode.CANCEL_TAKER))
    auc.apply(NewOrder(1, "alice", Side.SELL, 5 * TICK, LOT))
    (rej,) = auc.apply(NewOrder(2, "alice", Side.BUY, 5 * TICK, LOT))
    assert isinstance(rej, Rejected) and rej.reason == RejectReason.SELF_TRADE
    assert isinstance(auc.apply(NewOrder(2, "alice", Side.BUY, 4 * TICK, LOT))[0], Accepted)  # not crossing
    evs = auc.apply(NewOrder(3, "alice", Side.BUY, 6 * TICK, LOT, stp=StpMode.CANCEL_MAKER))
    assert [(type(e), getattr(e, "reason", None)) for e in evs][:2] == [
        (Accepted, None),
        (Cancelled, CancelReason.SELF_TRADE),
    ]
    assert auc.apply(Clear(5))[0].slot == 5  # type: ignore[union-attr]
    assert auc.apply(Clear(5))[0].reason == RejectReason.BAD_SLOT  # type: ignore[union-attr]


@pytest.mark.parametrize(
    "cmd",
    [
        NewOrder(1, "a", Side.BUY, TICK, LOT, TimeInForce.FOK),
        NewOrder(1, "a", Side.BUY, TICK, LOT, TimeInForce.POST_ONLY),
        Clear("x"),  # type: ignore[arg-type]
        Amend(9, "a", LOT),
        "nonsense",
    ],
)
def test_auction_rejects_with_a_reason(cmd: object) -> None:
    (ev,) = Auction(spec()).apply(cmd)  # type: ignore[arg-type]
    assert isinstance(ev, Rejected)

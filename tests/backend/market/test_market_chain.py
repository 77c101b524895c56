"""The engine and the real trading program (SBF, in LiteSVM) agree on every fill of a random
sample: the chain's TradeExecuted payment and fee equal the engine's, to the base unit, and
every order's remaining amount on chain equals the engine's."""

from __future__ import annotations

import random

import pytest

import gridx.chain as c
from backend.market import Engine, MarketSpec, NewOrder, Side, StpMode, Trade
from tests.helpers.chain import T0, World, build_world

# tick * lot just above 10**6, so amount * price / 10**6 rounds on almost every fill
TICK, LOT = 1_234, 811
FEE_BPS = 25  # build_world's market


@pytest.mark.parametrize("seed", [1, 2])
def test_engine_payments_equal_the_trading_program(seed: int) -> None:
    w: World = build_world()
    readings = [w.meter_chain.reading(T0 + i * 900, 1_200) for i in range(7)]  # 1,200,000 base units each
    for i in range(0, 7, 2):
        w.svm.send(w.mint_ixs(readings[i : i + 2]), [w.gateway])
    spec = MarketSpec(
        "chain",
        tick=TICK,
        lot=LOT,
        max_price=2000 * TICK,
        max_amount=400 * LOT,
        stp=StpMode.CANCEL_TAKER,
        fee_bps=FEE_BPS,
    )
    eng, rng = Engine(spec), random.Random(seed)
    seller, buyer, m = w.prosumer, w.consumer, w.market
    owner = {seller.pubkey(): seller, buyer.pubkey(): buyer}
    paid = fees = trades = 0
    for oid in range(1, 25):
        side = rng.choice((Side.SELL, Side.BUY))
        kp = seller if side == Side.SELL else buyer
        price, amount = rng.randint(100, 2000) * TICK, rng.randint(1, 400) * LOT
        build = c.build_create_sell_order_ix if side == Side.SELL else c.build_create_buy_order_ix
        w.svm.send([build(kp.pubkey(), m, oid, amount, price)], [kp])
        for ev in eng.apply(NewOrder(oid, str(kp.pubkey()), side, price, amount)):
            if not isinstance(ev, Trade):
                continue
            s_kp = next(k for p, k in owner.items() if str(p) == ev.seller)
            b_kp = next(k for p, k in owner.items() if str(p) == ev.buyer)
            ix = c.build_match_order_ix(
                w.market_auth.pubkey(), m, s_kp.pubkey(), ev.sell_order_id, b_kp.pubkey(), ev.buy_order_id, ev.amount
            )
            (done,) = c.decode_events(w.svm.send([ix], [w.market_auth]).logs)
            assert (done.data.amount, done.data.price) == (ev.amount, ev.price)
            assert (done.data.payment, done.data.fee) == (ev.payment, ev.fee)
            paid, fees, trades = paid + ev.payment, fees + ev.fee, trades + 1
    assert trades >= 5
    for r in eng.resting():  # what the engine still holds is exactly what the chain escrows
        pk = seller.pubkey() if r.side == Side.SELL else buyer.pubkey()
        assert w.svm.decoded("trading", c.order_pda(pk, r.order_id)).remaining == r.remaining  # type: ignore[attr-defined]
    assert w.svm.balance(c.ata_address(seller.pubkey(), m.payment_mint)) == paid - fees
    assert w.svm.balance(m.fee_account) == fees

"""Packing trades into transactions (pure: no chain, no database): every trade once, each
order's fills in the engine's order, and trades of one seller or buyer grouped so that more
fit in a packet than in engine order."""

from __future__ import annotations

import random

from solders.hash import Hash
from solders.instruction import Instruction
from solders.keypair import Keypair
from solders.pubkey import Pubkey

import gridx.chain as c
from backend.matcher import MAX_PER_TX, PACKET_BYTES, pack, tx_size

UNIT = 1_000_000
PAYER, BH = Keypair().pubkey(), Hash.default()
KEYS = c.MarketKeys(Pubkey.new_unique(), Pubkey.new_unique(), Pubkey.new_unique())
Fill = tuple[int, Pubkey, int, Pubkey, int]  # trade id, seller, sell order, buyer, buy order


def _items(fills: list[Fill]) -> list[tuple[Fill, Instruction]]:
    return [(f, c.build_match_order_ix(PAYER, KEYS, f[1], f[2], f[3], f[4], UNIT)) for f in fills]


def _orders(f: Fill) -> tuple[tuple[Pubkey, int], tuple[Pubkey, int]]:
    return (f[1], f[2]), (f[3], f[4])


def _check(packs: list[list[tuple[Fill, Instruction]]], fills: list[Fill]) -> list[Fill]:
    flat = [f for p in packs for f, _ in p]
    assert sorted(flat) == sorted(fills)  # each trade exactly once
    for p in packs:
        assert 1 <= len(p) <= MAX_PER_TX and tx_size([ix for _, ix in p], PAYER, BH) <= PACKET_BYTES
    return flat


def test_a_sellers_and_buyers_trades_share_a_transaction() -> None:
    sellers = [Pubkey.new_unique() for _ in range(4)]
    buyers = [Pubkey.new_unique() for _ in range(3)]
    # as the bench places them: counterparties interleaved, so in engine order each
    # transaction lists nearly every seller's and buyer's accounts
    fills = [(i, sellers[i % 4], i, buyers[i % 3], 1000 + i) for i in range(60)]
    grouped = _check(pack(_items(fills), PAYER, BH, orders=_orders), fills)
    packs = pack(_items(fills), PAYER, BH, orders=_orders)
    assert len(packs) < len(_consecutive(_items(fills))) * 2 // 3  # 9 transactions instead of 20
    assert len(grouped) == 60


def _consecutive(items: list[tuple[Fill, Instruction]]) -> list[list[tuple[Fill, Instruction]]]:
    """What packing in engine order gives: consecutive runs that fit."""
    out: list[list[tuple[Fill, Instruction]]] = [[]]
    for it in items:
        trial = [*out[-1], it]
        if len(trial) > MAX_PER_TX or tx_size([ix for _, ix in trial], PAYER, BH) > PACKET_BYTES:
            out.append([it])
        else:
            out[-1] = trial
    return out


def test_each_orders_fills_keep_the_engines_order() -> None:
    rng = random.Random(7)
    sellers = [Pubkey.new_unique() for _ in range(5)]
    buyers = [Pubkey.new_unique() for _ in range(4)]
    for _ in range(50):
        # large orders filled many times, by several counterparties, in random engine order
        fills: list[Fill] = []
        for i in range(rng.randrange(1, 60)):
            s, b = rng.randrange(5), rng.randrange(4)
            fills.append((i, sellers[s], s * 10 + rng.randrange(2), buyers[b], 100 + b * 10 + rng.randrange(2)))
        flat = _check(pack(_items(fills), PAYER, BH, orders=_orders), fills)
        for order in {o for f in fills for o in _orders(f)}:
            ids = [f[0] for f in flat if order in _orders(f)]
            assert ids == sorted(ids), f"fills of {order} out of the engine's order"


def test_each_pack_starts_with_the_earliest_trade_left() -> None:
    sellers = [Pubkey.new_unique() for _ in range(3)]
    fills = [(i, sellers[i % 3], i, Pubkey.new_unique(), 1000 + i) for i in range(30)]
    packs = pack(_items(fills), PAYER, BH, orders=_orders)
    packed: set[int] = set()
    for p in packs:
        assert p[0][0][0] == min(f[0] for f in fills if f[0] not in packed)
        packed |= {f[0] for f, _ in p}

"""The trading program's hash-time-locked fill (Solana leg of a THB-paid trade) in LiteSVM:
the happy path, and every refusal the cross-chain swap relies on, each changing nothing."""

from __future__ import annotations

import hashlib
import os
import time
from collections.abc import Iterator

import pytest
from solders.clock import Clock
from solders.instruction import Instruction
from solders.keypair import Keypair

import gridx.chain as c
import gridx.chain._svm as svm_mod
from tests.backend.payments.stack import mint_windows
from tests.helpers.chain import World, assert_refused, build_world

GRXE = 1_000_000
LEAD = 600  # seconds from now to the lock's deadline


class _Clock:
    """Wall clock plus an offset: the SVM's Clock follows it, so a test can move past a deadline."""

    def __init__(self) -> None:
        self.offset = 0

    def time(self) -> float:
        return time.time() + self.offset


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> _Clock:
    ck = _Clock()
    monkeypatch.setattr(svm_mod, "time", ck)
    return ck


@pytest.fixture
def w(clock: _Clock) -> Iterator[World]:
    world = build_world()
    mint_windows(world, 2)  # 2.5 kWh
    world.svm.send(
        [c.build_create_sell_order_ix(world.prosumer.pubkey(), world.market, 7, 2 * GRXE, 3 * GRXE)], [world.prosumer]
    )
    yield world


def now(w: World) -> int:
    return int(w.svm.chain.svm.get_clock().unix_timestamp)


def warp(w: World, clock: _Clock, seconds: int) -> None:
    clock.offset += seconds
    chain = w.svm.chain
    chain.svm.set_clock(Clock(chain.slot, 0, 0, 0, int(clock.time())))


def _secret() -> tuple[bytes, bytes]:
    s = os.urandom(32)
    return s, hashlib.sha256(s).digest()


def _fill(w: World, h: bytes, amount: int = GRXE, lead: int = LEAD, buyer: Keypair | None = None) -> Instruction:
    b = (buyer or w.consumer).pubkey()
    return c.build_hashlock_fill_ix(w.prosumer.pubkey(), w.market, 7, b, amount, h, now(w) + lead)


def _lock(w: World, h: bytes, **kw: object) -> None:
    w.svm.send([_fill(w, h, **kw)], [w.prosumer])  # type: ignore[arg-type]


def _claim(w: World, h: bytes, preimage: bytes) -> Instruction:
    return c.build_hashlock_claim_ix(w.market, w.prosumer.pubkey(), w.consumer.pubkey(), h, preimage)


def _grxe(w: World, kp: Keypair) -> int:
    return w.svm.balance(c.ata_address(kp.pubkey(), w.grxe))


def test_fill_claim_pays_the_buyer_and_records_the_secret(w: World) -> None:
    s, h = _secret()
    vault0 = w.svm.balance(w.market.energy_vault)
    _lock(w, h)
    lock = c.decode_hash_lock(w.svm.data(c.hash_lock_pda(w.prosumer.pubkey(), h)) or b"")
    assert (lock.amount, lock.state, lock.buyer) == (GRXE, c.HashLockState.LOCKED, w.consumer.pubkey())
    order = w.svm.decoded("trading", c.order_pda(w.prosumer.pubkey(), 7))
    assert order.remaining == GRXE  # type: ignore[attr-defined]
    relayer = w.svm.funded()
    w.svm.send([_claim(w, h, s)], [relayer])  # anyone submits; the buyer is paid
    assert _grxe(w, w.consumer) == GRXE
    assert w.svm.balance(w.market.energy_vault) == vault0 - GRXE
    lock = c.decode_hash_lock(w.svm.data(c.hash_lock_pda(w.prosumer.pubkey(), h)) or b"")
    assert (lock.state, lock.preimage) == (c.HashLockState.CLAIMED, s)


def test_fill_of_the_whole_order_closes_it_and_refund_returns_to_seller(w: World, clock: _Clock) -> None:
    _, h = _secret()
    seller0 = _grxe(w, w.prosumer)
    _lock(w, h, amount=2 * GRXE)
    assert w.svm.data(c.order_pda(w.prosumer.pubkey(), 7)) is None
    warp(w, clock, LEAD)
    w.svm.send([c.build_hashlock_refund_ix(w.market, w.prosumer.pubkey(), h)], [w.svm.funded()])
    assert _grxe(w, w.prosumer) == seller0 + 2 * GRXE
    lock = c.decode_hash_lock(w.svm.data(c.hash_lock_pda(w.prosumer.pubkey(), h)) or b"")
    assert lock.state is c.HashLockState.REFUNDED


def _locked(w: World) -> tuple[bytes, bytes]:
    s, h = _secret()
    _lock(w, h)
    return s, h


def _payer(w: World) -> Keypair:
    return w.svm.funded()


def _bad_len(n: int):
    def attack(w: World, clock: _Clock) -> tuple[list[Instruction], list[Keypair]]:
        s, h = _locked(w)
        pre = (s + b"\0")[:n] if n > 32 else s[:n]
        return [_claim(w, h, pre)], [_payer(w)]

    return attack


def _wrong_preimage(w: World, clock: _Clock) -> tuple[list[Instruction], list[Keypair]]:
    _, h = _locked(w)
    return [_claim(w, h, os.urandom(32))], [_payer(w)]


def _late_claim(w: World, clock: _Clock) -> tuple[list[Instruction], list[Keypair]]:
    s, h = _locked(w)
    warp(w, clock, LEAD)
    return [_claim(w, h, s)], [_payer(w)]


def _early_refund(w: World, clock: _Clock) -> tuple[list[Instruction], list[Keypair]]:
    _, h = _locked(w)
    warp(w, clock, LEAD - 5)
    return [c.build_hashlock_refund_ix(w.market, w.prosumer.pubkey(), h)], [_payer(w)]


def _replayed_claim(w: World, clock: _Clock) -> tuple[list[Instruction], list[Keypair]]:
    s, h = _locked(w)
    w.svm.send([_claim(w, h, s)], [_payer(w)])
    return [_claim(w, h, s)], [_payer(w)]


def _refund_after_claim(w: World, clock: _Clock) -> tuple[list[Instruction], list[Keypair]]:
    s, h = _locked(w)
    w.svm.send([_claim(w, h, s)], [_payer(w)])
    warp(w, clock, LEAD)
    return [c.build_hashlock_refund_ix(w.market, w.prosumer.pubkey(), h)], [_payer(w)]


def _deadline_too_soon(w: World, clock: _Clock) -> tuple[list[Instruction], list[Keypair]]:
    _, h = _secret()
    return [_fill(w, h, lead=c.HASHLOCK_MIN_LEAD_S - 1)], [w.prosumer]


def _deadline_too_far(w: World, clock: _Clock) -> tuple[list[Instruction], list[Keypair]]:
    _, h = _secret()
    # well past the bound: the chain's clock may have moved on a second or two since now(w)
    return [_fill(w, h, lead=c.HASHLOCK_MAX_LEAD_S + 60)], [w.prosumer]


def _fill_by_stranger(w: World, clock: _Clock) -> tuple[list[Instruction], list[Keypair]]:
    _, h = _secret()
    ix = _fill(w, h)
    stranger = _payer(w)
    metas = list(ix.accounts)
    from solders.instruction import AccountMeta

    metas[0] = AccountMeta(stranger.pubkey(), True, True)
    metas[4] = AccountMeta(c.hash_lock_pda(stranger.pubkey(), h), False, True)
    return [Instruction(ix.program_id, ix.data, metas)], [stranger]


def _fill_to_self(w: World, clock: _Clock) -> tuple[list[Instruction], list[Keypair]]:
    _, h = _secret()
    return [_fill(w, h, buyer=w.prosumer)], [w.prosumer]


def _fill_over_remaining(w: World, clock: _Clock) -> tuple[list[Instruction], list[Keypair]]:
    _, h = _secret()
    return [_fill(w, h, amount=2 * GRXE + 1)], [w.prosumer]


def _same_hash_twice(w: World, clock: _Clock) -> tuple[list[Instruction], list[Keypair]]:
    _, h = _locked(w)
    return [_fill(w, h)], [w.prosumer]


def _claim_to_stranger(w: World, clock: _Clock) -> tuple[list[Instruction], list[Keypair]]:
    s, h = _locked(w)
    ix = _claim(w, h, s)
    thief = _payer(w)
    w.svm.send([c.create_ata_ix(thief.pubkey(), thief.pubkey(), w.grxe)], [thief])
    from solders.instruction import AccountMeta

    metas = list(ix.accounts)
    metas[2] = AccountMeta(c.ata_address(thief.pubkey(), w.grxe), False, True)
    return [Instruction(ix.program_id, ix.data, metas)], [thief]


def _refund_to_stranger(w: World, clock: _Clock) -> tuple[list[Instruction], list[Keypair]]:
    _, h = _locked(w)
    warp(w, clock, LEAD)
    ix = c.build_hashlock_refund_ix(w.market, w.prosumer.pubkey(), h)
    from solders.instruction import AccountMeta

    metas = list(ix.accounts)
    metas[2] = AccountMeta(c.ata_address(w.consumer.pubkey(), w.grxe), False, True)
    return [Instruction(ix.program_id, ix.data, metas)], [_payer(w)]


ATTACKS = {
    "preimage_31_bytes": ("BadPreimageLength", _bad_len(31)),
    "preimage_33_bytes": ("BadPreimageLength", _bad_len(33)),
    "wrong_preimage": ("WrongPreimage", _wrong_preimage),
    "claim_after_deadline": ("HashLockExpired", _late_claim),
    "refund_before_deadline": ("HashLockNotExpired", _early_refund),
    "replayed_claim": ("HashLockNotOpen", _replayed_claim),
    "refund_after_claim": ("HashLockNotOpen", _refund_after_claim),
    "lock_deadline_too_soon": ("DeadlineOutOfRange", _deadline_too_soon),
    "lock_deadline_too_far": ("DeadlineOutOfRange", _deadline_too_far),
    "fill_of_someone_elses_order": ("Unauthorized", _fill_by_stranger),
    "fill_to_the_seller_itself": ("SelfTrade", _fill_to_self),
    "fill_over_remaining": ("InsufficientRemaining", _fill_over_remaining),
    "same_hash_locked_twice": ("AccountAlreadyInitialized", _same_hash_twice),
    "claim_paid_to_a_stranger": ("InvalidTokenAccount", _claim_to_stranger),
    "refund_paid_to_a_stranger": ("InvalidTokenAccount", _refund_to_stranger),
}


@pytest.mark.parametrize("name", list(ATTACKS))
def test_hashlock_attack_refused_and_changes_nothing(w: World, clock: _Clock, name: str) -> None:
    code, setup = ATTACKS[name]
    ixs, signers = setup(w, clock)
    assert_refused(w, code, ixs, signers)

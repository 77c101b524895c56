"""Closing a finished hash lock (``hashlock_close``) in LiteSVM: the rent the seller paid for the
lock account comes back to the seller to the lamport; only the seller closes, only once the lock
is claimed or refunded; a closed lock answers no claim, refund or second close."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from solders.instruction import AccountMeta, Instruction
from solders.keypair import Keypair

import gridx.chain as c
from tests.chain.test_chain_htlc import LEAD, _claim, _Clock, _locked, _payer, clock, w, warp
from tests.helpers.chain import World, assert_refused

__all__ = ["clock", "w"]  # the fixtures, shared with the hash-lock tests

Setup = Callable[[World, _Clock], tuple[list[Instruction], list[Keypair]]]


def _lamports(w: World, kp: Keypair) -> int:
    acct = w.svm.chain.svm.get_account(kp.pubkey())
    return 0 if acct is None else int(acct.lamports)


def _close(w: World, h: bytes) -> Instruction:
    return c.build_hashlock_close_ix(w.market, w.prosumer.pubkey(), h)


def _claimed(w: World) -> bytes:
    s, h = _locked(w)
    w.svm.send([_claim(w, h, s)], [_payer(w)])
    return h


def _refunded(w: World, clock: _Clock) -> bytes:
    _, h = _locked(w)
    warp(w, clock, LEAD)
    w.svm.send([c.build_hashlock_refund_ix(w.market, w.prosumer.pubkey(), h)], [_payer(w)])
    return h


@pytest.mark.parametrize("end", ["claimed", "refunded"])
def test_close_returns_the_rent_to_the_seller(w: World, clock: _Clock, end: str) -> None:
    h = _claimed(w) if end == "claimed" else _refunded(w, clock)
    pda = c.hash_lock_pda(w.prosumer.pubkey(), h)
    rent = w.svm.chain.svm.get_account(pda).lamports  # type: ignore[union-attr]
    assert rent > 0
    seller0 = _lamports(w, w.prosumer)
    relayer = _payer(w)  # pays the fee, so the seller's change is the rent alone
    w.svm.send([_close(w, h)], [relayer, w.prosumer])
    assert _lamports(w, w.prosumer) == seller0 + rent
    assert w.svm.data(pda) is None


def _close_while_locked(w: World, clock: _Clock) -> tuple[list[Instruction], list[Keypair]]:
    _, h = _locked(w)
    return [_close(w, h)], [_payer(w), w.prosumer]


def _close_by_stranger(w: World, clock: _Clock) -> tuple[list[Instruction], list[Keypair]]:
    h = _claimed(w)
    thief = _payer(w)
    ix = _close(w, h)
    metas = list(ix.accounts)
    metas[0] = AccountMeta(thief.pubkey(), True, True)  # the rent would go to the signer
    return [Instruction(ix.program_id, ix.data, metas)], [thief]


def _closed(w: World, clock: _Clock) -> tuple[bytes, bytes]:
    s, h = _locked(w)
    w.svm.send([_claim(w, h, s)], [_payer(w)])
    w.svm.send([_close(w, h)], [_payer(w), w.prosumer])
    return s, h


def _claim_after_close(w: World, clock: _Clock) -> tuple[list[Instruction], list[Keypair]]:
    s, h = _closed(w, clock)
    return [_claim(w, h, s)], [_payer(w)]


def _refund_after_close(w: World, clock: _Clock) -> tuple[list[Instruction], list[Keypair]]:
    _, h = _closed(w, clock)
    warp(w, clock, LEAD)
    return [c.build_hashlock_refund_ix(w.market, w.prosumer.pubkey(), h)], [_payer(w)]


def _close_twice(w: World, clock: _Clock) -> tuple[list[Instruction], list[Keypair]]:
    _, h = _closed(w, clock)
    return [_close(w, h)], [_payer(w), w.prosumer]


ATTACKS: dict[str, tuple[str, Setup]] = {
    "close_while_locked": ("HashLockStillOpen", _close_while_locked),
    "close_by_a_stranger": ("Unauthorized", _close_by_stranger),
    "claim_after_close": ("InvalidAccountOwner", _claim_after_close),
    "refund_after_close": ("InvalidAccountOwner", _refund_after_close),
    "close_twice": ("InvalidAccountOwner", _close_twice),
}


@pytest.mark.parametrize("name", list(ATTACKS))
def test_close_attack_refused_and_changes_nothing(w: World, clock: _Clock, name: str) -> None:
    code, setup = ATTACKS[name]
    ixs, signers = setup(w, clock)
    assert_refused(w, code, ixs, signers)

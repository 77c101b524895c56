"""THBC and the HTLC escrow on a real anvil: issuer-only mint, and every refusal the swap relies on."""

from __future__ import annotations

import hashlib
import os

import pytest
from eth_account.signers.local import LocalAccount

from backend.payments import EvmLockState, EvmReverted, HtlcContracts
from gridx.services import AnvilNode

from .conftest import funded

THBC = 10**6  # 6 decimals


def _advance(anvil: AnvilNode, seconds: int) -> None:
    anvil.rpc("evm_increaseTime", [seconds])
    anvil.rpc("evm_mine")


def _setup_lock(anvil: AnvilNode, c: HtlcContracts, issuer: LocalAccount, amount: int = 450 * THBC):
    buyer, seller, relayer = funded(anvil), funded(anvil), funded(anvil)
    c.mint(issuer, buyer.address, amount)
    c.approve(buyer, amount)
    secret = os.urandom(32)
    h = hashlib.sha256(secret).digest()
    deadline = c.evm.now() + 600
    lock_id = c.lock(buyer, seller.address, amount, h, deadline)
    return buyer, seller, relayer, secret, lock_id


def test_thbc_decimals_and_issuer_only_mint(anvil: AnvilNode, contracts: HtlcContracts, issuer: LocalAccount) -> None:
    assert contracts.thbc.functions.decimals().call() == 6
    other = funded(anvil)
    with pytest.raises(EvmReverted, match="only the issuer"):
        contracts.mint(other, other.address, 1)
    contracts.mint(issuer, other.address, 5 * THBC)
    assert contracts.balance(other.address) == 5 * THBC


def test_claim_by_anyone_pays_the_stored_receiver(anvil, contracts, issuer) -> None:
    buyer, seller, relayer, secret, lock_id = _setup_lock(anvil, contracts, issuer)
    assert contracts.balance(buyer.address) == 0
    contracts.claim(relayer, lock_id, secret)  # the relayer submits; it gets nothing
    assert contracts.balance(seller.address) == 450 * THBC
    assert contracts.balance(relayer.address) == 0
    assert contracts.get_lock(lock_id).state is EvmLockState.CLAIMED
    assert contracts.revealed_preimage(lock_id) == secret
    with pytest.raises(EvmReverted, match="not locked"):  # replayed claim
        contracts.claim(relayer, lock_id, secret)
    with pytest.raises(EvmReverted, match="not locked"):
        contracts.refund(relayer, lock_id)


@pytest.mark.parametrize("bad", ["short31", "long33", "wrong"])
def test_bad_preimages_are_refused(anvil, contracts, issuer, bad: str) -> None:
    _, seller, relayer, secret, lock_id = _setup_lock(anvil, contracts, issuer)
    preimage = {"short31": secret[:31], "long33": secret + b"\0", "wrong": os.urandom(32)}[bad]
    with pytest.raises(EvmReverted, match="32 bytes" if bad != "wrong" else "wrong preimage"):
        contracts.claim(relayer, lock_id, preimage)
    assert contracts.get_lock(lock_id).state is EvmLockState.LOCKED
    assert contracts.balance(seller.address) == 0


def test_early_refund_and_late_claim_are_refused(anvil, contracts, issuer) -> None:
    buyer, _seller, relayer, secret, lock_id = _setup_lock(anvil, contracts, issuer)
    with pytest.raises(EvmReverted, match="not expired"):
        contracts.refund(relayer, lock_id)
    _advance(anvil, 601)
    with pytest.raises(EvmReverted, match="expired"):
        contracts.claim(relayer, lock_id, secret)
    contracts.refund(relayer, lock_id)  # anyone may refund; it goes to the stored sender
    assert contracts.balance(buyer.address) == 450 * THBC
    assert contracts.balance(relayer.address) == 0
    assert contracts.get_lock(lock_id).state is EvmLockState.REFUNDED


def test_lock_deadline_bounds_and_duplicate(anvil, contracts, issuer) -> None:
    buyer, seller = funded(anvil), funded(anvil)
    contracts.mint(issuer, buyer.address, 10 * THBC)
    contracts.approve(buyer, 10 * THBC)
    h = hashlib.sha256(os.urandom(32)).digest()
    now = contracts.evm.now()
    with pytest.raises(EvmReverted, match="too soon"):
        contracts.lock(buyer, seller.address, THBC, h, now + 30)
    with pytest.raises(EvmReverted, match="too far"):
        contracts.lock(buyer, seller.address, THBC, h, now + 10 * 86_400)
    with pytest.raises(EvmReverted, match="self swap"):
        contracts.lock(buyer, buyer.address, THBC, h, now + 600)
    contracts.lock(buyer, seller.address, THBC, h, now + 600)
    with pytest.raises(EvmReverted, match="hashlock used"):
        contracts.lock(buyer, seller.address, THBC, h, now + 600)
    with pytest.raises(EvmReverted):  # more than the allowance / balance
        contracts.lock(buyer, seller.address, 100 * THBC, h, now + 700)


def test_a_sender_uses_a_hashlock_once(anvil, contracts, issuer) -> None:
    """Once a lock's secret is revealed (claimed) anyone knows it, so a second lock by the same
    sender under that hash is claimable by its receiver at once: refused, even with another
    deadline or amount, and after the first lock is over. Per sender, so nobody can block an
    honest buyer's lock by front-running its hash with a lock of their own."""
    buyer, seller, relayer, secret, lock_id = _setup_lock(anvil, contracts, issuer, amount=2 * THBC)
    h = hashlib.sha256(secret).digest()
    contracts.claim(relayer, lock_id, secret)
    contracts.mint(issuer, buyer.address, THBC)
    contracts.approve(buyer, THBC)
    now = contracts.evm.now()
    with pytest.raises(EvmReverted, match="hashlock used"):
        contracts.lock(buyer, seller.address, THBC, h, now + 900)
    other = funded(anvil)
    contracts.mint(issuer, other.address, THBC)
    contracts.approve(other, THBC)
    contracts.lock(other, seller.address, THBC, h, now + 900)  # another sender's hash space
    assert contracts.balance(buyer.address) == THBC

"""The seed's trade paid in THB, end to end on anvil + the local Solana node with the SBF
programs + PostgreSQL, with the relayer (in process here; as a process in the fault tests)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest
from solana.rpc.async_api import AsyncClient

import gridx.chain as c
from backend.payments import (
    Leg,
    Observation,
    SwapRecord,
    SwapRefused,
    SwapStatus,
    load_swap,
    relay_once,
    set_buyer_secret,
    swap_status,
)
from backend.payments._chains import LiveChains
from gridx.db import connect

from .stack import FAST, GRXE, MovableClock, Stack, build_stack, secret, steps

THBC = 10**6


@pytest.fixture
def stack(tmp_path: Path, pg_dsn: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[Stack]:
    s = build_stack(tmp_path, pg_dsn, MovableClock(), monkeypatch)
    yield s
    s.node.stop()
    s.anvil.stop()


def relay(stack: Stack, rounds: int = 1) -> SwapRecord | None:
    async def run() -> None:
        async with AsyncClient(stack.node.url) as client:
            chains = LiveChains(stack.contracts, client, stack.world.market, stack.relayer_evm, stack.relayer_sol)
            with connect(stack.dsn, autocommit=True) as conn:
                for _ in range(rounds):
                    await relay_once(conn, chains)

    asyncio.run(run())
    return None


def status(stack: Stack, rec: SwapRecord) -> SwapRecord:
    with connect(stack.dsn) as conn:
        return load_swap(conn, rec.swap_id)


def test_seed_trade_paid_in_thb(stack: Stack) -> None:
    s = secret()
    a_grxe0, b_grxe0 = stack.grxe(stack.seller), stack.grxe(stack.buyer)
    rec = stack.quote(s)
    assert rec.thbc == 450 * THBC  # shown to the buyer before anything is locked
    stack.buyer_locks(rec)
    assert stack.thbc(stack.buyer_evm) == 0
    stack.seller_locks(rec)
    relay(stack)
    assert status(stack, rec).status is SwapStatus.BOTH_LOCKED
    with connect(stack.dsn, autocommit=True) as conn:
        set_buyer_secret(conn, rec.swap_id, s)  # B asks the relayer to claim its GRXE
    relay(stack, rounds=3)  # claim on Solana (reveals), observe, claim on the EVM chain, observe
    assert status(stack, rec).status is SwapStatus.COMPLETED
    assert stack.thbc(stack.seller_evm) == 450 * THBC
    assert stack.thbc(stack.buyer_evm) == 0
    assert stack.thbc(stack.relayer_evm) == 0
    assert stack.grxe(stack.buyer) == b_grxe0 + 15 * GRXE
    assert stack.grxe(stack.seller) == a_grxe0  # its 15 GRXE left from the sell escrow
    assert stack.world.svm.balance(stack.world.market.energy_vault) == 0
    kinds = [(k, d.get("action")) for k, d in steps(stack.dsn, rec)]
    assert ("submitted", "claim_sol") in kinds and ("submitted", "claim_evm") in kinds


def test_counterparty_never_acts_both_refund_after_deadlines(stack: Stack) -> None:
    rec = stack.quote(secret())
    stack.buyer_locks(rec)
    stack.seller_locks(rec)
    relay(stack)
    stack.warp_sol(FAST.sol_lead_s - 5)
    stack.warp_evm(FAST.sol_lead_s - 5)
    relay(stack)  # nothing is due yet
    assert status(stack, rec).status is SwapStatus.BOTH_LOCKED
    stack.warp_sol(10)
    relay(stack, rounds=2)
    assert status(stack, rec).status is SwapStatus.REFUNDING
    assert stack.world.svm.balance(stack.world.market.energy_vault) == 0
    stack.warp_evm(FAST.delta_s + FAST.second_lock_window_s + 10)
    relay(stack, rounds=2)
    assert status(stack, rec).status is SwapStatus.REFUNDED
    assert stack.thbc(stack.buyer_evm) == 450 * THBC
    assert stack.thbc(stack.seller_evm) == 0


def test_seller_never_locks_buyer_refunds(stack: Stack) -> None:
    rec = stack.quote(secret())
    stack.buyer_locks(rec)
    stack.warp_evm(FAST.evm_lead_s)
    relay(stack, rounds=2)
    assert status(stack, rec).status is SwapStatus.REFUNDED
    assert stack.thbc(stack.buyer_evm) == 450 * THBC


def test_second_lock_too_late_is_refused(stack: Stack) -> None:
    rec = stack.quote(secret())
    stack.buyer_locks(rec)
    stack.warp_evm(FAST.second_lock_window_s + 1)  # EVM lock now has < sol_lead + delta left
    with pytest.raises(SwapRefused, match="second_lock_too_late"):
        stack.seller_locks(rec)
    relay(stack)
    assert status(stack, rec).evm_leg == "locked" and status(stack, rec).sol_leg == "none"


def test_seller_lock_refused_before_the_buyer_locked(stack: Stack) -> None:
    rec = stack.quote(secret())
    with pytest.raises(SwapRefused, match="buyer_not_locked"):
        stack.seller_locks(rec)


def test_seller_closes_the_claimed_lock_and_the_record_keeps_its_secret(stack: Stack) -> None:
    """After the swap, the seller takes back its lock's rent (hashlock_close): the account is
    gone, and observing the swap still shows the Solana leg claimed with its secret (kept in the
    record), never a leg that was never locked."""
    s = secret()
    rec = stack.quote(s)
    stack.buyer_locks(rec)
    stack.seller_locks(rec)
    with connect(stack.dsn, autocommit=True) as conn:
        set_buyer_secret(conn, rec.swap_id, s)
    relay(stack, rounds=3)
    done = status(stack, rec)
    assert done.status is SwapStatus.COMPLETED and done.preimage == s
    lamports0 = stack.world.svm.chain.svm.get_account(stack.seller.pubkey()).lamports  # type: ignore[union-attr]
    pda = c.hash_lock_pda(stack.seller.pubkey(), rec.hashlock)
    rent = stack.world.svm.chain.svm.get_account(pda).lamports  # type: ignore[union-attr]
    payer = stack.world.svm.funded()
    stack.world.svm.send(
        [c.build_hashlock_close_ix(stack.world.market, stack.seller.pubkey(), rec.hashlock)], [payer, stack.seller]
    )  # type: ignore[list-item]
    assert stack.world.svm.data(pda) is None
    assert stack.world.svm.chain.svm.get_account(stack.seller.pubkey()).lamports == lamports0 + rent  # type: ignore[union-attr]

    async def observe() -> Observation:
        async with AsyncClient(stack.node.url) as client:
            chains = LiveChains(stack.contracts, client, stack.world.market, stack.relayer_evm, stack.relayer_sol)
            return await chains.observe(done)

    obs = asyncio.run(observe())
    assert (obs.sol.state, obs.sol.preimage) == (Leg.CLAIMED, s)
    assert swap_status(obs.evm.state, obs.sol.state) is SwapStatus.COMPLETED

"""The swap's pure rules: the seed quote, the secret rule, the deadline rule, the relayer's choices."""

from __future__ import annotations

import os
from decimal import Decimal

import pytest

from backend.payments import (
    Action,
    Leg,
    LegView,
    SwapParams,
    SwapRefused,
    SwapStatus,
    check_second_lock,
    hashlock_of,
    plan_swap,
    quote_thbc,
    relayer_actions,
    swap_status,
)

P = SwapParams()


def test_seed_quote_15_kwh_at_3_grx_is_450_thbc() -> None:
    plan = plan_swap(15_000_000, 3_000_000, Decimal(10), now_evm=1_000, p=P)
    assert (plan.grx, plan.thbc) == (45_000_000, 450_000_000)
    assert plan.evm_deadline == 1_000 + P.second_lock_window_s + P.sol_lead_s + P.delta_s


def test_quote_rounds_up_for_the_seller_and_refuses_nonsense() -> None:
    assert quote_thbc(1, Decimal("10.0000001")) == 11  # 10.0000001 base units -> 11
    with pytest.raises(SwapRefused):
        quote_thbc(0, Decimal(10))
    with pytest.raises(SwapRefused):
        quote_thbc(1, Decimal(0))


def test_default_delta_is_the_sum_of_its_reasons() -> None:
    assert P.delta_s == 32 + 12 * 3 + 2 * 30 + 240
    assert SwapParams(delta_override_s=5).delta_s == 5


@pytest.mark.parametrize("n", [0, 31, 33, 64])
def test_secret_must_be_32_bytes(n: int) -> None:
    with pytest.raises(SwapRefused, match="bad_secret_length"):
        hashlock_of(os.urandom(n))


def test_deadline_rule_in_each_chains_own_clock() -> None:
    # EVM clock runs 1000 s ahead of Solana's: only time left counts
    evm_now, sol_now = 11_000, 10_000
    sol_deadline = sol_now + P.sol_lead_s
    check_second_lock(evm_now + P.sol_lead_s + P.delta_s, evm_now, sol_deadline, sol_now, P)
    with pytest.raises(SwapRefused, match="second_lock_too_late"):
        check_second_lock(evm_now + P.sol_lead_s + P.delta_s - 1, evm_now, sol_deadline, sol_now, P)
    with pytest.raises(SwapRefused, match="second_lock_expired"):
        check_second_lock(evm_now + 10_000, evm_now, sol_now, sol_now, P)


S = os.urandom(32)


@pytest.mark.parametrize(
    ("evm", "sol", "now_evm", "now_sol", "secret", "expected"),
    [
        # B handed its secret: claim B's GRXE on Solana; EVM untouched until the secret is public there
        (LegView(Leg.LOCKED, 200), LegView(Leg.LOCKED, 100), 50, 50, S, [(Action.CLAIM_SOL, S)]),
        # secret public on Solana: claim A's THBC
        (LegView(Leg.LOCKED, 200), LegView(Leg.CLAIMED, 100, S), 150, 150, None, [(Action.CLAIM_EVM, S)]),
        # too late for A's claim: the THBC goes back to B (A waited past delta)
        (LegView(Leg.LOCKED, 200), LegView(Leg.CLAIMED, 100, S), 200, 200, None, [(Action.REFUND_EVM, None)]),
        # nobody acted: both refund after their own deadlines, not before
        (LegView(Leg.LOCKED, 200), LegView(Leg.LOCKED, 100), 99, 99, None, []),
        (LegView(Leg.LOCKED, 200), LegView(Leg.LOCKED, 100), 100, 100, None, [(Action.REFUND_SOL, None)]),
        (LegView(Leg.LOCKED, 200), LegView(Leg.REFUNDED, 100), 200, 200, None, [(Action.REFUND_EVM, None)]),
        # the secret became public on the EVM chain first: B's GRXE is claimed with it
        (LegView(Leg.CLAIMED, 200, S), LegView(Leg.LOCKED, 100), 60, 60, None, [(Action.CLAIM_SOL, S)]),
        # a Solana lock past its deadline is refunded even though B has a secret
        (LegView(Leg.LOCKED, 200), LegView(Leg.LOCKED, 100), 100, 100, S, [(Action.REFUND_SOL, None)]),
    ],
)
def test_relayer_actions(evm, sol, now_evm, now_sol, secret, expected) -> None:
    assert relayer_actions(evm, sol, now_evm, now_sol, secret) == expected


def test_status_table() -> None:
    assert swap_status(Leg.CLAIMED, Leg.CLAIMED) is SwapStatus.COMPLETED
    assert swap_status(Leg.REFUNDED, Leg.REFUNDED) is SwapStatus.REFUNDED
    assert swap_status(Leg.REFUNDED, Leg.NONE) is SwapStatus.REFUNDED
    assert swap_status(Leg.CLAIMED, Leg.REFUNDED) is SwapStatus.BROKEN
    assert swap_status(Leg.REFUNDED, Leg.CLAIMED) is SwapStatus.BROKEN

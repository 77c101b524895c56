"""The cross-chain swap's rules as pure functions (no I/O, no clock, no globals).

Roles. The buyer B pays THBC on the EVM chain; the seller A sells GRXE on Solana. B makes the
32-byte secret and locks first (THBC for A, deadline T_evm); A locks second (GRXE from its sell
order for B, deadline T_sol); B claims the GRXE and so reveals the secret on Solana; A (or the
relayer on A's behalf) claims the THBC with it. If anyone stops, each lock refunds after its
deadline to whoever locked it.

Deadline rule. The secret holder locks first and gets the longer deadline; when A locks second,
the time left on the EVM lock must exceed the time it gives the Solana lock by at least delta:

    (T_evm - now_evm) >= (T_sol - now_sol) + delta

so that a secret revealed at the last Solana moment still leaves A delta to see it (Solana
finality), claim on the EVM chain and reach the configured confirmations, whatever the skew
between the two chains' clocks. Deadlines are compared as time *left* in each chain's own clock.
"""

from __future__ import annotations

import enum
import hashlib
from dataclasses import dataclass
from decimal import ROUND_CEILING, Decimal

from backend.payments._errors import SwapRefused

__all__ = [
    "SECRET_LEN",
    "Action",
    "Leg",
    "LegView",
    "Observation",
    "SwapParams",
    "SwapPlan",
    "SwapStatus",
    "check_second_lock",
    "check_secret",
    "hashlock_of",
    "plan_swap",
    "quote_thbc",
    "relayer_actions",
    "swap_status",
]

SECRET_LEN = 32
GRX_BASE = 10**6  # GRX and GRXE: 6 decimals (DESIGN §3, §7)
THBC_BASE = 10**6  # THBC: 6 decimals (contracts/thbc.vy says why)


@dataclass(frozen=True)
class SwapParams:
    """Timing of a swap, seconds. ``sol_lead_s``: time B has to claim the GRXE after A's lock.
    ``second_lock_window_s``: how long after B's lock A may still lock. ``delta_s``: the margin
    of the deadline rule; by default the sum of its reasons:

    - ``sol_finality_s``: a Solana transaction is finalized ~32 slots (~13 s) after it lands;
      the relayer acts on finalized state, so the reveal is seen at most this late;
    - ``evm_block_s * (evm_confirmations + 1)``: the claim must be mined and then confirmed;
    - ``clock_skew_s``: each chain's clock may run ahead of or behind the other (Solana's
      stake-weighted timestamp, an EVM proposer's timestamp), counted twice (both directions);
    - ``margin_s``: congestion, a relayer restart, an RPC outage.
    """

    sol_lead_s: int = 600
    second_lock_window_s: int = 300
    sol_finality_s: int = 32
    evm_block_s: int = 12
    evm_confirmations: int = 2
    clock_skew_s: int = 30
    margin_s: int = 240
    delta_override_s: int | None = None

    @property
    def delta_s(self) -> int:
        if self.delta_override_s is not None:
            return self.delta_override_s
        finality = self.sol_finality_s + self.evm_block_s * (self.evm_confirmations + 1)
        return finality + 2 * self.clock_skew_s + self.margin_s

    @property
    def evm_lead_s(self) -> int:
        """Time B gives its (first) lock: enough for A to lock within the window and still meet the rule."""
        return self.second_lock_window_s + self.sol_lead_s + self.delta_s


def quote_thbc(grx_base: int, thb_per_grx: Decimal) -> int:
    """THBC base units for a GRX price, rounded up (the seller is never paid less than its GRX
    price is worth; with an integer rate, as the seed's 10 THB/GRX, it is exact)."""
    if grx_base <= 0 or thb_per_grx <= 0:
        raise SwapRefused("bad_quote", f"grx={grx_base} rate={thb_per_grx}")
    thbc = (Decimal(grx_base) * thb_per_grx * THBC_BASE / GRX_BASE).to_integral_value(rounding=ROUND_CEILING)
    return int(thbc)


def hashlock_of(secret: bytes) -> bytes:
    check_secret(secret)
    return hashlib.sha256(secret).digest()


def check_secret(secret: bytes) -> None:
    """The one secret rule of both chains: exactly 32 bytes (a secret one chain accepts and the
    other refuses would let its holder take both sides)."""
    if len(secret) != SECRET_LEN:
        raise SwapRefused("bad_secret_length", f"{len(secret)} bytes, need {SECRET_LEN}")


@dataclass(frozen=True)
class SwapPlan:
    grxe: int
    grx: int
    thbc: int
    evm_deadline: int  # EVM block time
    second_lock_by_evm: int  # A must lock before this (EVM clock), or the swap is abandoned


def plan_swap(grxe: int, price_grx_per_grxe: int, thb_per_grx: Decimal, now_evm: int, p: SwapParams) -> SwapPlan:
    """The quote shown to the buyer before anything is locked: amounts and the first deadline."""
    grx = grxe * price_grx_per_grxe // GRX_BASE  # as the trading program's match: floor(q * p / 1e6)
    thbc = quote_thbc(grx, thb_per_grx)
    return SwapPlan(grxe, grx, thbc, now_evm + p.evm_lead_s, now_evm + p.second_lock_window_s)


def check_second_lock(evm_deadline: int, now_evm: int, sol_deadline: int, now_sol: int, p: SwapParams) -> None:
    """Refuse A's Solana lock when the EVM lock would not outlive it by delta (see module doc)."""
    evm_left = evm_deadline - now_evm
    sol_left = sol_deadline - now_sol
    if sol_left <= 0:
        raise SwapRefused("second_lock_expired", f"Solana deadline {sol_deadline} <= now {now_sol}")
    if evm_left < sol_left + p.delta_s:
        raise SwapRefused(
            "second_lock_too_late", f"EVM lock has {evm_left}s left, needs {sol_left}s + delta {p.delta_s}s"
        )


class Leg(enum.StrEnum):
    NONE = "none"
    LOCKED = "locked"
    CLAIMED = "claimed"
    REFUNDED = "refunded"


@dataclass(frozen=True)
class LegView:
    """One chain's lock as final (confirmed) state shows it."""

    state: Leg
    deadline: int | None = None
    preimage: bytes | None = None


@dataclass(frozen=True)
class Observation:
    """Both legs as final state shows them, each chain's clock, and the EVM lock id once found."""

    evm: LegView
    sol: LegView
    now_evm: int
    now_sol: int
    evm_lock_id: bytes | None = None


class Action(enum.StrEnum):
    CLAIM_SOL = "claim_sol"  # pays B (needs the secret B gave the relayer)
    CLAIM_EVM = "claim_evm"  # pays A (with the secret revealed on Solana)
    REFUND_SOL = "refund_sol"  # back to A
    REFUND_EVM = "refund_evm"  # back to B


def relayer_actions(
    evm: LegView, sol: LegView, now_evm: int, now_sol: int, buyer_secret: bytes | None
) -> list[tuple[Action, bytes | None]]:
    """What the relayer submits now. Every action pays only a lock's stored party, so none of
    them can hurt anyone; the rules only decide which are useful and allowed by the deadlines.

    The buyer's secret is used only to claim the Solana leg for the buyer; the EVM leg is
    claimed only with the secret once it is public on Solana (claiming it first would reveal
    the secret while the buyer's GRXE might still be unclaimed)."""
    out: list[tuple[Action, bytes | None]] = []
    if sol.state is Leg.LOCKED and sol.deadline is not None:
        secret = buyer_secret or evm.preimage  # B's own, or public once the EVM leg was claimed
        if now_sol >= sol.deadline:
            out.append((Action.REFUND_SOL, None))
        elif secret is not None:
            out.append((Action.CLAIM_SOL, secret))
    if evm.state is Leg.LOCKED and evm.deadline is not None:
        if now_evm >= evm.deadline:
            out.append((Action.REFUND_EVM, None))
        elif sol.state is Leg.CLAIMED and sol.preimage is not None:
            out.append((Action.CLAIM_EVM, sol.preimage))
    return out


class SwapStatus(enum.StrEnum):
    QUOTED = "quoted"
    BUYER_LOCKED = "buyer_locked"
    BOTH_LOCKED = "both_locked"
    GRXE_DELIVERED = "grxe_delivered"  # B has its GRXE, A's THBC claim pending
    THBC_DELIVERED = "thbc_delivered"  # A has its THBC (secret public), B's GRXE claim pending
    COMPLETED = "completed"
    REFUNDING = "refunding"
    REFUNDED = "refunded"
    ABANDONED = "abandoned"  # quote never locked
    BROKEN = "broken"  # one side paid, the other refunded: must never happen


def swap_status(evm: Leg, sol: Leg) -> SwapStatus:
    table = {
        (Leg.NONE, Leg.NONE): SwapStatus.QUOTED,
        (Leg.LOCKED, Leg.NONE): SwapStatus.BUYER_LOCKED,
        (Leg.LOCKED, Leg.LOCKED): SwapStatus.BOTH_LOCKED,
        (Leg.LOCKED, Leg.CLAIMED): SwapStatus.GRXE_DELIVERED,
        (Leg.CLAIMED, Leg.LOCKED): SwapStatus.THBC_DELIVERED,
        (Leg.CLAIMED, Leg.CLAIMED): SwapStatus.COMPLETED,
        (Leg.LOCKED, Leg.REFUNDED): SwapStatus.REFUNDING,
        (Leg.REFUNDED, Leg.LOCKED): SwapStatus.REFUNDING,
        (Leg.REFUNDED, Leg.NONE): SwapStatus.REFUNDED,
        (Leg.REFUNDED, Leg.REFUNDED): SwapStatus.REFUNDED,
    }
    return table.get((evm, sol), SwapStatus.BROKEN)


FINAL = frozenset({SwapStatus.COMPLETED, SwapStatus.REFUNDED, SwapStatus.ABANDONED, SwapStatus.BROKEN})

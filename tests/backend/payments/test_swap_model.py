"""A Hypothesis state machine drives the buyer, the seller and the relayer against models of the
two escrows (the same rules as htlc.vy and the trading program's hash lock) with adversarial
timing: delays, withholding, early and late submissions, bad secrets, a relayer that is down for
a while, a dishonest counterparty. In no run does an honest party end with less than it started.

Liveness assumption (the only one): an honest party's watcher (the relayer) runs at least once
every delta/2; delta is exactly the time the deadline rule reserves for that."""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass, field

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from backend.payments import (
    Action,
    Leg,
    LegView,
    SwapParams,
    SwapRefused,
    check_second_lock,
    relayer_actions,
)

P = SwapParams()
THBC, GRXE = 450_000_000, 15_000_000
SOL_MIN, SOL_MAX = 30, 7 * 24 * 3600  # the trading program's bounds
EVM_MIN, EVM_MAX = 60, 86_400  # the HTLC contract's constructor bounds (as deployed in tests)


class Refused(Exception):
    pass


@dataclass
class ModelLock:
    sender: str
    receiver: str
    amount: int
    hashlock: bytes
    deadline: int
    state: Leg = Leg.LOCKED
    preimage: bytes | None = None


@dataclass
class ModelChain:
    """One escrow: lock / claim (32-byte sha256 preimage, before the deadline, pays the stored
    receiver) / refund (at or after the deadline, to the stored sender). ``seen`` holds every
    preimage ever submitted, even by a refused transaction: its data is public."""

    balances: dict[str, int]
    min_lead: int
    max_lead: int
    lock: ModelLock | None = None
    seen: list[bytes] = field(default_factory=list)

    def do_lock(self, sender: str, receiver: str, amount: int, h: bytes, deadline: int, now: int) -> None:
        if self.lock is not None or not self.min_lead <= deadline - now <= self.max_lead or sender == receiver:
            raise Refused("lock")
        if self.balances[sender] < amount:
            raise Refused("balance")
        self.balances[sender] -= amount
        self.lock = ModelLock(sender, receiver, amount, h, deadline)

    def do_claim(self, preimage: bytes, now: int) -> None:
        self.seen.append(preimage)
        lk = self.lock
        if lk is None or lk.state is not Leg.LOCKED or now >= lk.deadline:
            raise Refused("claim state/deadline")
        if len(preimage) != 32 or hashlib.sha256(preimage).digest() != lk.hashlock:
            raise Refused("preimage")
        lk.state, lk.preimage = Leg.CLAIMED, preimage
        self.balances[lk.receiver] += lk.amount

    def do_refund(self, now: int) -> None:
        lk = self.lock
        if lk is None or lk.state is not Leg.LOCKED or now < lk.deadline:
            raise Refused("refund")
        lk.state = Leg.REFUNDED
        self.balances[lk.sender] += lk.amount

    def view(self) -> LegView:
        if self.lock is None:
            return LegView(Leg.NONE)
        return LegView(self.lock.state, self.lock.deadline, self.lock.preimage)


class SwapMachine(RuleBasedStateMachine):
    @initialize(
        dishonest=st.sampled_from([None, "A", "B"]),
        evm_off=st.integers(-P.clock_skew_s, P.clock_skew_s),
        sol_off=st.integers(-P.clock_skew_s, P.clock_skew_s),
    )
    def setup(self, dishonest: str | None, evm_off: int, sol_off: int) -> None:
        self.dishonest = dishonest
        self.t = 1_800_000_000
        self.evm_off, self.sol_off = evm_off, sol_off
        self.evm = ModelChain({"A": 0, "B": THBC}, EVM_MIN, EVM_MAX)
        self.sol = ModelChain({"A": GRXE, "B": 0}, SOL_MIN, SOL_MAX)
        self.secret = os.urandom(32)
        self.h = hashlib.sha256(self.secret).digest()
        self.relayer_secret: bytes | None = None
        self.last_relay = self.t

    # ---------------------------------------------------------------- clocks
    @property
    def now_evm(self) -> int:
        return self.t + self.evm_off

    @property
    def now_sol(self) -> int:
        return self.t + self.sol_off

    # durations around the interesting boundaries (a lead, a window, delta), plus anything
    DT = st.one_of(
        st.sampled_from(
            [1, P.delta_s // 2, P.delta_s, P.sol_lead_s, P.second_lock_window_s, P.evm_lead_s - P.sol_lead_s]
        ),
        st.integers(0, P.evm_lead_s),
    )

    @rule(dt=DT)
    def advance(self, dt: int) -> None:
        while dt > 0:
            step = min(dt, P.delta_s // 4)
            self.t += step
            dt -= step
            if self.t - self.last_relay >= P.delta_s // 2:  # the liveness assumption
                self.relay()

    # ---------------------------------------------------------------- buyer
    @precondition(lambda self: self.evm.lock is None)
    @rule()
    def buyer_locks(self) -> None:
        try:
            self.evm.do_lock("B", "A", THBC, self.h, self.now_evm + P.evm_lead_s, self.now_evm)
        except Refused:
            pass

    @rule()
    def buyer_claims_grxe(self) -> None:
        lk = self.sol.lock
        if self.dishonest == "B" or (lk and lk.receiver == "B" and lk.amount == GRXE and lk.hashlock == self.h):
            if self.dishonest == "B" or (lk and lk.state is Leg.LOCKED and self.now_sol < lk.deadline):
                self._try(self.sol.do_claim, self.secret, self.now_sol)

    @precondition(lambda self: self.dishonest == "B")
    @rule(data=st.sampled_from(["short", "long", "wrong"]))
    def buyer_bad_claims(self, data: str) -> None:
        pre = {"short": self.secret[:31], "long": self.secret + b"\0", "wrong": os.urandom(32)}[data]
        self._try(self.sol.do_claim, pre, self.now_sol)
        self._try(self.evm.do_claim, pre, self.now_evm)

    @rule()
    def buyer_hands_secret_to_relayer(self) -> None:
        self.relayer_secret = self.secret

    # ---------------------------------------------------------------- seller
    @precondition(lambda self: self.sol.lock is None)
    @rule(lead=st.integers(0, 3 * P.sol_lead_s))
    def seller_locks(self, lead: int) -> None:
        if self.dishonest == "A":  # any lead, ignoring the rule
            self._try(self.sol.do_lock, "A", "B", GRXE, self.h, self.now_sol + lead, self.now_sol)
            return
        lk = self.evm.lock
        if lk is None or lk.state is not Leg.LOCKED or lk.receiver != "A" or lk.amount != THBC:
            return
        deadline = self.now_sol + P.sol_lead_s
        try:
            check_second_lock(lk.deadline, self.now_evm, deadline, self.now_sol, P)
        except SwapRefused:
            return
        self._try(self.sol.do_lock, "A", "B", GRXE, lk.hashlock, deadline, self.now_sol)

    @precondition(lambda self: self.dishonest == "A")
    @rule()
    def seller_grabs(self) -> None:
        for pre in self.sol.seen + self.evm.seen:  # anything public
            self._try(self.evm.do_claim, pre, self.now_evm)
        self._try(self.sol.do_refund, self.now_sol)

    # ---------------------------------------------------------------- anyone / relayer
    @rule()
    def anyone_refunds(self) -> None:
        self._try(self.sol.do_refund, self.now_sol)
        self._try(self.evm.do_refund, self.now_evm)

    @rule()
    def relay(self) -> None:
        self.last_relay = self.t
        for action, secret in relayer_actions(
            self.evm.view(), self.sol.view(), self.now_evm, self.now_sol, self.relayer_secret
        ):
            fn = {
                Action.CLAIM_SOL: lambda s=secret: self.sol.do_claim(s, self.now_sol),
                Action.CLAIM_EVM: lambda s=secret: self.evm.do_claim(s, self.now_evm),
                Action.REFUND_SOL: lambda: self.sol.do_refund(self.now_sol),
                Action.REFUND_EVM: lambda: self.evm.do_refund(self.now_evm),
            }[action]
            self._try(fn)

    @staticmethod
    def _try(fn, *args) -> None:  # type: ignore[no-untyped-def]
        try:
            fn(*args)
        except Refused:
            pass

    # ---------------------------------------------------------------- properties
    @invariant()
    def conserved(self) -> None:
        def locked(ch: ModelChain) -> int:
            return ch.lock.amount if ch.lock and ch.lock.state is Leg.LOCKED else 0

        assert sum(self.evm.balances.values()) + locked(self.evm) == THBC
        assert sum(self.sol.balances.values()) + locked(self.sol) == GRXE

    def teardown(self) -> None:
        # let every deadline pass, the honest watcher running as assumed
        if not hasattr(self, "evm"):
            return
        self.advance(P.evm_lead_s + 4 * P.delta_s + 3 * P.sol_lead_s)
        self.relay()
        a = (self.evm.balances["A"], self.sol.balances["A"])
        b = (self.evm.balances["B"], self.sol.balances["B"])
        # "not less than it started with": its own asset back, or what it was paid (a dishonest
        # counterparty may end up giving both away, which costs the honest party nothing)
        if self.dishonest != "A":
            assert a[1] == GRXE or a[0] == THBC, f"honest seller ended with {a}"
        if self.dishonest != "B":
            assert b[0] == THBC or b[1] == GRXE, f"honest buyer ended with {b}"
        if self.dishonest is None:
            assert (a, b) in (((0, GRXE), (THBC, 0)), ((THBC, 0), (0, GRXE)))  # all or nothing


TestSwapMachine = SwapMachine.TestCase
TestSwapMachine.settings = settings(
    max_examples=300, stateful_step_count=30, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)

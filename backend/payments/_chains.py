"""Both chains as the swap sees them: final lock state, each chain's clock, and the four
submissions the relayer may make (each pays only a lock's stored party)."""

from __future__ import annotations

import asyncio
import struct
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from eth_account.signers.local import LocalAccount
from solana.rpc.async_api import AsyncClient
from solders.instruction import Instruction
from solders.keypair import Keypair
from solders.pubkey import Pubkey
from solders.sysvar import CLOCK

import gridx.chain as c
from backend.payments._errors import SwapRefused
from backend.payments._evm import unreachable_as_error
from backend.payments._evm_htlc import EvmLockState, HtlcContracts, evm_lock_id
from backend.payments._store import SwapRecord
from backend.payments._swap import Action, Leg, LegView, Observation, SwapParams, check_second_lock

__all__ = ["LiveChains", "SwapChains"]

T = TypeVar("T")

_EVM_LEG = {
    EvmLockState.NONE: Leg.NONE,
    EvmLockState.LOCKED: Leg.LOCKED,
    EvmLockState.CLAIMED: Leg.CLAIMED,
    EvmLockState.REFUNDED: Leg.REFUNDED,
}
_SOL_LEG = {
    c.HashLockState.LOCKED: Leg.LOCKED,
    c.HashLockState.CLAIMED: Leg.CLAIMED,
    c.HashLockState.REFUNDED: Leg.REFUNDED,
}


async def _evm(fn: Callable[..., T], *args: Any) -> T:
    """Run a (blocking) web3 call off the event loop; a node that does not answer becomes EvmUnreachable."""
    try:
        return await asyncio.to_thread(fn, *args)
    except Exception as exc:
        err = unreachable_as_error(exc)
        if err is None:
            raise
        raise err from exc


@dataclass
class SwapChains:
    """Both chains read-only: what the API needs (observe, the seller's lock) without any key."""

    contracts: HtlcContracts
    sol: AsyncClient
    market: c.MarketKeys

    # ------------------------------------------------------------------ clocks
    async def now_sol(self) -> int:
        data = await c.fetch_account(self.sol, CLOCK)
        if data is None:
            raise SwapRefused("no_clock", "Solana Clock sysvar unreadable")
        return int(struct.unpack_from("<q", data, 32)[0])

    async def now_evm(self) -> int:
        return await _evm(self.contracts.evm.now)

    # ------------------------------------------------------------------ observation
    def _expected_lock_id(self, s: SwapRecord) -> bytes | None:
        """B's lock for this swap has exactly the quoted terms (what ``buyer_lock_txs`` builds), so
        its id is known in advance: one read, no log scan; a lock with other terms is not this swap's."""
        if s.evm_deadline is None:
            return None
        return evm_lock_id(s.buyer_evm, s.seller_evm, self.contracts.thbc.address, s.thbc, s.hashlock, s.evm_deadline)

    def _evm_view(self, s: SwapRecord) -> tuple[LegView, bytes | None]:
        lock_id = s.evm_lock_id or self._expected_lock_id(s)
        if lock_id is None:
            return LegView(Leg.NONE), None
        lock = self.contracts.get_lock(lock_id)
        if lock.state is EvmLockState.NONE:
            return LegView(Leg.NONE), None
        leg = _EVM_LEG[lock.state]
        pre = self.contracts.revealed_preimage(lock_id) if leg is Leg.CLAIMED else None
        return LegView(leg, lock.deadline, pre), lock_id

    async def _sol_view(self, s: SwapRecord) -> LegView:
        seller = Pubkey.from_string(s.seller_wallet)
        data = await c.fetch_account(self.sol, c.hash_lock_pda(seller, s.hashlock))
        if data is None:
            if s.sol_leg in (Leg.CLAIMED, Leg.REFUNDED):
                # the seller closed a finished lock (hashlock_close) to take back its rent: what
                # we recorded from it (state, deadline, the revealed secret) is still the truth
                return LegView(s.sol_leg, s.sol_deadline, s.preimage)
            return LegView(Leg.NONE)
        lock = c.decode_hash_lock(data)
        if str(lock.buyer) != s.buyer_wallet or lock.amount != s.grxe:
            return LegView(Leg.NONE)  # not this swap's terms: nothing the buyer should rely on
        return LegView(_SOL_LEG[lock.state], lock.deadline, lock.preimage)

    async def observe(self, s: SwapRecord) -> Observation:
        (evm, lock_id), now_evm = await asyncio.gather(_evm(self._evm_view, s), self.now_evm())
        sol, now_sol = await asyncio.gather(self._sol_view(s), self.now_sol())
        return Observation(evm, sol, now_evm, now_sol, lock_id)

    # ------------------------------------------------------------------ the seller's lock
    async def seller_lock_ix(self, s: SwapRecord, p: SwapParams) -> Instruction:
        return (await self.seller_lock(s, p))[0]

    async def seller_lock(self, s: SwapRecord, p: SwapParams) -> tuple[Instruction, int]:
        """The Solana lock for the seller to sign and its deadline (Solana clock), refused unless
        the buyer's EVM lock is final with this swap's terms and leaves the deadline rule satisfied."""
        obs = await self.observe(s)
        if obs.sol.state is not Leg.NONE:
            raise SwapRefused("seller_already_locked", f"Solana leg is {obs.sol.state}")
        if obs.evm.state is not Leg.LOCKED or obs.evm.deadline is None:
            raise SwapRefused("buyer_not_locked", f"EVM leg is {obs.evm.state}")
        sol_deadline = obs.now_sol + p.sol_lead_s
        check_second_lock(obs.evm.deadline, obs.now_evm, sol_deadline, obs.now_sol, p)
        seller, buyer = Pubkey.from_string(s.seller_wallet), Pubkey.from_string(s.buyer_wallet)
        ix = c.build_hashlock_fill_ix(seller, self.market, s.sell_order_id, buyer, s.grxe, s.hashlock, sol_deadline)
        return ix, sol_deadline


@dataclass
class LiveChains(SwapChains):
    """``relayer_evm`` and ``relayer_sol`` only pay gas and fees: no lock pays them anything."""

    relayer_evm: LocalAccount
    relayer_sol: Keypair

    # ------------------------------------------------------------------ actions
    async def submit(self, s: SwapRecord, action: Action, secret: bytes | None) -> str:
        seller, buyer = Pubkey.from_string(s.seller_wallet), Pubkey.from_string(s.buyer_wallet)
        if action in (Action.CLAIM_EVM, Action.REFUND_EVM):
            assert s.evm_lock_id is not None
            lock_id = s.evm_lock_id
            if action is Action.CLAIM_EVM:
                assert secret is not None
                rc = await _evm(self.contracts.claim, self.relayer_evm, lock_id, secret)
            else:
                rc = await _evm(self.contracts.refund, self.relayer_evm, lock_id)
            return "0x" + bytes(rc["transactionHash"]).hex()
        if action is Action.CLAIM_SOL:
            assert secret is not None
            ix = c.build_hashlock_claim_ix(self.market, seller, buyer, s.hashlock, secret)
        else:
            ix = c.build_hashlock_refund_ix(self.market, seller, s.hashlock)
        sig = await c.send_and_confirm(self.sol, [ix], [self.relayer_sol])
        return str(sig)

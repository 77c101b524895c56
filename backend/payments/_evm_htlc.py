"""THBC and the HTLC escrow on the EVM side: typed wrappers over the two contracts."""

from __future__ import annotations

import enum
from dataclasses import dataclass

from eth_account.signers.local import LocalAccount
from web3 import Web3
from web3.contract import Contract
from web3.types import TxReceipt

from backend.payments._evm import Evm

__all__ = ["EvmLock", "EvmLockState", "HtlcContracts", "deploy_contracts", "evm_lock_id"]


class EvmLockState(enum.IntEnum):
    NONE = 0
    LOCKED = 1
    CLAIMED = 2
    REFUNDED = 3


@dataclass(frozen=True)
class EvmLock:
    lock_id: bytes
    sender: str
    receiver: str
    token: str
    amount: int
    hashlock: bytes
    deadline: int
    state: EvmLockState


def evm_lock_id(sender: str, receiver: str, token: str, amount: int, hashlock: bytes, deadline: int) -> bytes:
    """The escrow's lock id, computed off chain exactly as the contract does."""
    from eth_abi import encode

    types = ["address", "address", "address", "uint256", "bytes32", "uint256"]
    cs = Web3.to_checksum_address
    return bytes(Web3.keccak(encode(types, [cs(sender), cs(receiver), cs(token), amount, hashlock, deadline])))


@dataclass
class HtlcContracts:
    evm: Evm
    thbc: Contract
    htlc: Contract

    def balance(self, address: str) -> int:
        return int(self.thbc.functions.balanceOf(Web3.to_checksum_address(address)).call())

    def mint(self, issuer: LocalAccount, to: str, amount: int) -> TxReceipt:
        return self.evm.transact(issuer, self.thbc.functions.mint(Web3.to_checksum_address(to), amount))

    def approve(self, owner: LocalAccount, amount: int) -> TxReceipt:
        return self.evm.transact(owner, self.thbc.functions.approve(self.htlc.address, amount))

    def lock(self, sender: LocalAccount, receiver: str, amount: int, hashlock: bytes, deadline: int) -> bytes:
        fn = self.htlc.functions.lock(Web3.to_checksum_address(receiver), self.thbc.address, amount, hashlock, deadline)
        self.evm.transact(sender, fn)
        return evm_lock_id(sender.address, receiver, self.thbc.address, amount, hashlock, deadline)

    def claim(self, payer: LocalAccount, lock_id: bytes, preimage: bytes) -> TxReceipt:
        """``payer`` only pays gas: the tokens go to the lock's stored receiver."""
        return self.evm.transact(payer, self.htlc.functions.claim(lock_id, preimage))

    def refund(self, payer: LocalAccount, lock_id: bytes) -> TxReceipt:
        return self.evm.transact(payer, self.htlc.functions.refund(lock_id))

    def get_lock(self, lock_id: bytes) -> EvmLock:
        s, r, t, amount, h, deadline, state = self.htlc.functions.locks(lock_id).call(
            block_identifier=self.evm.final_block()
        )
        return EvmLock(lock_id, s, r, t, int(amount), bytes(h), int(deadline), EvmLockState(state))

    def revealed_preimage(self, lock_id: bytes, from_block: int = 0) -> bytes | None:
        """The secret from a final Claimed event of this lock, if it has been claimed."""
        logs = self.htlc.events.Claimed.get_logs(
            from_block=from_block, to_block=self.evm.final_block(), argument_filters={"lock_id": lock_id}
        )
        for log in logs:
            return bytes(log["args"]["preimage"])
        return None


def deploy_contracts(evm: Evm, issuer: LocalAccount, min_duration_s: int, max_duration_s: int) -> HtlcContracts:
    thbc = evm.deploy(issuer, "thbc")
    htlc = evm.deploy(issuer, "htlc", min_duration_s, max_duration_s)
    return HtlcContracts(evm, thbc, htlc)

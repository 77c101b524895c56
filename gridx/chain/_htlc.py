"""Builders and decoding for the trading program's hash-time-locked fills (the Solana leg of a
THB-paid trade, DESIGN §7). The secret rule is the same on both chains: exactly 32 bytes,
SHA-256. Claims and refunds take no signer of the parties: they pay the stored receiver."""

from __future__ import annotations

import enum
from dataclasses import dataclass

from solders.instruction import Instruction
from solders.pubkey import Pubkey

from ._idl import decode_account, idl_program
from ._ids import ata_address, order_pda, program_ids
from ._ix import MarketKeys

__all__ = [
    "HASHLOCK_MAX_LEAD_S",
    "HASHLOCK_MIN_LEAD_S",
    "HashLockInfo",
    "HashLockState",
    "build_hashlock_claim_ix",
    "build_hashlock_close_ix",
    "build_hashlock_fill_ix",
    "build_hashlock_refund_ix",
    "decode_hash_lock",
    "hash_lock_pda",
]

# as programs/trading/src/htlc.rs
HASHLOCK_MIN_LEAD_S = 30
HASHLOCK_MAX_LEAD_S = 7 * 24 * 3600


class HashLockState(enum.IntEnum):
    LOCKED = 1
    CLAIMED = 2
    REFUNDED = 3


@dataclass(frozen=True)
class HashLockInfo:
    seller: Pubkey
    buyer: Pubkey
    amount: int
    hashlock: bytes
    deadline: int
    state: HashLockState
    preimage: bytes | None


def hash_lock_pda(seller: Pubkey, hashlock: bytes) -> Pubkey:
    return Pubkey.find_program_address([b"hash_lock", bytes(seller), hashlock], program_ids().trading)[0]


def build_hashlock_fill_ix(
    seller: Pubkey, market: MarketKeys, order_id: int, buyer: Pubkey, amount: int, hashlock: bytes, deadline: int
) -> Instruction:
    """Seller signs: ``amount`` GRXE of its sell order ``order_id`` become claimable by ``buyer``
    with the secret of ``hashlock`` until ``deadline`` (Solana unix time), refundable after."""
    return idl_program("trading").build(
        "hashlock_fill",
        {"amount": amount, "hashlock": list(hashlock), "deadline": deadline},
        {
            "seller": seller,
            "market": market.address,
            "sell_order": order_pda(seller, order_id),
            "buyer": buyer,
            "hash_lock": hash_lock_pda(seller, hashlock),
        },
    )


def build_hashlock_claim_ix(
    market: MarketKeys, seller: Pubkey, buyer: Pubkey, hashlock: bytes, preimage: bytes
) -> Instruction:
    return idl_program("trading").build(
        "hashlock_claim",
        {"preimage": bytes(preimage)},
        {
            "market": market.address,
            "hash_lock": hash_lock_pda(seller, hashlock),
            "buyer_energy_account": ata_address(buyer, market.energy_mint),
            "energy_vault": market.energy_vault,
        },
    )


def build_hashlock_refund_ix(market: MarketKeys, seller: Pubkey, hashlock: bytes) -> Instruction:
    return idl_program("trading").build(
        "hashlock_refund",
        {},
        {
            "market": market.address,
            "hash_lock": hash_lock_pda(seller, hashlock),
            "seller_energy_account": ata_address(seller, market.energy_mint),
            "energy_vault": market.energy_vault,
        },
    )


def build_hashlock_close_ix(market: MarketKeys, seller: Pubkey, hashlock: bytes) -> Instruction:
    """Seller signs: a claimed or refunded lock is closed and its rent returns to the seller."""
    return idl_program("trading").build(
        "hashlock_close",
        {},
        {"seller": seller, "market": market.address, "hash_lock": hash_lock_pda(seller, hashlock)},
    )


def decode_hash_lock(data: bytes) -> HashLockInfo:
    a = decode_account("trading", data)
    state = HashLockState(a.state)
    return HashLockInfo(
        seller=a.seller,
        buyer=a.buyer,
        amount=int(a.amount),
        hashlock=bytes(a.hashlock),
        deadline=int(a.deadline),
        state=state,
        preimage=bytes(a.preimage) if state is HashLockState.CLAIMED else None,
    )

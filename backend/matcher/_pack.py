"""Several trades' ``match_order`` instructions in one transaction: as many as fit in a
packet. Each instruction is checked by the program on its own (orders, escrow, accounts), and
the transaction lands or fails as a whole, so a pack that fails is split by the settler into
single-trade transactions (see ``_settle``)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TypeVar

from solders.hash import Hash
from solders.instruction import Instruction
from solders.message import Message
from solders.pubkey import Pubkey

__all__ = ["MAX_PER_TX", "PACKET_BYTES", "pack", "tx_size"]

T = TypeVar("T")
PACKET_BYTES = 1232  # a transaction's wire size limit (IPv6 MTU less headers)
# Without a compute-budget instruction a transaction may use 200,000 compute units per
# instruction (1.4 M at most, i.e. 7 instructions): match_order needs far less than 200,000
# (two or three token transfers), so each instruction's share suffices and no budget
# instruction is needed; 7 keeps the total within the 1.4 M a transaction may ask for.
MAX_PER_TX = 7


def tx_size(ixs: Sequence[Instruction], payer: Pubkey, blockhash: Hash) -> int:
    """The wire size of a legacy transaction with one signature (the payer's)."""
    return 1 + 64 + len(bytes(Message.new_with_blockhash(list(ixs), payer, blockhash)))


def pack(
    items: Sequence[tuple[T, Instruction]], payer: Pubkey, blockhash: Hash, max_per_tx: int = MAX_PER_TX
) -> list[list[tuple[T, Instruction]]]:
    """Consecutive items grouped in their order into transactions of at most ``max_per_tx``
    instructions and ``PACKET_BYTES`` bytes (the engine's order is kept: an order's fills
    settle in sequence). Accounts shared between instructions (market, vaults, a repeated
    seller or buyer) are listed once, so more fit when users repeat."""
    out: list[list[tuple[T, Instruction]]] = []
    cur: list[tuple[T, Instruction]] = []
    for item in items:
        trial = [*cur, item]
        if cur and (len(trial) > max_per_tx or tx_size([ix for _, ix in trial], payer, blockhash) > PACKET_BYTES):
            out.append(cur)
            trial = [item]
        cur = trial
    if cur:
        out.append(cur)
    return out

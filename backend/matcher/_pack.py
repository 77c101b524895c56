"""Several trades' ``match_order`` instructions in one transaction: as many as fit in a
packet. Each instruction is checked by the program on its own (orders, escrow, accounts), and
the transaction lands or fails as a whole, so a pack that fails is split by the settler into
single-trade transactions (see ``_settle``)."""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Hashable, Iterable, Sequence
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


def _no_orders(_item: object) -> Iterable[Hashable]:
    return ()


def pack(
    items: Sequence[tuple[T, Instruction]],
    payer: Pubkey,
    blockhash: Hash,
    max_per_tx: int = MAX_PER_TX,
    orders: Callable[[T], Iterable[Hashable]] = _no_orders,
) -> list[list[tuple[T, Instruction]]]:
    """Items (in the engine's order) grouped into transactions of at most ``max_per_tx``
    instructions and ``PACKET_BYTES`` bytes. Accounts shared between instructions are listed
    once, so a pack takes next the ready item that adds the fewest new accounts (a trade of a
    seller or buyer already in it: ~4 trades a transaction instead of ~3 in engine order),
    the earliest on a tie. Ready: no earlier item not yet packed shares one of its
    ``orders`` (an item's order keys), so each order's fills are sent in the engine's order;
    each pack starts with the earliest item left, so none waits behind later ones."""
    left = dict(enumerate(items))  # insertion order: the engine's
    queues: dict[Hashable, deque[int]] = {}
    for i, (item, _ix) in left.items():
        for key in orders(item):
            queues.setdefault(key, deque()).append(i)
    accounts = {i: {m.pubkey for m in ix.accounts} | {ix.program_id} for i, (_t, ix) in left.items()}

    def take(i: int) -> None:
        for key in orders(left.pop(i)[0]):
            queues[key].popleft()  # it was the head: only ready items are taken

    def ready(i: int) -> bool:
        return all(queues[key][0] == i for key in orders(left[i][0]))

    out: list[list[tuple[T, Instruction]]] = []
    while left:
        cur = [next(iter(left))]
        used = set(accounts[cur[0]])
        take(cur[0])
        while len(cur) < max_per_tx:
            best = min((i for i in left if ready(i)), key=lambda i: len(accounts[i] - used), default=None)
            # every match_order has the same data and account count, so the fewest new
            # accounts is the smallest addition: if it does not fit, none does
            if best is None or tx_size([items[i][1] for i in [*cur, best]], payer, blockhash) > PACKET_BYTES:
                break
            cur.append(best)
            used |= accounts[best]
            take(best)
        out.append([items[i] for i in cur])
    return out

"""The one mint path (worker, benchmarks and tests): meter-signed readings onto the chain.

A :class:`MeterMint` is consecutive pending windows of one meter. Each goes in its own
transaction, so a meter never has two mints in flight (the program's high-water mark would
refuse the later one if the earlier one failed). Transactions are sent in JSON-RPC batches
(:func:`send_txs`) and confirmed together; every outcome carries the program's error name.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING

from solders.hash import Hash
from solders.keypair import Keypair
from solders.message import Message
from solders.pubkey import Pubkey
from solders.signature import Signature
from solders.transaction import Transaction

from gridx.errors import ChainError

from ._client import build_tx, confirm_statuses, fetch_events, latest_blockhash, pubkey_of, rpc_call, send_txs
from ._errors import chain_error
from ._idl import decode_account
from ._ids import mint_state_pda
from ._signed import MAX_READINGS_PER_MINT, SignedReading, build_mint_readings_ixs

if TYPE_CHECKING:
    from solana.rpc.async_api import AsyncClient

__all__ = [
    "MAX_TX_BYTES",
    "MeterMint",
    "MintFound",
    "MintSent",
    "PreparedMints",
    "find_mint",
    "mint_tx",
    "mintable_prefix",
    "next_window_starts",
    "prepare_mints",
    "send_mints",
    "submit_mints",
]

MAX_TX_BYTES = 1232
_MULTI = 100  # getMultipleAccounts limit
_SEND_BATCH = 64  # transactions per JSON-RPC batch request
_SEND_CONCURRENCY = 4  # batch requests of one submit_mints in flight at once


@dataclass(frozen=True)
class MeterMint:
    """Consecutive windows of one meter, oldest first, to be minted in one instruction."""

    meter: Pubkey
    owner: Pubkey  # the meter's owner wallet (tokens go to its GRXE ATA, which must exist)
    edge_id: str
    readings: tuple[SignedReading, ...]


@dataclass(frozen=True)
class MintSent:
    """What became of one MeterMint: confirmed (``error`` None) or refused/unknown."""

    mint: MeterMint
    signature: Signature | None = None
    slot: int | None = None
    error: ChainError | None = None


def mint_tx(minter: Keypair, m: MeterMint, blockhash: Hash) -> Transaction:
    return build_tx(
        build_mint_readings_ixs(pubkey_of(minter), m.meter, m.owner, m.edge_id, m.readings), [minter], blockhash
    )


@lru_cache(maxsize=65536)
def _one_reading_size(minter: Pubkey, meter: Pubkey, owner: Pubkey, edge_id: str, canonical_len: int) -> int:
    """Bytes of a signed one-reading mint transaction: they depend on the keys and the reading's
    length only, so the message is built once per meter, not once per pass."""
    dummy = SignedReading(bytes(canonical_len), bytes(64))
    first = build_mint_readings_ixs(minter, meter, owner, edge_id, [dummy])
    return len(bytes(Message.new_with_blockhash(first, minter, Hash.default()))) + 1 + 64 + 2


def mintable_prefix(minter: Pubkey, m: MeterMint) -> int:
    """How many of ``m``'s readings fit in one transaction (at least 1, at most 8).

    One message is built (one reading); each further reading adds its Ed25519 entry (14-byte
    offsets + 64-byte signature) and its bytes with a 4-byte length, plus a byte of margin per
    instruction for the compact length prefixes: no message is built per candidate size."""
    size = _one_reading_size(minter, m.meter, m.owner, m.edge_id, len(m.readings[0].canonical))
    n = 1
    for r in m.readings[1:MAX_READINGS_PER_MINT]:
        size += 14 + 64 + 4 + len(r.canonical)
        if size > MAX_TX_BYTES:
            break
        n += 1
    return n


async def next_window_starts(client: AsyncClient, meters: Sequence[Pubkey]) -> dict[Pubkey, int]:
    """Each meter's high-water mark on chain (0 before its first mint): every window starting
    before it is minted, or can never be."""
    out: dict[Pubkey, int] = {}
    for i in range(0, len(meters), _MULTI):
        chunk = list(meters[i : i + _MULTI])
        accts = (await rpc_call(client.get_multiple_accounts([mint_state_pda(m) for m in chunk]))).value
        for meter, acct in zip(chunk, accts, strict=True):
            out[meter] = 0 if acct is None else int(decode_account("energy_token", bytes(acct.data)).next_window_start)
    return out


@dataclass(frozen=True)
class MintFound:
    """The mint transaction whose TokensMinted event commits to a reading hash."""

    signature: Signature
    slot: int
    event: object  # the decoded TokensMinted event data


async def find_mint(client: AsyncClient, meter: Pubkey, last_reading_hash: str, max_txs: int = 200) -> MintFound | None:
    """The transaction (among the meter's last ``max_txs``) that minted up to the reading with
    this hash: its event's ``last_reading_hash`` is that reading's hash."""
    for sig, slot, events in reversed(await fetch_events(client, mint_state_pda(meter), max_txs=max_txs)):
        for ev in events:
            if ev.name == "TokensMinted" and bytes(ev.data.last_reading_hash).hex() == last_reading_hash:
                return MintFound(sig, slot, ev.data)
    return None


@dataclass(frozen=True)
class PreparedMints:
    """Signed transactions of :func:`prepare_mints`, one per MeterMint, not sent yet; their
    signatures were handed to ``before_send``."""

    mints: tuple[MeterMint, ...]
    txs: tuple[Transaction, ...]


async def prepare_mints(
    client: AsyncClient,
    minter: Keypair,
    mints: Sequence[MeterMint],
    before_send: Callable[[list[Signature]], Awaitable[None]] | None = None,
) -> PreparedMints:
    """Build and sign one transaction per MeterMint (callers give each meter at most one);
    ``before_send`` gets every signature before any transaction can leave (to note them
    durably). The first half of :func:`send_mints`: a pipelined sender prepares the next
    transactions while the chain executes the last ones."""
    if len({m.meter for m in mints}) != len(mints):
        raise ValueError("one in-flight mint per meter")
    blockhash = await latest_blockhash(client)
    txs = tuple(mint_tx(minter, m, blockhash) for m in mints)
    if before_send is not None:
        await before_send([tx.signatures[0] for tx in txs])
    return PreparedMints(tuple(mints), txs)


async def submit_mints(
    client: AsyncClient,
    rpc_url: str,
    prepared: PreparedMints,
    confirm_s: float = 30.0,
    send_lock: asyncio.Lock | None = None,
) -> list[MintSent]:
    """Send prepared transactions and confirm them together: one result per mint, in order.
    An unknown outcome (not confirmed in time) is reported with code "Unconfirmed": ask the
    chain about that signature before resending. The second half of :func:`send_mints`.

    ``send_lock`` is held while this call's transactions are sent, not while they are confirmed:
    a pipelined sender shares one between its passes so that a node, which executes in arrival
    order, runs one pass after the other instead of interleaving two (then neither confirms
    before both have run; gridx bench mint p95 1,518-2,218 ms interleaved, 1,011-1,772 ms one
    pass at a time, same loaded machine)."""
    mints, txs = prepared.mints, prepared.txs
    results: list[MintSent | None] = [None] * len(mints)
    sent: dict[Signature, int] = {}
    # batches go out side by side: the node executes the next while this process is busy
    # with other work (a pipelined worker signs its next pass meanwhile); one meter is in one
    # transaction only, so the order in which the batches land does not matter
    gate = asyncio.Semaphore(_SEND_CONCURRENCY)

    async def send(i: int) -> list[Signature | ChainError]:
        async with gate:
            return await send_txs(rpc_url, txs[i : i + _SEND_BATCH])

    starts = range(0, len(txs), _SEND_BATCH)
    async with send_lock or contextlib.nullcontext():
        replies = await asyncio.gather(*(send(i) for i in starts))
    for i, outs in zip(starts, replies, strict=True):
        for j, out in enumerate(outs, start=i):
            if isinstance(out, ChainError):
                results[j] = MintSent(mints[j], error=out)
            else:
                sent[out] = j
    if sent:
        try:
            statuses = await confirm_statuses(client, list(sent), confirm_s)
        except ChainError as exc:
            statuses = {}
            for sig, j in sent.items():
                results[j] = MintSent(mints[j], sig, error=exc)
        for sig, (err, slot) in statuses.items():
            j = sent[sig]
            results[j] = MintSent(mints[j], sig, slot, None if err is None else _refusal(txs[j], err))
    return [r for r in results if r is not None]


def _refusal(tx: Transaction, err: object) -> ChainError:
    keys, ixs = tx.message.account_keys, tx.message.instructions
    return chain_error(err, [], [keys[ix.program_id_index] for ix in ixs])


async def send_mints(
    client: AsyncClient,
    rpc_url: str,
    minter: Keypair,
    mints: Sequence[MeterMint],
    confirm_s: float = 30.0,
    before_send: Callable[[list[Signature]], Awaitable[None]] | None = None,
) -> list[MintSent]:
    """Send one transaction per MeterMint (callers give each meter at most one), confirm them
    together; one result per mint, in order (:func:`prepare_mints` then :func:`submit_mints`)."""
    return await submit_mints(client, rpc_url, await prepare_mints(client, minter, mints, before_send), confirm_s)

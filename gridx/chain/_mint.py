"""The gateway's mint path: many (meter, window) mints, batched, exactly once.

``mint_batch`` first reads the dedup PDAs (a window already minted, e.g. before a crash, is
reported, not re-sent), packs up to 5 mints of one owner per transaction (what fits in 1232
bytes), sends them concurrently and confirms them in batches. A failed transaction is retried
one mint per transaction, so one bad reading (revoked meter, over the limit) does not sink the
other four, and each outcome carries its program error name."""

from __future__ import annotations

import asyncio
import enum
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from solders.keypair import Keypair
from solders.pubkey import Pubkey
from solders.signature import Signature

from gridx.errors import ChainError

from ._client import build_tx, confirm_signatures, latest_blockhash, rpc_call, send_tx
from ._errors import chain_error
from ._ids import mint_record_pda, program_ids
from ._ix import build_mint_for_reading_ix

if TYPE_CHECKING:
    from solana.rpc.async_api import AsyncClient

__all__ = ["MAX_MINTS_PER_TX", "MintOutcome", "MintRequest", "MintStatus", "mint_batch", "minted_windows"]

MAX_MINTS_PER_TX = 5
_MULTI = 100  # getMultipleAccounts limit
_TRANSIENT = frozenset({"Unreachable", "RpcError", "BlockhashNotFound", "Unconfirmed"})


@dataclass(frozen=True)
class MintRequest:
    meter: Pubkey
    owner: Pubkey  # the meter's owner wallet (tokens go to its GRXE ATA, which must exist)
    window_start: int
    window_seconds: int
    amount: int  # GRXE base units, 1 Wh = 1000


class MintStatus(enum.StrEnum):
    MINTED = "minted"
    ALREADY_MINTED = "already_minted"
    FAILED = "failed"


@dataclass(frozen=True)
class MintOutcome:
    request: MintRequest
    status: MintStatus
    signature: Signature | None = None
    code: str | None = None  # program error name when FAILED


async def minted_windows(client: AsyncClient, reqs: Sequence[MintRequest]) -> list[bool]:
    """Whether each (meter, window_start) already has its mint record on chain."""
    out: list[bool] = []
    for i in range(0, len(reqs), _MULTI):
        keys = [mint_record_pda(r.meter, r.window_start) for r in reqs[i : i + _MULTI]]
        accts = (await rpc_call(client.get_multiple_accounts(keys))).value
        out += [a is not None and a.lamports > 0 for a in accts]
    return out


def _chunks(reqs: list[MintRequest], per_tx: int) -> list[list[MintRequest]]:
    by_owner: dict[Pubkey, list[MintRequest]] = {}
    for r in reqs:
        by_owner.setdefault(r.owner, []).append(r)
    return [rs[i : i + per_tx] for rs in by_owner.values() for i in range(0, len(rs), per_tx)]


async def _send_chunks(
    client: AsyncClient, minter: Keypair, chunks: list[list[MintRequest]], concurrency: int
) -> list[tuple[Signature | None, str | None]]:
    """(signature, error code) per chunk: code None means confirmed."""
    sem = asyncio.Semaphore(concurrency)
    blockhash = await latest_blockhash(client)
    energy = program_ids().energy_token

    async def one(chunk: list[MintRequest]) -> tuple[Signature | None, str | None]:
        ixs = [
            build_mint_for_reading_ix(minter.pubkey(), r.meter, r.owner, r.window_start, r.window_seconds, r.amount)
            for r in chunk
        ]
        async with sem:
            try:
                return await send_tx(client, build_tx(ixs, [minter], blockhash)), None
            except ChainError as exc:
                return None, exc.code or "Unknown"

    sent = await asyncio.gather(*(one(ch) for ch in chunks))
    errs = await confirm_signatures(client, [s for s, _ in sent if s is not None])
    out: list[tuple[Signature | None, str | None]] = []
    for sig, code in sent:
        if sig is not None and errs[sig] is not None:
            code = chain_error(errs[sig], [], [energy]).code
        out.append((sig, code))
    return out


async def mint_batch(
    client: AsyncClient,
    minter: Keypair,
    reqs: Sequence[MintRequest],
    per_tx: int = MAX_MINTS_PER_TX,
    concurrency: int = 8,
) -> list[MintOutcome]:
    """Mint every request at most once; one outcome per request, in order.

    FAILED means a program refused that mint (``code`` names why). Transport trouble (node
    unreachable, stale blockhash, unconfirmed) raises ChainError instead: call again, the PDA
    pre-check makes the retry safe."""
    if not 1 <= per_tx <= MAX_MINTS_PER_TX:
        raise ValueError(f"per_tx must be 1..{MAX_MINTS_PER_TX}")
    result: dict[tuple[Pubkey, int], MintOutcome] = {}
    unique = list({(r.meter, r.window_start): r for r in reversed(reqs)}.values())  # first occurrences
    for r, done in zip(unique, await minted_windows(client, unique), strict=True):
        if done:
            result[(r.meter, r.window_start)] = MintOutcome(r, MintStatus.ALREADY_MINTED)
    todo = [r for r in unique if (r.meter, r.window_start) not in result]
    size = per_tx
    while todo:
        chunks = _chunks(todo, size)
        retry: list[MintRequest] = []
        sent = await _send_chunks(client, minter, chunks, concurrency)
        transient = {code for _, code in sent if code in _TRANSIENT}
        if transient:
            # not a verdict on the readings: let the caller retry (the PDA pre-check makes it safe)
            raise ChainError(f"mint batch interrupted: {sorted(transient)}", sorted(transient)[0])
        for chunk, (sig, code) in zip(chunks, sent, strict=True):
            for r in chunk:
                key = (r.meter, r.window_start)
                if code is None:
                    result[key] = MintOutcome(r, MintStatus.MINTED, sig)
                elif code == "AlreadyMinted" and len(chunk) == 1:
                    result[key] = MintOutcome(r, MintStatus.ALREADY_MINTED)
                elif len(chunk) == 1:
                    result[key] = MintOutcome(r, MintStatus.FAILED, None, code)
                else:
                    retry.append(r)
        todo, size = retry, 1
    out: list[MintOutcome] = []
    seen: set[tuple[Pubkey, int]] = set()
    for r in reqs:
        key = (r.meter, r.window_start)
        o = result[key]
        if key in seen:  # a repeat inside this call: the first one carries the mint
            o = MintOutcome(r, MintStatus.ALREADY_MINTED) if o.status is MintStatus.MINTED else replace(o, request=r)
        seen.add(key)
        out.append(o)
    return out

"""The mint worker's side of the chain: check records, send packed transactions, judge.

Everything goes through solana-py's AsyncClient (one code path for the local node and a real
validator); program errors arrive as ChainError with the IDL's error name as ``code``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import TYPE_CHECKING

from solders.keypair import Keypair
from solders.pubkey import Pubkey
from solders.signature import Signature

from gateway.mint._plan import MintJob, Outcome, Verdict, judge_failed_tx
from gateway.mint._store import MintRecorded
from gridx.chain import (
    build_mint_for_reading_ix,
    build_tx,
    chain_error,
    confirm_signatures,
    latest_blockhash,
    mint_record_pda,
    send_tx,
)
from gridx.errors import ChainError

if TYPE_CHECKING:
    from solana.rpc.async_api import AsyncClient

__all__ = ["check_on_chain", "send_packed"]

_MULTI_ACCOUNTS = 100  # getMultipleAccounts limit on real validators


def _record(job: MintJob) -> Pubkey:
    return mint_record_pda(Pubkey.from_bytes(job.meter_pubkey), job.window_start)


async def _creating_signature(client: AsyncClient, record: Pubkey) -> tuple[str | None, int | None]:
    """The successful transaction that created a mint record (failed duplicates also touch it)."""
    for entry in (await client.get_signatures_for_address(record, limit=20)).value:
        if entry.err is None:
            return str(entry.signature), entry.slot
    return None, None


async def check_on_chain(client: AsyncClient, jobs: Sequence[MintJob]) -> tuple[list[MintRecorded], list[MintJob]]:
    """For rows that may already have been sent: which windows are minted already?

    Returns (already done, still to send). This is the step that makes a resend after a crash
    or an unknown outcome safe without relying on the chain's duplicate refusal alone."""
    done: list[MintRecorded] = []
    todo: list[MintJob] = []
    for i in range(0, len(jobs), _MULTI_ACCOUNTS):
        chunk = list(jobs[i : i + _MULTI_ACCOUNTS])
        accounts = (await client.get_multiple_accounts([_record(j) for j in chunk])).value
        for job, acct in zip(chunk, accounts, strict=True):
            if acct is None or acct.lamports == 0:
                todo.append(job)
            else:
                sig, slot = await _creating_signature(client, _record(job))
                done.append(MintRecorded(Verdict(job, Outcome.ALREADY_DONE, "found_on_chain"), sig, slot))
    return done, todo


async def send_packed(
    client: AsyncClient, minter: Keypair, txs: Sequence[Sequence[MintJob]], confirm_s: float
) -> list[MintRecorded]:
    """Send every packed transaction, then confirm them together; judge each row."""
    blockhash = await latest_blockhash(client)
    built = [
        build_tx(
            [
                build_mint_for_reading_ix(
                    minter.pubkey(),
                    Pubkey.from_bytes(j.meter_pubkey),
                    Pubkey.from_string(j.owner_wallet),
                    j.window_start,
                    j.window_seconds,
                    j.amount,
                )
                for j in group
            ],
            [minter],
            blockhash,
        )
        for group in txs
    ]
    results: list[MintRecorded] = []
    sent: dict[Signature, Sequence[MintJob]] = {}
    outcomes = await asyncio.gather(*(send_tx(client, tx) for tx in built), return_exceptions=True)
    for group, out in zip(txs, outcomes, strict=True):
        if isinstance(out, ChainError):
            results += [MintRecorded(v) for v in judge_failed_tx(group, out.instruction_index, out.code)]
        elif isinstance(out, BaseException):
            raise out
        else:
            sent[out] = group
    if not sent:
        return results
    try:
        statuses = await confirm_signatures(client, list(sent), wait_s=confirm_s)
    except ChainError as exc:
        # outcome unknown: back to the queue; the next claim checks the chain before resending
        return results + [
            MintRecorded(Verdict(j, Outcome.RETRY, exc.code or "unconfirmed")) for g in sent.values() for j in g
        ]
    slots = await _slots(client, list(sent))
    for sig, group in sent.items():
        err = statuses[sig]
        if err is None:
            results += [MintRecorded(Verdict(j, Outcome.CONFIRMED), str(sig), slots.get(sig)) for j in group]
        else:
            failure = chain_error(err)
            results += [MintRecorded(v) for v in judge_failed_tx(group, failure.instruction_index, failure.code)]
    return results


async def _slots(client: AsyncClient, sigs: list[Signature]) -> dict[Signature, int]:
    out: dict[Signature, int] = {}
    for i in range(0, len(sigs), 256):
        chunk = sigs[i : i + 256]
        for sig, st in zip(chunk, (await client.get_signature_statuses(chunk)).value, strict=True):
            if st is not None:
                out[sig] = st.slot
    return out

"""The mint worker's side of the chain: check records, send packed transactions, judge.

Everything goes through solana-py's AsyncClient (one code path for the local node and a real
validator); program errors arrive as ChainError with the IDL's error name as ``code``.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from solders.keypair import Keypair
from solders.pubkey import Pubkey
from solders.signature import Signature
from solders.transaction import Transaction

from gateway.mint._plan import MintJob, Outcome, Verdict, judge_failed_tx
from gateway.mint._store import MintRecorded
from gridx.chain import (
    MintRequest,
    build_mint_for_reading_ix,
    build_tx,
    chain_error,
    confirm_statuses,
    latest_blockhash,
    mint_record_pda,
    minted_windows,
)
from gridx.errors import ChainError

if TYPE_CHECKING:
    from solana.rpc.async_api import AsyncClient

__all__ = ["check_on_chain", "send_packed"]

_SEND_BATCH = 64  # transactions per JSON-RPC batch request


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
    reqs = [
        MintRequest(
            Pubkey.from_bytes(j.meter_pubkey),
            Pubkey.from_string(j.owner_wallet),
            j.window_start,
            j.window_seconds,
            j.amount,
        )
        for j in jobs
    ]
    done: list[MintRecorded] = []
    todo: list[MintJob] = []
    for job, minted in zip(jobs, await minted_windows(client, reqs), strict=True):
        if minted:
            sig, slot = await _creating_signature(client, _record(job))
            done.append(MintRecorded(Verdict(job, Outcome.ALREADY_DONE, "found_on_chain"), sig, slot))
        else:
            todo.append(job)
    return done, todo


async def _send_batch(client: AsyncClient, txs: Sequence[Transaction]) -> list[Signature | ChainError]:
    """All transactions of a pass in one JSON-RPC batch request (any validator accepts batches):
    per-request HTTP overhead, not execution, is what bounds a Python sender."""
    from solders.rpc.config import RpcSendTransactionConfig
    from solders.rpc.requests import SendRawTransaction

    reqs = tuple(SendRawTransaction(bytes(tx), RpcSendTransactionConfig(), id=i) for i, tx in enumerate(txs))
    try:
        # solana-py's batch entry point lives on its provider; the request bodies are solders'
        raw = await client._provider.make_batch_request_unparsed(reqs)
        replies: dict[int, dict[str, Any]] = {int(r["id"]): r for r in json.loads(raw)}
    except Exception as exc:
        return [ChainError(f"chain node unreachable: {exc}", "Unreachable") for _ in txs]
    out: list[Signature | ChainError] = []
    for i, tx in enumerate(txs):
        reply = replies.get(i, {})
        if "result" in reply:
            out.append(Signature.from_string(reply["result"]))
            continue
        error: dict[str, Any] = reply.get("error") or {}
        data: dict[str, Any] = error["data"] if isinstance(error.get("data"), dict) else {}
        if data.get("err") is not None:
            programs = [tx.message.account_keys[ix.program_id_index] for ix in tx.message.instructions]
            out.append(chain_error(data["err"], list(data.get("logs") or []), programs))
        else:
            out.append(ChainError(f"sendTransaction refused: {error.get('message', reply)}", "RpcError"))
    return out


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
    for i in range(0, len(built), _SEND_BATCH):
        outcomes = await _send_batch(client, built[i : i + _SEND_BATCH])
        for group, out in zip(txs[i : i + _SEND_BATCH], outcomes, strict=True):
            if isinstance(out, ChainError):
                results += [MintRecorded(v) for v in judge_failed_tx(group, out.instruction_index, out.code)]
            else:
                sent[out] = group
    if not sent:
        return results
    try:
        statuses = await confirm_statuses(client, list(sent), confirm_s)
    except ChainError as exc:
        # outcome unknown: back to the queue; the next claim checks the chain before resending
        unknown = [MintRecorded(Verdict(j, Outcome.RETRY, exc.code or "unconfirmed")) for g in sent.values() for j in g]
        return results + unknown
    for sig, group in sent.items():
        err, slot = statuses[sig]
        if err is None:
            results += [MintRecorded(Verdict(j, Outcome.CONFIRMED), str(sig), slot) for j in group]
        else:
            failure = chain_error(err)
            results += [MintRecorded(v) for v in judge_failed_tx(group, failure.instruction_index, failure.code)]
    return results

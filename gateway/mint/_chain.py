"""The mint worker's side of the chain: settle rows an earlier transaction may have minted,
send each meter's oldest windows through ``gridx.chain.prepare_mints``/``submit_mints`` (the
two halves of ``send_mints``), judge every row.

Everything goes through the one public mint path of ``gridx.chain`` (the benchmarks measure
the same code); program errors arrive with the IDL's error name as ``code``.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from solders.keypair import Keypair
from solders.pubkey import Pubkey
from solders.signature import Signature

from gateway.mint._plan import MintJob, Outcome, Verdict, job_reading, judge_mint
from gateway.mint._store import MintRecorded
from gridx.chain import MeterMint, PreparedMints, SignedReading, find_mint, prepare_mints, rpc_call, submit_mints

if TYPE_CHECKING:
    from solana.rpc.async_api import AsyncClient

__all__ = ["SentGroups", "finish_groups", "landed", "prepare_groups", "send_groups", "settle_earlier"]

_STATUS_BATCH = 256


async def landed(client: AsyncClient, sigs: Sequence[str]) -> dict[str, int]:
    """Signature -> slot for each of ``sigs`` that is on chain and succeeded."""
    out: dict[str, int] = {}
    uniq = list(dict.fromkeys(sigs))
    for i in range(0, len(uniq), _STATUS_BATCH):
        chunk = uniq[i : i + _STATUS_BATCH]
        resp = await rpc_call(
            client.get_signature_statuses([Signature.from_string(s) for s in chunk], search_transaction_history=True)
        )
        for sig, st in zip(chunk, resp.value, strict=True):
            if st is not None and st.err is None:
                out[sig] = st.slot
    return out


async def settle_earlier(client: AsyncClient, jobs: Sequence[MintJob]) -> tuple[list[MintRecorded], list[MintJob]]:
    """Rows that were sent before (a crash, an unknown outcome): a landed earlier transaction
    means the row is minted. Returns (already done, still to send)."""
    ok = await landed(client, [s for j in jobs for s in j.sent_signatures])
    done: list[MintRecorded] = []
    todo: list[MintJob] = []
    for job in jobs:
        sig = next((s for s in job.sent_signatures if s in ok), None)
        if sig is None:
            todo.append(job)
        else:
            done.append(MintRecorded(Verdict(job, Outcome.ALREADY_DONE, "found_on_chain"), sig, ok[sig]))
    return done, todo


def _meter_mint(group: Sequence[MintJob], signed: Mapping[int, SignedReading]) -> MeterMint:
    first = group[0]
    return MeterMint(
        Pubkey.from_bytes(first.meter_pubkey),
        Pubkey.from_string(first.owner_wallet),
        first.edge_id,
        tuple(signed[j.outbox_id] if j.outbox_id in signed else job_reading(j) for j in group),
    )


@dataclass(frozen=True)
class SentGroups:
    """One pass's transactions, signed and noted, not yet sent (see prepare_groups)."""

    groups: tuple[tuple[MintJob, ...], ...]
    prepared: PreparedMints


async def prepare_groups(
    client: AsyncClient,
    minter: Keypair,
    groups: Sequence[Sequence[MintJob]],
    signed: Mapping[int, SignedReading],
    note: Callable[[dict[int, str]], Awaitable[None]],
) -> SentGroups:
    """One transaction per group (one meter's oldest windows), signed, and every row's
    signature noted by ``note`` before any of them can leave. ``signed``: rows already packed
    as the chain takes them (by outbox id)."""
    mints = [_meter_mint(g, signed) for g in groups]

    async def before_send(sigs: list[Signature]) -> None:
        texts = [str(sig) for sig in sigs]  # base-58 once per transaction, not once per row
        await note({j.outbox_id: text for g, text in zip(groups, texts, strict=True) for j in g})

    prepared = await prepare_mints(client, minter, mints, before_send)
    return SentGroups(tuple(tuple(g) for g in groups), prepared)


async def finish_groups(
    client: AsyncClient,
    rpc_url: str,
    pending: SentGroups,
    confirm_s: float,
    send_lock: asyncio.Lock | None = None,
    sent_at: float | None = None,
) -> list[MintRecorded]:
    """Send what prepare_groups signed (holding ``send_lock`` while sending: see
    ``submit_mints``), confirm it, and judge every row (``sent_at`` goes on every record)."""
    sent = await submit_mints(client, rpc_url, pending.prepared, confirm_s, send_lock)
    out: list[MintRecorded] = []
    for group, res in zip(pending.groups, sent, strict=True):
        code = None if res.error is None else (res.error.code or "Unknown")
        found = await _ours(client, group, res.mint) if code == "WindowAlreadyMinted" and len(group) == 1 else None
        for v in judge_mint(group, code, found is not None):
            if v.outcome is Outcome.CONFIRMED:
                last = hashlib.sha256(res.mint.readings[-1].canonical).hexdigest()
                out.append(MintRecorded(v, str(res.signature), res.slot, last, sent_at))
            elif v.outcome is Outcome.ALREADY_DONE and found is not None:
                out.append(MintRecorded(v, str(found.signature), found.slot, found.last_hash, sent_at))
            else:
                out.append(MintRecorded(v, sent_at=sent_at))
    return out


async def send_groups(
    client: AsyncClient,
    rpc_url: str,
    minter: Keypair,
    groups: Sequence[Sequence[MintJob]],
    signed: Mapping[int, SignedReading],
    confirm_s: float,
    note: Callable[[dict[int, str]], Awaitable[None]],
) -> list[MintRecorded]:
    """prepare_groups then finish_groups: one pass, start to end."""
    return await finish_groups(client, rpc_url, await prepare_groups(client, minter, groups, signed, note), confirm_s)


@dataclass(frozen=True)
class _Found:
    signature: str
    slot: int
    last_hash: str | None


async def _ours(client: AsyncClient, group: Sequence[MintJob], mint: MeterMint) -> _Found | None:
    """A window the chain calls already minted is this row's mint when an earlier transaction
    that carried it landed, or when a mint event commits to exactly this reading."""
    ok = await landed(client, group[0].sent_signatures)
    if ok:
        sig, slot = next(iter(ok.items()))
        return _Found(sig, slot, None)  # which reading that transaction ended on is not known here
    digest = hashlib.sha256(mint.readings[-1].canonical).hexdigest()
    found = await find_mint(client, mint.meter, digest)
    return None if found is None else _Found(str(found.signature), found.slot, digest)

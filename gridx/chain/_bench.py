"""``gridx bench chain``: batched mint_for_reading through solana-py against a chain node.

Meters belong to a few prosumers; each transaction carries ``per_tx`` mints for distinct
meters of one owner (5 fit in a 1232-byte legacy transaction). Transactions are sent with
``concurrency`` in flight and confirmed in getSignatureStatuses batches, as the gateway's
mint worker does. Then ``double_attempts`` already-minted windows are sent again, one per
transaction: every one must be refused (``double_mints`` counts the ones that were not)."""

from __future__ import annotations

import asyncio
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from solders.keypair import Keypair
from solders.pubkey import Pubkey

from gridx.errors import ChainError

from ._bootstrap import bootstrap
from ._client import build_tx, confirm_signatures, latest_blockhash, send_and_confirm, send_tx
from ._ids import grxe_mint_pda
from ._ix import PROSUMER, build_mint_for_reading_ix, build_register_meter_ix, build_register_user_ix
from ._keys import load_keypair
from ._spl import create_ata_ix

__all__ = ["BenchConfig", "run_bench"]

WINDOW = 900
T0 = 1_764_000_000 - (1_764_000_000 % WINDOW)


@dataclass(frozen=True)
class BenchConfig:
    url: str
    mints: int = 5000
    per_tx: int = 5
    meters: int = 50
    owners: int = 5
    concurrency: int = 16
    double_attempts: int = 100


async def _setup(client: Any, cfg: BenchConfig, keys: Path) -> tuple[Keypair, list[tuple[Pubkey, list[Pubkey]]]]:
    await bootstrap(client, keys)
    authority = load_keypair(keys / "registry_authority.json")
    gateway = load_keypair(keys / "gateway_minter.json")
    owners = []
    for _ in range(cfg.owners):
        kp = Keypair()
        sig = (await client.request_airdrop(kp.pubkey(), 10**10)).value
        await confirm_signatures(client, [sig])
        await send_and_confirm(
            client,
            [build_register_user_ix(kp.pubkey(), PROSUMER), create_ata_ix(kp.pubkey(), kp.pubkey(), grxe_mint_pda())],
            [kp],
        )
        meters = [Keypair().pubkey() for _ in range(cfg.meters // cfg.owners)]
        for m in meters:
            ix = build_register_meter_ix(kp.pubkey(), authority.pubkey(), m, b"bench", 10_000)
            await send_and_confirm(client, [ix], [kp, authority])
        owners.append((kp.pubkey(), meters))
    return gateway, owners


def _plan(cfg: BenchConfig, owners: list[tuple[Pubkey, list[Pubkey]]]) -> list[list[tuple[Pubkey, Pubkey, int, int]]]:
    """Batches of (meter, owner, window_start, amount); window k of every meter, owner by owner."""
    batches: list[list[tuple[Pubkey, Pubkey, int, int]]] = []
    n = 0
    k = 0
    while n < cfg.mints:
        for owner, meters in owners:
            for i in range(0, len(meters), cfg.per_tx):
                take = min(cfg.per_tx, cfg.mints - n)
                if take <= 0:
                    return batches
                batch = [
                    (m, owner, T0 + k * WINDOW, 1000 + (n + j) % 1_000_000) for j, m in enumerate(meters[i : i + take])
                ]
                n += len(batch)
                batches.append(batch)
        k += 1
    return batches


async def _run(cfg: BenchConfig, keys: Path) -> dict[str, Any]:
    from solana.rpc.async_api import AsyncClient

    async with AsyncClient(cfg.url, timeout=60) as client:
        gateway, owners = await _setup(client, cfg, keys)
        batches = _plan(cfg, owners)
        supply_before = int((await client.get_token_supply(grxe_mint_pda())).value.amount)
        sem = asyncio.Semaphore(cfg.concurrency)
        failures: dict[str, int] = {}

        async def one(batch: list[tuple[Pubkey, Pubkey, int, int]], blockhash: Any) -> Any:
            ixs = [build_mint_for_reading_ix(gateway.pubkey(), m, o, ws, 900, a) for m, o, ws, a in batch]
            async with sem:
                try:
                    return await send_tx(client, build_tx(ixs, [gateway], blockhash))
                except ChainError as exc:
                    failures[str(exc.code)] = failures.get(str(exc.code), 0) + 1
                    return None

        t = time.perf_counter()
        sigs: list[Any] = []
        chunk = 256  # one blockhash per chunk, refreshed as a real sender would
        for i in range(0, len(batches), chunk):
            bh = await latest_blockhash(client)
            sigs += await asyncio.gather(*(one(b, bh) for b in batches[i : i + chunk]))
        results = await confirm_signatures(client, [s for s in sigs if s is not None])
        elapsed = time.perf_counter() - t
        for e in results.values():
            if e is not None:
                failures[str(e)] = failures.get(str(e), 0) + 1
        minted = sum(a for b in batches for *_, a in b)
        supply = int((await client.get_token_supply(grxe_mint_pda())).value.amount) - supply_before

        # double mints: already-minted windows again, each alone, preflight on and off
        ok = {s for s, e in results.items() if e is None}
        done = [m for b, s in zip(batches, sigs, strict=True) if s in ok for m in b][: cfg.double_attempts]
        doubles = 0
        for i, (m, o, ws, a) in enumerate(done):
            ix = build_mint_for_reading_ix(gateway.pubkey(), m, o, ws, 900, a)
            tx = build_tx([ix], [gateway], await latest_blockhash(client))
            try:
                if i % 2:
                    from solana.rpc.types import TxOpts

                    sig = (
                        await client.send_raw_transaction(
                            bytes(tx), TxOpts(skip_preflight=True, skip_confirmation=True)
                        )
                    ).value
                    if (await confirm_signatures(client, [sig]))[sig] is None:
                        doubles += 1
                else:
                    await send_tx(client, tx)
                    doubles += 1
            except ChainError as exc:
                if exc.code != "AlreadyMinted":
                    raise
        return {
            "mints": sum(len(b) for b in batches),
            "per_tx": cfg.per_tx,
            "transactions": len(batches),
            "failed_transactions": sum(failures.values()),
            "failures": failures,
            "seconds": round(elapsed, 3),
            "mints_per_s": round(sum(len(b) for b in batches) / elapsed, 1),
            "tx_per_s": round(len(batches) / elapsed, 1),
            "supply_matches": supply == minted,
            "double_mint_attempts": len(done),
            "double_mints": doubles,
        }


def run_bench(cfg: BenchConfig, keys_dir: Path | None = None) -> dict[str, Any]:
    if keys_dir is not None:
        return asyncio.run(_run(cfg, keys_dir))
    with tempfile.TemporaryDirectory(prefix="gridx-bench-keys-") as tmp:
        return asyncio.run(_run(cfg, Path(tmp)))

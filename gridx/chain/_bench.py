"""``gridx bench chain``: batched mint_for_reading through solana-py against a chain node.

Meters belong to a few prosumers; the mints go through ``mint_batch``, the gateway's own path:
dedup PDAs pre-checked, ``per_tx`` mints of one owner per transaction (5 fit in a 1232-byte
legacy transaction), ``concurrency`` transactions in flight, confirmed in batches.
Then ``double_attempts`` already-minted windows are sent again, one per transaction
(preflight on and off), and through ``mint_batch`` again: every one must be refused
(``double_mints`` counts the ones that were not)."""

from __future__ import annotations

import asyncio
import tempfile
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from solders.keypair import Keypair
from solders.pubkey import Pubkey

from gridx.errors import ChainError

from ._bench_pubsub import pubsub_figures
from ._bootstrap import bootstrap
from ._client import build_tx, confirm_signatures, latest_blockhash, send_and_confirm, send_tx
from ._ids import grxe_mint_pda
from ._ix import PROSUMER, build_mint_for_reading_ix, build_register_meter_ix, build_register_user_ix
from ._keys import load_keypair
from ._mint import MintOutcome, MintRequest, MintStatus, mint_batch
from ._spl import create_ata_ix

__all__ = ["BenchConfig", "run_bench"]

WINDOW = 900
T0 = 1_764_000_000 - (1_764_000_000 % WINDOW)
_SLICE = 1000  # requests per mint_batch call, as a gateway drains its outbox


@dataclass(frozen=True)
class BenchConfig:
    url: str
    mints: int = 5000
    per_tx: int = 5
    meters: int = 50
    owners: int = 5
    concurrency: int = 16
    double_attempts: int = 100
    pubsub: bool = True  # confirmation latency through signatureSubscribe, notifications/s to 100 subscribers


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
    from solana.rpc.types import TxOpts

    async with AsyncClient(cfg.url, timeout=60) as client:
        gateway, owners = await _setup(client, cfg, keys)
        reqs = [MintRequest(m, o, ws, WINDOW, a) for b in _plan(cfg, owners) for m, o, ws, a in b]
        supply_before = int((await client.get_token_supply(grxe_mint_pda())).value.amount)

        # the gateway's path: mint_batch (PDA pre-check, 5 per tx, concurrent send, batched confirm)
        t = time.perf_counter()
        outcomes: list[MintOutcome] = []
        for i in range(0, len(reqs), _SLICE):
            outcomes += await mint_batch(client, gateway, reqs[i : i + _SLICE], cfg.per_tx, cfg.concurrency)
        elapsed = time.perf_counter() - t
        statuses = Counter(o.status.value for o in outcomes)
        minted = sum(o.request.amount for o in outcomes if o.status is MintStatus.MINTED)
        supply = int((await client.get_token_supply(grxe_mint_pda())).value.amount) - supply_before

        # double mints: already-minted windows again, raw (no pre-check), alternating preflight on/off
        done = [o.request for o in outcomes if o.status is MintStatus.MINTED][: cfg.double_attempts]
        doubles = 0
        for i, r in enumerate(done):
            ix = build_mint_for_reading_ix(gateway.pubkey(), r.meter, r.owner, r.window_start, WINDOW, r.amount)
            tx = build_tx([ix], [gateway], await latest_blockhash(client))
            try:
                if i % 2:
                    opts = TxOpts(skip_preflight=True, skip_confirmation=True)
                    sig = (await client.send_raw_transaction(bytes(tx), opts)).value
                    doubles += (await confirm_signatures(client, [sig]))[sig] is None
                else:
                    await send_tx(client, tx)
                    doubles += 1
            except ChainError as exc:
                if exc.code != "AlreadyMinted":
                    raise
        again = await mint_batch(client, gateway, done)
        n_tx = -(-len(reqs) // cfg.per_tx)
        # after the mint figure, so it is measured as before: PubSub latency and fan-out
        samples = min(200, cfg.mints)  # a short run (a smoke test) measures briefly too
        pubsub = await pubsub_figures(client, cfg.url, samples) if cfg.pubsub else {}
        return {
            "mints": len(reqs),
            "per_tx": cfg.per_tx,
            "transactions": n_tx,
            "outcomes": dict(statuses),
            "seconds": round(elapsed, 3),
            "mints_per_s": round(statuses.get("minted", 0) / elapsed, 1),
            "tx_per_s": round(n_tx / elapsed, 1),
            "supply_matches": supply == minted,
            "double_mint_attempts": len(done),
            "double_mints": doubles + sum(o.status is MintStatus.MINTED for o in again),
            **pubsub,
        }


def run_bench(cfg: BenchConfig, keys_dir: Path | None = None) -> dict[str, Any]:
    if keys_dir is not None:
        return asyncio.run(_run(cfg, keys_dir))
    with tempfile.TemporaryDirectory(prefix="gridx-bench-keys-") as tmp:
        return asyncio.run(_run(cfg, Path(tmp)))

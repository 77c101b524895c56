"""``gridx bench chain``: meter-signed mints through ``send_mints``, the worker's own path.

Meters (1-second interval, so windows after their enrolment end within seconds) sign one
reading per window; each meter's pending windows go together in one transaction (``per_tx``
at most), one transaction per meter in flight, sent in JSON-RPC batches and confirmed
together. Then ``double_attempts`` minted transactions are sent again (re-signed, so the
chain's high-water mark, not signature dedup, must refuse them): ``double_mints`` counts any
that were not refused. Compute units per reading come from the node's transaction records."""

from __future__ import annotations

import asyncio
import tempfile
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from nacl.signing import SigningKey
from solders.keypair import Keypair
from solders.pubkey import Pubkey

from gridx.services import cpu_seconds
from gridx.wire import GENESIS_HASH, UnsignedReading, reading_hash, sign_reading

from ._bench_pubsub import pubsub_figures
from ._bootstrap import authorize_edge, bootstrap
from ._client import confirm_signatures, rpc_call, send_and_confirm
from ._ids import grxe_mint_pda
from ._ix import PROSUMER, build_register_meter_ixs, build_register_user_ix
from ._keys import load_keypair
from ._mint import MeterMint, mintable_prefix, send_mints
from ._signed import SignedReading, sign_enrolment, signed_reading
from ._spl import create_ata_ix

__all__ = ["BenchConfig", "run_bench"]

EDGE = "bench"
INTERVAL = 1
RATED_W = 3_600_000  # 1 kWh per second


@dataclass(frozen=True)
class BenchConfig:
    url: str
    mints: int = 5000
    per_tx: int = 4  # windows of one meter per transaction
    meters: int = 250
    owners: int = 5
    concurrency: int = 16  # kept for the CLI; sending is batched
    double_attempts: int = 100
    pubsub: bool = True  # confirmation latency through signatureSubscribe, notifications/s to 100 subscribers
    node_pid: int | None = None  # a local node's process: its CPU per transaction is reported


async def _setup(client: Any, cfg: BenchConfig, keys: Path) -> tuple[Keypair, list[tuple[Pubkey, SigningKey]]]:
    await bootstrap(client, keys)
    await authorize_edge(client, EDGE, keys)
    authority = load_keypair(keys / "registry_authority.json")
    gateway = load_keypair(keys / "gateway_minter.json")
    meters: list[tuple[Pubkey, SigningKey]] = []
    for _ in range(cfg.owners):
        kp = Keypair()
        sig = (await client.request_airdrop(kp.pubkey(), 10**10)).value
        await confirm_signatures(client, [sig])
        ixs = [build_register_user_ix(kp.pubkey(), PROSUMER), create_ata_ix(kp.pubkey(), kp.pubkey(), grxe_mint_pda())]
        await send_and_confirm(client, ixs, [kp])
        for _ in range(max(1, min(cfg.meters, cfg.mints) // cfg.owners)):
            key = SigningKey.generate()
            m = Pubkey.from_bytes(key.verify_key.encode())
            proof = sign_enrolment(key, kp.pubkey(), EDGE)
            ixs = build_register_meter_ixs(kp.pubkey(), authority.pubkey(), m, EDGE.encode(), RATED_W, INTERVAL, proof)
            await send_and_confirm(client, ixs, [kp, authority])
            meters.append((kp.pubkey(), key))
    return gateway, meters


def _sign(meters: list[tuple[Pubkey, SigningKey]], per_meter: int, start: int) -> list[list[SignedReading]]:
    out: list[list[SignedReading]] = []
    for i, (_, key) in enumerate(meters):
        prev, rs = GENESIS_HASH, []
        for w in range(per_meter):
            u = UnsignedReading(
                meter_id=f"b{i}",
                seq=w + 1,
                window_start=start + w * INTERVAL,
                window_end=start + (w + 1) * INTERVAL,
                produced_wh=100 + (i + w) % 100,
                consumed_wh=10,
                produced_total_wh=(w + 1) * 200,
                consumed_total_wh=(w + 1) * 10,
                prev_hash=prev,
            )
            prev = reading_hash(u)
            rs.append(signed_reading(sign_reading(u, key)))
        out.append(rs)
    return out


async def _units(client: Any, sigs: list[Any]) -> list[int]:
    out = []
    for sig in sigs:
        tx = (await rpc_call(client.get_transaction(sig, max_supported_transaction_version=0))).value
        if tx is not None and tx.transaction.meta is not None:
            out.append(int(tx.transaction.meta.compute_units_consumed or 0))
    return out


def _node_cpu(seconds: float, txs: int, readings: int) -> dict[str, float]:
    """The local node's own CPU (HTTP, Python, LiteSVM) per mint transaction and per reading: a
    mint's cost is mostly per transaction, so this says what packing more readings buys."""
    ms = seconds * 1000
    return {
        "node_cpu_ms_per_tx": round(ms / max(1, txs), 3),
        "node_cpu_ms_per_reading": round(ms / max(1, readings), 3),
    }


async def _run(cfg: BenchConfig, keys: Path) -> dict[str, Any]:
    from solana.rpc.async_api import AsyncClient

    async with AsyncClient(cfg.url, timeout=60) as client:
        gateway, meters = await _setup(client, cfg, keys)
        per_meter = max(1, -(-cfg.mints // len(meters)))
        start = int(time.time()) + 1
        signed = _sign(meters, per_meter, start)
        await asyncio.sleep(max(0.0, start + per_meter * INTERVAL + 1 - time.time()))  # all windows ended
        supply_before = int((await client.get_token_supply(grxe_mint_pda())).value.amount)
        expected = sum(100 + (i + w) % 100 - 10 for i in range(len(meters)) for w in range(per_meter))
        t = time.perf_counter()
        node_cpu = cpu_seconds(cfg.node_pid) if cfg.node_pid else 0.0
        statuses: Counter[str] = Counter()
        done: list[MeterMint] = []
        sigs = []
        pos = [0] * len(meters)
        while any(p < per_meter for p in pos):  # one transaction per meter in flight
            mints = []
            for i, (owner, key) in enumerate(meters):
                if pos[i] < per_meter:
                    m = MeterMint(
                        Pubkey.from_bytes(key.verify_key.encode()),
                        owner,
                        EDGE,
                        tuple(signed[i][pos[i] : pos[i] + cfg.per_tx]),
                    )
                    n = mintable_prefix(gateway.pubkey(), m)  # what fits in 1232 bytes
                    mints.append(MeterMint(m.meter, owner, EDGE, m.readings[:n]))
                    pos[i] += n
            for res in await send_mints(client, cfg.url, gateway, mints):
                code = "minted" if res.error is None else (res.error.code or "Unknown")
                statuses[code] += len(res.mint.readings)
                if res.error is None:
                    done.append(res.mint)
                    sigs.append(res.signature)
        elapsed = time.perf_counter() - t
        node_cpu = cpu_seconds(cfg.node_pid) - node_cpu if cfg.node_pid else 0.0
        supply = int((await client.get_token_supply(grxe_mint_pda())).value.amount) - supply_before
        again = done[: cfg.double_attempts]
        doubles = 0
        for i in range(0, len(again), 64):
            doubles += sum(r.error is None for r in await send_mints(client, cfg.url, gateway, again[i : i + 64]))
        units = await _units(client, sigs[:50])
        readings_sampled = sum(len(m.readings) for m in done[:50])
        # after the mint figure, so it is measured as before: PubSub latency and fan-out
        samples = min(200, cfg.mints)  # a short run (a smoke test) measures briefly too
        pubsub = await pubsub_figures(client, cfg.url, samples) if cfg.pubsub else {}
        return {
            "mints": sum(len(rs) for rs in signed),
            "per_tx": cfg.per_tx,
            "transactions": len(done),
            "outcomes": dict(statuses),
            "seconds": round(elapsed, 3),
            "mints_per_s": round(statuses.get("minted", 0) / elapsed, 1),
            "tx_per_s": round(len(done) / elapsed, 1),
            "cu_per_reading": round(sum(units) / readings_sampled) if readings_sampled else None,
            **(_node_cpu(node_cpu, len(done), statuses.get("minted", 0)) if cfg.node_pid else {}),
            "supply_matches": supply == expected * 1000,
            "double_mint_attempts": len(again),
            "double_mints": doubles,
            **pubsub,
        }


def run_bench(cfg: BenchConfig, keys_dir: Path | None = None) -> dict[str, Any]:
    if keys_dir is not None:
        return asyncio.run(_run(cfg, keys_dir))
    with tempfile.TemporaryDirectory(prefix="gridx-bench-keys-") as tmp:
        return asyncio.run(_run(cfg, Path(tmp)))

"""PubSub figures of ``gridx bench chain`` (printed, never asserted): confirmation latency as a
wallet sees it (send, then ``signatureSubscribe``, until the notification) and the rate of
``logsNotification`` the node sustains to ``subscribers`` connections at once."""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

from solders.keypair import Keypair
from solders.system_program import TransferParams, transfer

from ._client import airdrop, build_tx, latest_blockhash
from ._follow import pubsub_url

__all__ = ["pubsub_figures"]


async def _send(client: Any, payer: Keypair, lamports: int, blockhash: Any) -> str:
    from solana.rpc.types import TxOpts

    ix = transfer(TransferParams(from_pubkey=payer.pubkey(), to_pubkey=payer.pubkey(), lamports=lamports))
    tx = build_tx([ix], [payer], blockhash)
    return str((await client.send_raw_transaction(bytes(tx), TxOpts(skip_confirmation=True))).value)


async def _latency(client: Any, ws_url: str, payer: Keypair, n: int) -> list[float]:
    from websockets.asyncio.client import connect

    out = []
    async with connect(ws_url, compression=None) as ws:
        blockhash = await latest_blockhash(client)
        for i in range(n):
            t = time.perf_counter()
            sig = await _send(client, payer, 1 + i, blockhash)
            await ws.send(json.dumps({"jsonrpc": "2.0", "id": i, "method": "signatureSubscribe", "params": [sig]}))
            while json.loads(await ws.recv()).get("method") != "signatureNotification":
                pass
            out.append(time.perf_counter() - t)
    return out


async def _fan_out(client: Any, ws_url: str, payer: Keypair, subscribers: int, n: int) -> float:
    """Notifications per second delivered to ``subscribers`` connections for ``n`` transactions."""
    from websockets.asyncio.client import connect

    conns = [await connect(ws_url, compression=None) for _ in range(subscribers)]
    try:
        req = {"jsonrpc": "2.0", "id": 1, "method": "logsSubscribe", "params": [{"mentions": [str(payer.pubkey())]}]}
        for ws in conns:
            await ws.send(json.dumps(req))
            await ws.recv()

        async def count(ws: Any) -> None:
            for _ in range(n):
                await ws.recv()

        blockhash = await latest_blockhash(client)
        t = time.perf_counter()
        readers = [asyncio.create_task(count(ws)) for ws in conns]
        for i in range(n):
            await _send(client, payer, 10_000 + i, blockhash)
        await asyncio.gather(*readers)
        return subscribers * n / (time.perf_counter() - t)
    finally:
        for ws in conns:
            await ws.close()


async def pubsub_figures(client: Any, rpc_url: str, samples: int = 200, subscribers: int = 100) -> dict[str, Any]:
    payer = Keypair()
    await airdrop(client, payer.pubkey(), 10**10)
    ws_url = pubsub_url(rpc_url)
    lat = sorted(await _latency(client, ws_url, payer, samples))
    rate = await _fan_out(client, ws_url, payer, subscribers, samples)
    return {
        "confirm_latency_ms_p50": round(lat[len(lat) // 2] * 1000, 2),
        "confirm_latency_ms_p95": round(lat[int(len(lat) * 0.95)] * 1000, 2),
        "notifications_per_s": round(rate),
        "notification_subscribers": subscribers,
    }

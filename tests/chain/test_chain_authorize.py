"""Authorising an edge's minter on chain (``gridx.chain.authorize_edge``), against the local
node with the real SBF programs."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest
from solana.rpc.async_api import AsyncClient

import gridx.chain as c
from gridx.chain import bootstrap


@pytest.fixture
def node() -> Iterator[c.LocalNode]:
    n = c.LocalNode.start(c.NodeConfig())
    yield n
    n.stop()


async def test_authorize_edge_side_by_side(node: c.LocalNode, tmp_path: Path) -> None:
    """Callers that authorise one edge at once (a benchmark's users minting in parallel) all
    succeed: those whose add_minter is refused because another's landed first find the minter
    account and return."""
    keys = tmp_path / "k"
    async with AsyncClient(node.url) as cl:
        await bootstrap(cl, keys)

    async def one() -> None:
        async with AsyncClient(node.url) as cl:
            await c.authorize_edge(cl, "edge-race", keys)

    await asyncio.gather(*(one() for _ in range(4)))
    gateway = c.load_keypair(keys / "gateway_minter.json")
    async with AsyncClient(node.url) as cl:
        assert await c.fetch_account(cl, c.minter_pda(gateway.pubkey(), "edge-race")) is not None

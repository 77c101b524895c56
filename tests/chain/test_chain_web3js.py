"""The Node test (tests/node/rpc.test.mjs): the local node with @solana/web3.js and
@solana/spl-token as pinned in tests/node/package-lock.json (installed by scripts/setup.sh),
against a node started here with a fast slot clock so blockhash expiry is seen in seconds."""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from solana.rpc.async_api import AsyncClient

import gridx.chain as c

NODE_TESTS = Path(__file__).resolve().parents[1] / "node"


@pytest.fixture
def node() -> Iterator[c.LocalNode]:
    n = c.LocalNode.start(c.NodeConfig(slot_ms=40))  # 150 blocks in ~6 s
    yield n
    n.stop()


def test_web3js_and_spl_token_against_the_node(node: c.LocalNode, tmp_path: Path) -> None:
    node_bin = shutil.which("node")
    assert node_bin, "node is not installed: run scripts/setup.sh"
    assert (NODE_TESTS / "node_modules" / "@solana" / "web3.js").is_dir(), "run scripts/setup.sh (npm ci)"

    async def boot() -> None:
        async with AsyncClient(node.url) as client:
            await c.bootstrap(client, tmp_path / "keys")  # the registry the test's onLogs watches

    asyncio.run(boot())
    env = dict(os.environ, GRIDX_RPC_URL=node.url, GRIDX_REGISTRY_ID=str(c.program_ids().registry))
    proc = subprocess.run(
        [node_bin, "--test", "--test-reporter=spec", str(NODE_TESTS)],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stdout[-6000:] + proc.stderr[-3000:]

"""The mint service never keeps running with a dead task: its supervisor must see it exit."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from gateway.mint import MintSettings
from gateway.mint._service import run_mint_service
from gridx.errors import ServiceError
from gridx.services import free_port


@pytest.mark.parametrize("workers", [1, 2])
def test_a_task_that_dies_ends_the_service_with_an_error(tmp_path: Path, workers: int) -> None:
    from solders.keypair import Keypair

    from gridx.chain import save_keypair

    save_keypair(tmp_path / "minter.json", Keypair())
    dead = f"postgresql://gridx@127.0.0.1:{free_port()}/nowhere?connect_timeout=2"  # nothing listens
    settings = MintSettings(
        dsn=dead, rpc_url=f"http://127.0.0.1:{free_port()}", minter_keypair=tmp_path / "minter.json", workers=workers
    )

    async def run() -> None:
        await asyncio.wait_for(run_mint_service(settings, asyncio.Event()), 30)

    with pytest.raises(ServiceError, match="ended"):
        asyncio.run(run())

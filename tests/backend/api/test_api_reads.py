"""``AccountReader``: concurrent balance checks share ``getMultipleAccounts`` calls and each
gets exactly what a lone ``getAccountInfo`` would have returned (on the real local node)."""

from __future__ import annotations

import asyncio

from solders.keypair import Keypair
from solders.pubkey import Pubkey

import gridx.chain as c
from backend._reads import AccountReader
from tests.backend.api.conftest import UNIT, Stack


def test_concurrent_reads_coalesce_and_agree_with_single_reads(stack: Stack) -> None:
    cl = stack.user("consumer")
    cl.faucet(7 * UNIT)
    dep = c.load_deployment(stack.keys)
    keys = dep.market_keys()
    grx = c.ata_address(Pubkey.from_string(cl.wallet), Pubkey.from_string(dep.payment_mint))
    addresses = [keys.energy_vault, keys.payment_vault, keys.address, grx, Keypair().pubkey()] * 20

    async def go(client: object) -> tuple[list[bytes | None], list[bytes | None], list[int], int]:
        reader = AccountReader(stack.rpc_url)
        try:
            together = await asyncio.gather(*(reader.account(a) for a in addresses))
            balances = await asyncio.gather(reader.token_balance(grx), reader.token_balance(Keypair().pubkey()))
        finally:
            await reader.rpc.close()
        alone = [await c.fetch_account(client, a) for a in addresses[:5]]  # type: ignore[arg-type]
        return list(together), alone, list(balances), reader.calls

    together, alone, balances, calls = c.run_on_chain(stack.rpc_url, go)
    assert together == alone * 20
    assert together[4] is None and together[3] is not None  # a missing account, an existing one
    assert balances == [7 * UNIT, 0]
    assert calls < len(addresses) // 2, calls  # 100 reads waited together for a few calls

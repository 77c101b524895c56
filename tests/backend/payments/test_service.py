"""The payment operations behind the API's THB endpoints, driven as a wallet would: the buyer's
EVM wallet signs the unsigned transactions it is given; a wrong secret is refused; status shows
every step and never the secret; history lists the swap for both parties."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from solana.rpc.async_api import AsyncClient

from backend.payments import (
    SwapRefused,
    buyer_lock_txs,
    open_swap,
    quote,
    relay_once,
    request_claim,
    swap_history,
    swap_view,
)
from backend.payments._chains import LiveChains
from gridx.db import connect

from .stack import FAST, RATE, SEED_PRICE, SELL_ORDER_ID, MovableClock, Stack, build_stack, secret

THBC = 10**6


@pytest.fixture
def stack(tmp_path: Path, pg_dsn: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[Stack]:
    s = build_stack(tmp_path, pg_dsn, MovableClock(), monkeypatch)
    yield s
    s.node.stop()
    s.anvil.stop()


def _both_locked(stack: Stack, conn: Any) -> tuple[Any, bytes]:
    """The seed's THB swap opened, B's THBC and A's GRXE locked; the swap and B's secret."""
    import hashlib

    evm = stack.contracts.evm
    q = quote(15 * 10**6, SEED_PRICE, RATE, evm.now(), FAST)
    assert (q.thbc, q.grx) == (450 * THBC, 45 * 10**6)
    s = secret()  # made and kept by the buyer's client
    rec = open_swap(
        conn, q, buyer_wallet=str(stack.buyer.pubkey()), seller_wallet=str(stack.seller.pubkey()),
        buyer_evm=stack.buyer_evm.address, seller_evm=stack.seller_evm.address,
        sell_order_id=SELL_ORDER_ID, hashlock=hashlib.sha256(s).digest(),
    )  # fmt: skip
    for tx in buyer_lock_txs(stack.contracts, rec):  # the wallet fills nonce, gas, fees and signs
        tx = {**tx, "nonce": evm.w3.eth.get_transaction_count(stack.buyer_evm.address), "gas": 300_000}
        tx |= {"maxFeePerGas": 10**10, "maxPriorityFeePerGas": 10**9}
        signed = stack.buyer_evm.sign_transaction(tx)
        assert evm.w3.eth.wait_for_transaction_receipt(evm.w3.eth.send_raw_transaction(signed.raw_transaction))[
            "status"
        ]
    stack.seller_locks(rec)
    return rec, s


def test_thb_buy_through_the_service(stack: Stack) -> None:
    with connect(stack.dsn, autocommit=True) as conn:
        rec, s = _both_locked(stack, conn)
        with pytest.raises(SwapRefused, match="wrong_secret"):
            request_claim(conn, rec.swap_id, secret())
        with pytest.raises(SwapRefused, match="bad_secret_length"):
            request_claim(conn, rec.swap_id, s + b"\0")
        request_claim(conn, rec.swap_id, s)

        async def relay() -> None:
            async with AsyncClient(stack.node.url) as client:
                chains = LiveChains(stack.contracts, client, stack.world.market, stack.relayer_evm, stack.relayer_sol)
                for _ in range(3):
                    await relay_once(conn, chains)

        asyncio.run(relay())
        view = swap_view(conn, rec.swap_id)
        assert view["status"] == "completed" and "buyer_secret" not in view
        assert view["steps"][0]["step"] == "quoted"
        assert any(st["detail"].get("action") == "claim_evm" for st in view["steps"])
        assert [h["swap_id"] for h in swap_history(conn, str(stack.seller.pubkey()))] == [str(rec.swap_id)]
        assert [h["swap_id"] for h in swap_history(conn, str(stack.buyer.pubkey()))] == [str(rec.swap_id)]
    assert stack.thbc(stack.seller_evm) == 450 * THBC


class _FlakyChains(LiveChains):
    """The real chains, with one unexpected failure injected into the first observation."""

    failures = 1

    async def observe(self, s: Any) -> Any:
        if self.failures:
            self.failures -= 1
            raise RuntimeError("injected: an answer nobody expected")
        return await super().observe(s)


def test_an_unexpected_error_costs_one_round_of_one_swap(stack: Stack) -> None:
    """A surprise from a node or a library ends neither the relayer nor the swap: it is counted
    by name and the swap completes in a later round."""
    from backend.payments._relayer import SWAP_ERRORS

    before = SWAP_ERRORS.labels("RuntimeError")._value.get()
    with connect(stack.dsn, autocommit=True) as conn:
        rec, s = _both_locked(stack, conn)
        request_claim(conn, rec.swap_id, s)

        async def relay() -> None:
            async with AsyncClient(stack.node.url) as client:
                chains = _FlakyChains(stack.contracts, client, stack.world.market, stack.relayer_evm, stack.relayer_sol)
                assert await relay_once(conn, chains) == []  # the injected failure: no raise
                for _ in range(3):
                    await relay_once(conn, chains)

        asyncio.run(relay())
        assert swap_view(conn, rec.swap_id)["status"] == "completed"
    assert SWAP_ERRORS.labels("RuntimeError")._value.get() == before + 1
    assert stack.thbc(stack.seller_evm) == 450 * THBC

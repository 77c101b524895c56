"""Account reads coalesced: requests for accounts that arrive while a ``getMultipleAccounts``
call is in flight wait for the next call and share it. Under load one RPC serves many
requests (a JSON-RPC round trip is still the dearest part of an order's preparation after the
database); an idle API still makes one call per request at once. No answer is
older than its request: each comes from a call started after the request arrived."""

from __future__ import annotations

import asyncio

from solders.pubkey import Pubkey

from gridx.chain import AccountsRpc, token_account_amount

__all__ = ["AccountReader"]


class AccountReader:
    def __init__(self, rpc_url: str) -> None:
        self.rpc = AccountsRpc(rpc_url)
        self._waiting: dict[Pubkey, list[asyncio.Future[bytes | None]]] = {}
        self._busy = False
        self.calls = 0  # RPC calls made (the bench reports requests per call)

    async def account(self, address: Pubkey) -> bytes | None:
        """The account's data, or None where it does not exist (or holds no lamports)."""
        fut: asyncio.Future[bytes | None] = asyncio.get_running_loop().create_future()
        self._waiting.setdefault(address, []).append(fut)
        if not self._busy:
            self._busy = True
            asyncio.get_running_loop().create_task(self._drain())
        return await fut

    async def token_balance(self, token_account: Pubkey) -> int:
        data = await self.account(token_account)
        return 0 if data is None else token_account_amount(data)

    async def _drain(self) -> None:
        try:
            while self._waiting:
                batch = dict(list(self._waiting.items())[: AccountsRpc.MAX_ACCOUNTS])
                for address in batch:
                    del self._waiting[address]
                await self._fetch(batch)
        finally:
            self._busy = False

    async def _fetch(self, batch: dict[Pubkey, list[asyncio.Future[bytes | None]]]) -> None:
        self.calls += 1
        try:
            accounts = await self.rpc.get(list(batch))
        except BaseException as exc:  # every waiter gets the error (chain unreachable, ...)
            for futs in batch.values():
                for f in futs:
                    if not f.done():
                        f.set_exception(exc)
            if not isinstance(exc, Exception):
                raise
            return
        for data, futs in zip(accounts, batch.values(), strict=True):
            for f in futs:
                if not f.done():
                    f.set_result(data)

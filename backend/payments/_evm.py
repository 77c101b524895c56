"""The EVM side through web3.py: deploy, send, read, with a confirmations setting honoured
everywhere (a receipt counts only once ``confirmations`` more blocks sit on top of it)."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from eth_account.signers.local import LocalAccount
from web3 import Web3
from web3.contract import Contract
from web3.contract.contract import ContractFunction
from web3.exceptions import ContractCustomError, ContractLogicError, TimeExhausted
from web3.types import TxReceipt

from backend.payments._contracts import compile_contract
from backend.payments._errors import EvmReverted, EvmTimeout, EvmUnreachable

__all__ = ["Evm", "EvmSettings", "unreachable_as_error"]


@dataclass(frozen=True)
class EvmSettings:
    """``rpc_url``: any Ethereum JSON-RPC endpoint. ``confirmations``: blocks required on top of a
    transaction's block before it counts (0 on anvil, which has instant finality; more on a
    public chain). ``receipt_timeout_s``: how long a send waits before giving up."""

    rpc_url: str
    confirmations: int = 0
    receipt_timeout_s: float = 60.0


def _revert_reason(exc: Exception) -> str:
    msg = getattr(exc, "message", None) or str(exc)
    return msg.replace("execution reverted: ", "").strip("'\" ")


def unreachable_as_error(exc: BaseException) -> EvmUnreachable | None:
    """A transport failure of web3 (requests/aiohttp/socket) as our named error, else None."""
    import requests

    if isinstance(exc, requests.RequestException | OSError):
        return EvmUnreachable(f"{type(exc).__name__}: {exc}")
    return None


class Evm:
    def __init__(self, settings: EvmSettings) -> None:
        self.settings = settings
        self.w3 = Web3(Web3.HTTPProvider(settings.rpc_url, request_kwargs={"timeout": 30}))

    @property
    def chain_id(self) -> int:
        return int(self.w3.eth.chain_id)

    def now(self) -> int:
        """The chain's own clock: the latest block's timestamp (deadlines are in this clock)."""
        return int(self.w3.eth.get_block("latest")["timestamp"])

    def final_block(self) -> int:
        """The newest block that has the configured confirmations on top of it."""
        return max(0, int(self.w3.eth.block_number) - self.settings.confirmations)

    def contract(self, name: str, address: str) -> Contract:
        return self.w3.eth.contract(address=Web3.to_checksum_address(address), abi=compile_contract(name).abi)

    def deploy(self, account: LocalAccount, name: str, *args: Any) -> Contract:
        c = compile_contract(name)
        factory = self.w3.eth.contract(abi=c.abi, bytecode=c.bytecode)
        receipt = self._send(account, factory.constructor(*args).build_transaction({"from": account.address}))
        return self.contract(name, str(receipt["contractAddress"]))

    def transact(self, account: LocalAccount, fn: ContractFunction) -> TxReceipt:
        """Estimate (a revert surfaces here as EvmReverted with the contract's reason), sign, send
        and wait for the configured confirmations."""
        try:
            tx = fn.build_transaction({"from": account.address})
        except (ContractLogicError, ContractCustomError) as exc:
            raise EvmReverted(_revert_reason(exc)) from exc
        return self._send(account, tx)

    def _send(self, account: LocalAccount, tx: Any) -> TxReceipt:
        tx = dict(tx)
        tx["nonce"] = self.w3.eth.get_transaction_count(account.address, "pending")
        tx.setdefault("chainId", self.chain_id)
        signed = account.sign_transaction(tx)
        tx_hash = self.w3.eth.send_raw_transaction(signed.raw_transaction)
        try:
            receipt = self.w3.eth.wait_for_transaction_receipt(tx_hash, timeout=self.settings.receipt_timeout_s)
        except TimeExhausted as exc:
            raise EvmTimeout(f"no receipt for {tx_hash.hex()} after {self.settings.receipt_timeout_s}s") from exc
        if receipt["status"] != 1:
            raise EvmReverted(f"transaction {tx_hash.hex()} reverted")
        self.wait_final(int(receipt["blockNumber"]))
        return receipt

    def wait_final(self, block: int) -> None:
        deadline = time.monotonic() + self.settings.receipt_timeout_s
        while self.final_block() < block:
            if time.monotonic() > deadline:
                raise EvmTimeout(f"block {block} not final after {self.settings.receipt_timeout_s}s")
            time.sleep(0.2)

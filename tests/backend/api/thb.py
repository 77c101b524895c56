"""Helpers of the THB payment tests over HTTP: the parties' EVM wallets (Sign-In-With-Ethereum
links, sending the unsigned transactions the API returns), sell orders, and refusals."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from eth_account.messages import encode_defunct
from eth_account.signers.local import LocalAccount

from backend.payments import HtlcContracts, issue_link, link_evm_address
from gridx.client import ApiProblem, TradingClient
from gridx.db import connect
from tests.backend.api.conftest import Stack
from tests.helpers.gateway import wait_until

ETH, THBC = 10**18, 10**6


def link_over_http(client: TradingClient, acct: LocalAccount) -> dict[str, Any]:
    """What a user's EVM wallet does to link itself: sign the challenge the API issues."""
    ch = client.request("POST", "/payments/evm-links/challenge", json={"address": acct.address})
    sig = "0x" + acct.sign_message(encode_defunct(text=ch["message"])).signature.hex()
    body = {"nonce": ch["nonce"], "message": ch["message"], "signature": sig}
    out: dict[str, Any] = client.request("POST", "/payments/evm-links", json=body)
    return out


def link(stack: Stack, wallet: str, acct: LocalAccount) -> None:
    """B's EVM wallet signs the Sign-In-With-Ethereum message (the key never leaves the client)."""
    now = datetime.now(UTC)
    with connect(stack.dsn, autocommit=True) as conn:
        msg = issue_link(conn, "gridx.test", "http://gridx.test", wallet, acct.address, 31337, now)
        nonce = next(line.split(": ", 1)[1] for line in msg.splitlines() if line.startswith("Nonce: "))
        sig = "0x" + acct.sign_message(encode_defunct(text=msg)).signature.hex()
        link_evm_address(conn, "gridx.test", "http://gridx.test", 31337, nonce, msg, sig, now)


def open_sell(seller: TradingClient, grxe: int, price: int) -> int:
    order_id = int(seller.sell(grxe, price)["order_id"])
    wait_until(lambda: seller.get_order(order_id)["status"] == "open", 20, "the indexer opened the order")
    return order_id


def refused(call: Any) -> tuple[int, str]:
    with pytest.raises(ApiProblem) as exc:
        call()
    assert exc.value.body["type"].endswith(exc.value.code)
    return exc.value.status, exc.value.code


def send(contracts: HtlcContracts, acct: LocalAccount, tx: dict[str, Any]) -> None:
    """What B's EVM wallet does with an unsigned transaction: nonce, gas, fees, sign, send."""
    w3 = contracts.evm.w3
    tx = {**tx, "nonce": w3.eth.get_transaction_count(acct.address), "gas": 300_000}
    tx |= {"maxFeePerGas": 10**10, "maxPriorityFeePerGas": 10**9}
    receipt = w3.eth.wait_for_transaction_receipt(
        w3.eth.send_raw_transaction(acct.sign_transaction(tx).raw_transaction)
    )
    assert receipt["status"] == 1

"""The demo's purchase paid in Thai baht, every user step through the HTTP API with
``TradingClient``: both parties link an EVM address by Sign-In-With-Ethereum (signed here with
eth-account; the EVM keys never leave this process), B opens a swap on part of A's sell order
and its EVM wallet signs and sends the approve and THBC lock the API returns, A has the API
prepare its Solana lock and signs it, B hands the relayer its secret, the relayer claims both
legs, and A closes its hash lock (the rent comes back). What B paid and A received is read back
from the EVM chain's THBC balances.

Where THBC comes from is outside the demo's users: the issuer (a bank, in the field, against
baht) mints B what the quote asks, and anvil gives B's EVM wallet gas."""

from __future__ import annotations

import hashlib
import secrets
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gridx.client import TradingClient
from gridx.paths import write_private
from gridx.services import wait_until

__all__ = ["ThbRails", "buy_in_thb"]

ETH = 10**18
UNIT = 1_000_000


@dataclass(frozen=True)
class ThbRails:
    """The EVM side as the demo's operator holds it: the node's URL, THBC and the escrow, the
    issuer's key file (0600, written by ``start_payments``) and anvil's funding call."""

    rpc_url: str
    thbc: str
    htlc: str
    issuer_key: Path
    fund_gas: Any  # anvil's fund(address, wei)
    check_alive: Any = None  # raises if a part (the relayer) has exited

    @classmethod
    def from_settings(cls, evm: dict[str, str], issuer_key: Path, fund_gas: Any, check_alive: Any = None) -> ThbRails:
        urls = (evm["GRIDX_API_EVM_RPC_URL"], evm["GRIDX_API_EVM_THBC"], evm["GRIDX_API_EVM_HTLC"])
        return cls(*urls, issuer_key=issuer_key, fund_gas=fund_gas, check_alive=check_alive)

    def completed(self, b: TradingClient, swap_id: str) -> bool:
        if self.check_alive is not None:
            self.check_alive()  # a relayer that died would otherwise look like a slow one
        return bool(b.thb_swap(swap_id)["status"] == "completed")

    def contracts(self) -> Any:
        from backend.payments import Evm, EvmSettings, HtlcContracts

        evm = Evm(EvmSettings(self.rpc_url))
        return HtlcContracts(evm, evm.contract("thbc", self.thbc), evm.contract("htlc", self.htlc))


def _evm_wallet(path: Path) -> Any:
    """A user's EVM key, kept 0600 beside its Solana wallet (created on first use)."""
    from eth_account import Account

    if not path.exists():
        write_private(path, Account.create().key.hex().encode())
    return Account.from_key(path.read_text().strip())


def _signer(acct: Any) -> Any:
    from eth_account.messages import encode_defunct

    return lambda message: "0x" + acct.sign_message(encode_defunct(text=message)).signature.hex()


def _link(user: TradingClient, acct: Any) -> None:
    if user.evm_link() != acct.address:
        assert user.link_evm(acct.address, _signer(acct)) == acct.address


def _send(contracts: Any, acct: Any, tx: dict[str, Any]) -> None:
    """What B's EVM wallet does with an unsigned transaction from the API: nonce, gas, fees,
    sign, send, and wait for its receipt."""
    w3 = contracts.evm.w3
    tx = {**tx, "nonce": w3.eth.get_transaction_count(acct.address, "pending"), "gas": 300_000}
    tx |= {"maxFeePerGas": 10**10, "maxPriorityFeePerGas": 10**9}
    sent = w3.eth.send_raw_transaction(acct.sign_transaction(tx).raw_transaction)
    receipt = w3.eth.wait_for_transaction_receipt(sent, timeout=60)
    if receipt["status"] != 1:
        raise RuntimeError(f"demo: B's EVM transaction to {tx['to']} reverted")


def buy_in_thb(
    a: TradingClient, b: TradingClient, order_id: int, amount: int, rails: ThbRails, wallets: Path, console: Any
) -> dict[str, Any]:
    """B buys ``amount`` GRXE of A's sell order ``order_id`` paying THBC; returns the figures."""
    from eth_account import Account

    contracts = rails.contracts()
    a_evm, b_evm = (_evm_wallet(wallets / f"{u.wallet}.evm.key") for u in (a, b))
    _link(a, a_evm)
    _link(b, b_evm)
    console.print(f"A and B linked EVM addresses by Sign-In-With-Ethereum: {a_evm.address}, {b_evm.address}")
    q = b.thb_quote(order_id, amount)
    # the on-ramp: the issuer mints B exactly the quote (against baht, off the demo's stage)
    rails.fund_gas(b_evm.address, ETH)
    contracts.mint(Account.from_key(rails.issuer_key.read_text().strip()), b_evm.address, int(q["thbc"]))
    a0, b0 = contracts.balance(a_evm.address), contracts.balance(b_evm.address)
    started = time.monotonic()
    secret = secrets.token_bytes(32)  # B's; only its hash goes to the API until B claims
    opened = b.open_thb_swap(order_id, hashlib.sha256(secret).digest(), int(q["thbc"]), amount)
    swap_id = str(opened["swap_id"])
    for tx in opened["transactions"]:  # approve, then lock: B's EVM wallet signs them here
        _send(contracts, b_evm, tx)
    console.print(f"B locked {q['thbc'] / UNIT:,.6f} THBC on the EVM chain for {amount / UNIT:,.6f} GRXE")
    locked = a.seller_lock(swap_id)
    if locked["status"] != "confirmed":
        raise RuntimeError(f"demo: A's hash lock did not land: {locked}")
    b.claim_thb_swap(swap_id, secret)
    try:
        wait_until(lambda: rails.completed(b, swap_id), 120, "the relayer completed the swap")
    except TimeoutError as exc:
        # what the relayer recorded (its submissions and refusals) says why
        view = b.thb_swap(swap_id)
        steps = [(st["step"], st.get("detail")) for st in view["steps"]]
        raise TimeoutError(f"{exc}: status {view['status']}, steps {steps}") from exc
    took = time.monotonic() - started
    closed = a.seller_close(swap_id)
    paid, received = b0 - contracts.balance(b_evm.address), contracts.balance(a_evm.address) - a0
    console.print(
        f"swap {swap_id} completed {took:.2f} s after B opened it: B paid {paid / UNIT:,.6f} THBC, "
        f"A received {received / UNIT:,.6f}; A closed its hash lock ({closed['status']})"
    )
    return {
        "thb_swap_id": swap_id,
        "thb_quote": int(q["thbc"]),
        "thbc_paid": paid,
        "thbc_received": received,
        "thb_seconds": round(took, 3),
        "thb_lock_closed": closed["status"] == "confirmed",
    }

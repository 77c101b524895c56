"""The seller's side of a THB swap over HTTP, and linking EVM addresses by Sign-In-With-Ethereum.

Both parties link their EVM wallets through the API (a real eth-account signature of the
message the API issues); B opens a swap on part of A's sell order and locks THBC on anvil; A asks
the API for its Solana lock, signs it with its own key and submits it like an order; the lock
lands on the local chain with exactly the swap's terms and the order's remaining shrinks; the
relayer completes the swap and the balances are exact on both chains. A second lock asked for
after the deadline rule stopped holding is refused with ``swap_too_late``, and nothing moves."""

from __future__ import annotations

import asyncio
import hashlib
import secrets
from typing import Any

from eth_account import Account
from eth_account.messages import encode_defunct
from eth_account.signers.local import LocalAccount
from solana.rpc.async_api import AsyncClient
from solders.keypair import Keypair
from solders.pubkey import Pubkey

import gridx.chain as c
from backend.payments import HtlcContracts, relay_once
from backend.payments._chains import LiveChains
from gridx.client import TradingClient
from gridx.db import connect
from gridx.services import AnvilNode
from tests.backend.api.conftest import SOL, UNIT, Stack, mint_grxe
from tests.backend.api.thb import ETH, THBC, link_over_http, open_sell, refused, send
from tests.helpers.gateway import wait_until


def test_link_evm_address_over_http(thb_stack: Stack) -> None:
    b, other = thb_stack.user("consumer"), thb_stack.user("consumer")
    acct, intruder = Account.create(), Account.create()
    assert b.request("GET", "/payments/evm-links") == {"wallet": b.wallet, "evm_address": None}
    ch = b.request("POST", "/payments/evm-links/challenge", json={"address": acct.address.lower()})
    msg = ch["message"]
    assert acct.address in msg and b.wallet in msg and f"Nonce: {ch['nonce']}" in msg
    assert thb_stack.url.removeprefix("http://") in msg.splitlines()[0]  # this deployment's domain

    def sig(who: LocalAccount, text: str) -> str:
        return "0x" + who.sign_message(encode_defunct(text=text)).signature.hex()

    def attempt(client: TradingClient, message: str, signature: str, nonce: str) -> tuple[int, str]:
        body = {"nonce": nonce, "message": message, "signature": signature}
        return refused(lambda: client.request("POST", "/payments/evm-links", json=body))

    def fresh() -> tuple[str, str]:  # a nonce is single-attempt: each try needs a new challenge
        c = b.request("POST", "/payments/evm-links/challenge", json={"address": acct.address})
        return c["message"], c["nonce"]

    assert attempt(b, msg, sig(intruder, msg), ch["nonce"]) == (422, "evm_link_wrong_signer")
    assert attempt(b, msg, sig(acct, msg), ch["nonce"]) == (422, "evm_link_nonce_unknown")  # used up by the refusal
    m, n = fresh()
    altered = m.replace(b.wallet, other.wallet)
    assert attempt(b, altered, sig(acct, altered), n) == (422, "evm_link_altered_message")
    m, n = fresh()
    assert attempt(b, m, "0x1234", n) == (422, "evm_link_malformed_signature")
    msg, nonce = fresh()
    assert attempt(other, msg, sig(acct, msg), nonce) == (422, "evm_link_nonce_unknown")  # B's nonce, not other's
    assert attempt(b, msg, sig(acct, msg), "0" * 32) == (422, "evm_link_nonce_unknown")
    assert refused(lambda: b.request("POST", "/payments/evm-links/challenge", json={"address": "0x12"})) == (
        400,
        "invalid_request",
    )
    assert b.request("GET", "/payments/evm-links")["evm_address"] is None  # no refusal linked anything

    linked = b.request(
        "POST", "/payments/evm-links", json={"nonce": nonce, "message": msg, "signature": sig(acct, msg)}
    )
    assert linked == {"wallet": b.wallet, "evm_address": acct.address}
    assert attempt(b, msg, sig(acct, msg), nonce) == (422, "evm_link_nonce_unknown")  # a replay is refused
    assert b.request("GET", "/payments/evm-links")["evm_address"] == acct.address
    assert other.request("GET", "/payments/evm-links")["evm_address"] is None
    anon = TradingClient(thb_stack.url, b.keypair)
    assert refused(lambda: anon.request("GET", "/payments/evm-links")) == (401, "token_missing")


def _open_locked_swap(
    stack: Stack, contracts: HtlcContracts, anvil: AnvilNode, issuer: LocalAccount, parties: dict[str, Any], amount: int
) -> tuple[dict[str, Any], bytes]:
    """B opens a swap on ``amount`` of the order and its EVM wallet locks the THBC."""
    b, b_evm, order_id = parties["b"], parties["b_evm"], parties["order_id"]
    s = secrets.token_bytes(32)
    q = b.request("GET", "/payments/thb/quote", params={"order_id": order_id, "amount": amount})
    body = {"order_id": order_id, "amount": amount, "hashlock": "0x" + hashlib.sha256(s).hexdigest(), "thbc": q["thbc"]}
    opened = b.request("POST", "/payments/thb/swaps", json=body)
    lock_path = f"/payments/thb/swaps/{opened['swap_id']}/lock"
    assert refused(lambda: parties["a"].request("POST", lock_path)) == (409, "swap_buyer_not_locked")
    contracts.mint(issuer, b_evm.address, q["thbc"])
    for tx in opened["transactions"]:
        send(contracts, b_evm, tx)
    return opened, s


FEE = 5_000  # lamports per signature


async def _lamports(cl: AsyncClient, key: Pubkey) -> int:
    return int((await cl.get_balance(key)).value)


def _order_row(stack: Stack, order_id: int) -> tuple[Any, ...]:
    return stack.sql("SELECT status, remaining, in_engine FROM orders WHERE id = %s", order_id)[0]


def _relay(stack: Stack, contracts: HtlcContracts, anvil: AnvilNode) -> None:
    """The relayer's rounds (its keys pay fees only), as ``gridx payments relay`` runs them."""
    relayer_evm, relayer_sol = Account.create(), Keypair()
    anvil.fund(relayer_evm.address, ETH)
    c.run_on_chain(stack.rpc_url, lambda cl: c.airdrop(cl, relayer_sol.pubkey(), SOL))
    market = c.load_deployment(stack.keys).market_keys()

    async def rounds() -> None:
        async with AsyncClient(stack.rpc_url) as client:
            chains = LiveChains(contracts, client, market, relayer_evm, relayer_sol)
            with connect(stack.dsn, autocommit=True) as conn:
                for _ in range(3):
                    await relay_once(conn, chains)

    asyncio.run(rounds())


def test_seller_lock_over_http(
    thb_stack: Stack, contracts: HtlcContracts, anvil: AnvilNode, issuer: LocalAccount
) -> None:
    a, b = thb_stack.user("prosumer"), thb_stack.user("consumer")
    mint_grxe(thb_stack, a.keypair, [15 * UNIT])
    order_id = open_sell(a, 15 * UNIT, 3 * UNIT)
    a_evm, b_evm = Account.create(), Account.create()
    link_over_http(a, a_evm)
    link_over_http(b, b_evm)
    anvil.fund(b_evm.address, ETH)
    parties = {"a": a, "b": b, "b_evm": b_evm, "order_id": order_id}
    grxe_a, grxe_b = thb_stack.chain_balance(a.wallet, "grxe"), thb_stack.chain_balance(b.wallet, "grxe")

    opened, s = _open_locked_swap(thb_stack, contracts, anvil, issuer, parties, 10 * UNIT)
    lock_path = f"/payments/thb/swaps/{opened['swap_id']}/lock"
    assert refused(lambda: b.request("POST", lock_path)) == (403, "not_swap_party")  # only the seller locks
    prepared = a.request("POST", lock_path)
    assert (prepared["grxe"], prepared["evm_deadline"]) == (10 * UNIT, opened["quote"]["evm_deadline"])
    result = a.sign_and_submit(prepared)
    assert (result["status"], result["kind"], result["order_id"]) == ("confirmed", "swap_lock", order_id)
    assert refused(lambda: a.sign_and_submit(prepared)) == (409, "tx_already_submitted")

    pda = c.hash_lock_pda(Pubkey.from_string(a.wallet), hashlib.sha256(s).digest())
    lock = c.decode_hash_lock(c.run_on_chain(thb_stack.rpc_url, lambda cl: c.fetch_account(cl, pda)))
    assert (str(lock.buyer), lock.amount, lock.deadline) == (b.wallet, 10 * UNIT, prepared["sol_deadline"])
    assert lock.state is c.HashLockState.LOCKED
    # the order is back in the matcher's book with what the lock left
    wait_until(lambda: _order_row(thb_stack, order_id) == ("open", 5 * UNIT, True), 20, "the order reopened")
    assert refused(lambda: a.request("POST", lock_path)) == (409, "swap_seller_already_locked")

    assert b.request("POST", f"/payments/thb/swaps/{opened['swap_id']}/claim", json={"secret": "0x" + s.hex()})
    _relay(thb_stack, contracts, anvil)
    assert b.request("GET", f"/payments/thb/swaps/{opened['swap_id']}")["status"] == "completed"
    assert contracts.balance(a_evm.address) == 300 * THBC and contracts.balance(b_evm.address) == 0
    assert thb_stack.chain_balance(b.wallet, "grxe") == grxe_b + 10 * UNIT
    assert thb_stack.chain_balance(a.wallet, "grxe") == grxe_a  # the 10 came out of the order's escrow

    # A takes back the lock's rent once the swap is over
    rent = c.run_on_chain(thb_stack.rpc_url, lambda cl: _lamports(cl, pda))
    sol0 = c.run_on_chain(thb_stack.rpc_url, lambda cl: _lamports(cl, Pubkey.from_string(a.wallet)))
    closed = a.sign_and_submit(a.request("POST", f"/payments/thb/swaps/{opened['swap_id']}/close"))
    assert (closed["status"], closed["kind"]) == ("confirmed", "swap_close")
    sol1 = c.run_on_chain(thb_stack.rpc_url, lambda cl: _lamports(cl, Pubkey.from_string(a.wallet)))
    assert rent > 0 and sol1 == sol0 + rent - FEE  # A paid the fee of its own transaction
    assert c.run_on_chain(thb_stack.rpc_url, lambda cl: c.fetch_account(cl, pda)) is None

    # a second swap on the rest; A asks for its lock after the window: the EVM lock would no
    # longer outlive the Solana lock by delta
    late, _ = _open_locked_swap(thb_stack, contracts, anvil, issuer, parties, 5 * UNIT)
    close_late = f"/payments/thb/swaps/{late['swap_id']}/close"
    assert refused(lambda: a.request("POST", close_late)) == (409, "swap_not_final")
    anvil.rpc("evm_increaseTime", [late["quote"]["lock_by_evm"] - contracts.evm.now() + 1])
    anvil.rpc("evm_mine")
    assert refused(lambda: a.request("POST", f"/payments/thb/swaps/{late['swap_id']}/lock")) == (409, "swap_too_late")
    assert _order_row(thb_stack, order_id) == ("open", 5 * UNIT, True)  # nothing taken from the order
    steps = [st["step"] for st in b.request("GET", f"/payments/thb/swaps/{late['swap_id']}")["steps"]]
    assert "seller_lock_prepared" not in steps


def test_partly_locked_order_keeps_its_queue_place(
    thb_stack: Stack, contracts: HtlcContracts, anvil: AnvilNode, issuer: LocalAccount
) -> None:
    """A1 offers first and A2 later at the same price; A1 hash-locks part of its order for B.
    The matcher amends A1's order down instead of re-adding it, so a buyer at that price still
    trades with A1 first (price-time priority), and A2's order is untouched."""
    price = 2 * UNIT  # the best ask of the package's shared book (the other tests offer at 3 GRX and up)
    a1, a2, b, c2 = (thb_stack.user(k) for k in ("prosumer", "prosumer", "consumer", "consumer"))
    mint_grxe(thb_stack, a1.keypair, [6 * UNIT])
    mint_grxe(thb_stack, a2.keypair, [2 * UNIT])
    first = open_sell(a1, 6 * UNIT, price)
    wait_until(lambda: _order_row(thb_stack, first)[2], 20, "A1's order in the matcher's book")
    second = open_sell(a2, 2 * UNIT, price)
    wait_until(lambda: _order_row(thb_stack, second)[2], 20, "A2's order in the matcher's book")
    b_evm = Account.create()
    link_over_http(a1, Account.create())
    link_over_http(b, b_evm)
    anvil.fund(b_evm.address, ETH)
    parties = {"a": a1, "b": b, "b_evm": b_evm, "order_id": first}
    opened, _ = _open_locked_swap(thb_stack, contracts, anvil, issuer, parties, 4 * UNIT)
    locked = a1.sign_and_submit(a1.request("POST", f"/payments/thb/swaps/{opened['swap_id']}/lock"))
    assert locked["status"] == "confirmed"
    wait_until(lambda: _order_row(thb_stack, first) == ("open", 2 * UNIT, True), 20, "A1's order with what is left")
    level = lambda: [lv for lv in c2.book()["asks"] if lv["price"] == price]  # noqa: E731
    wait_until(lambda: [lv["amount"] for lv in level()] == [4 * UNIT], 20, "the level: A1's 2 and A2's 2")

    c2.faucet(2 * price)
    c2.buy(2 * UNIT, price)
    wait_until(
        lambda: thb_stack.sql("SELECT count(*) FROM trades WHERE sell_order IN (%s, %s)", first, second) == [(1,)],
        20,
        "the trade",
    )
    assert thb_stack.sql("SELECT sell_order, amount FROM trades WHERE sell_order IN (%s, %s)", first, second) == [
        (first, 2 * UNIT)
    ]
    assert _order_row(thb_stack, second) == ("open", 2 * UNIT, True)

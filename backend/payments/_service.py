"""What the trading API's THB endpoints call (issue 11 builds the API; these are its payment
operations, so each endpoint stays a thin controller): quote, open a swap with the buyer's hash
lock, the unsigned EVM transactions the buyer's wallet signs, the seller's Solana lock, the
buyer's claim request, status with every recorded step, and history."""

from __future__ import annotations

import uuid
from dataclasses import asdict, dataclass
from decimal import Decimal
from typing import Any

import psycopg
from web3 import Web3

from backend.payments._errors import SwapRefused
from backend.payments._evm_htlc import HtlcContracts
from backend.payments._store import SwapRecord, history, insert_swap, load_swap, set_buyer_secret
from backend.payments._swap import SECRET_LEN, SwapParams, check_secret, plan_swap

__all__ = ["SwapQuote", "buyer_lock_txs", "open_swap", "quote", "request_claim", "swap_history", "swap_view"]


@dataclass(frozen=True)
class SwapQuote:
    """Shown to the buyer before anything is locked."""

    grxe: int
    grx: int
    thb_per_grx: str
    thbc: int
    evm_deadline: int
    lock_by_evm: int


def quote(grxe: int, price_grx_per_grxe: int, rate: Decimal, now_evm: int, p: SwapParams) -> SwapQuote:
    plan = plan_swap(grxe, price_grx_per_grxe, rate, now_evm, p)
    return SwapQuote(plan.grxe, plan.grx, str(rate), plan.thbc, plan.evm_deadline, plan.second_lock_by_evm)


def open_swap(
    conn: psycopg.Connection,
    q: SwapQuote,
    *,
    buyer_wallet: str,
    seller_wallet: str,
    buyer_evm: str,
    seller_evm: str,
    sell_order_id: int,
    hashlock: bytes,
) -> SwapRecord:
    """Record the swap under the buyer's hash lock (the buyer keeps the secret; we never see it
    until the buyer asks us to claim for it). A hash lock opens one swap only (``hashlock_used``
    otherwise): after a claim its secret is public, and a second swap under it would let anyone
    who saw the claim take the buyer's THBC without the seller's GRXE being locked."""
    if len(hashlock) != 32:
        raise SwapRefused("bad_hashlock", f"{len(hashlock)} bytes")
    rec = SwapRecord(
        uuid.uuid4(), buyer_wallet, seller_wallet, Web3.to_checksum_address(buyer_evm),
        Web3.to_checksum_address(seller_evm), sell_order_id, q.grxe, q.grx, Decimal(q.thb_per_grx), q.thbc,
        hashlock, evm_deadline=q.evm_deadline,
    )  # fmt: skip
    try:
        insert_swap(conn, rec)
    except psycopg.errors.UniqueViolation as exc:
        if exc.diag.constraint_name != "payment_swaps_hashlock_key":
            raise
        raise SwapRefused("hashlock_used", "this hash lock already opened a swap: make a new secret") from exc
    return rec


def buyer_lock_txs(contracts: HtlcContracts, rec: SwapRecord) -> list[dict[str, Any]]:
    """Unsigned transactions for the buyer's EVM wallet, in order: approve, lock. The wallet fills
    nonce and fees and signs; the lock is exactly this swap's terms or the relayer ignores it."""
    if rec.evm_deadline is None:
        raise SwapRefused("no_deadline")
    approve = contracts.thbc.encode_abi("approve", args=[contracts.htlc.address, rec.thbc])
    lock = contracts.htlc.encode_abi(
        "lock", args=[rec.seller_evm, contracts.thbc.address, rec.thbc, rec.hashlock, rec.evm_deadline]
    )
    chain_id = contracts.evm.chain_id
    out = []
    for to, data in ((contracts.thbc.address, approve), (contracts.htlc.address, lock)):
        out.append({"from": rec.buyer_evm, "to": to, "data": data, "value": 0, "chainId": chain_id})
    return out


def request_claim(conn: psycopg.Connection, swap_id: uuid.UUID, secret: bytes) -> None:
    """The buyer asks the relayer to claim its GRXE (it hands over the secret, which its claim
    makes public anyway). Refused unless the secret opens this swap's hash lock."""
    import hashlib

    check_secret(secret)
    rec = load_swap(conn, swap_id)
    if hashlib.sha256(secret).digest() != rec.hashlock:
        raise SwapRefused("wrong_secret", f"not the secret of swap {swap_id} ({SECRET_LEN} bytes expected)")
    set_buyer_secret(conn, swap_id, secret)


def _public(rec: SwapRecord) -> dict[str, Any]:
    d = asdict(rec)
    d.pop("buyer_secret")  # never shown, even to its owner: it is not needed after the claim
    for k in ("hashlock", "evm_lock_id", "preimage"):
        d[k] = "0x" + d[k].hex() if d[k] is not None else None
    d["swap_id"], d["thb_per_grx"] = str(d["swap_id"]), str(d["thb_per_grx"])
    d["evm_leg"], d["sol_leg"], d["status"] = rec.evm_leg.value, rec.sol_leg.value, rec.status.value
    return d


def swap_view(conn: psycopg.Connection, swap_id: uuid.UUID) -> dict[str, Any]:
    rec = load_swap(conn, swap_id)
    rows = conn.execute(
        "SELECT at, step, detail FROM payment_swap_steps WHERE swap_id = %s ORDER BY id", [swap_id]
    ).fetchall()
    return {**_public(rec), "steps": [{"at": r[0].isoformat(), "step": r[1], "detail": r[2]} for r in rows]}


def swap_history(conn: psycopg.Connection, wallet: str, limit: int = 100) -> list[dict[str, Any]]:
    return [_public(r) for r in history(conn, wallet, limit)]

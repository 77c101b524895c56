"""``/payments/thb``: paying for a sell order in Thai baht (THBC on the EVM chain, swapped
atomically against the order's GRXE). Thin handlers over ``backend.payments._service``: the
quote shown before anything is locked, the swap opened under the buyer's hash lock with the
unsigned EVM transactions its wallet signs, the seller's Solana lock as an unsigned transaction
(submitted like an order's, ``POST /transactions/{tx_id}``), the swap's status with every step,
and history.

The service and the store are synchronous (psycopg, web3.py), so each call runs in a worker
thread with its own connection; the API's event loop never waits on the EVM node."""

from __future__ import annotations

import asyncio
import functools
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Annotated, Any, TypeVar

import psycopg
from litestar import Controller, get, post
from litestar.params import Parameter
from psycopg.types.json import Jsonb
from pydantic import BaseModel, ConfigDict, Field
from solders.pubkey import Pubkey

import gridx.chain as c
from backend._config import ApiSettings
from backend._errors import ApiError, Problem
from backend._state import Services
from backend._txflow import PreparedTx, prepare_tx
from backend.payments._chains import SwapChains
from backend.payments._errors import EvmUnreachable, SwapRefused
from backend.payments._evm import Evm, EvmSettings, unreachable_as_error
from backend.payments._evm_htlc import HtlcContracts
from backend.payments._links import linked_address
from backend.payments._service import (
    SwapQuote,
    buyer_lock_txs,
    open_swap,
    quote,
    request_claim,
    swap_history,
    swap_view,
)
from backend.payments._store import SwapRecord, load_swap
from backend.payments._swap import SwapParams, SwapStatus
from gridx.db import connect

__all__ = ["ThbPaymentController", "configured_contracts", "refusals"]

T = TypeVar("T")

# the coordinator's refusal codes (SwapRefused.code) as stable problem codes
_REFUSED = {
    "bad_hashlock": Problem.SWAP_BAD_HASHLOCK,
    "bad_quote": Problem.SWAP_BAD_QUOTE,
    "second_lock_expired": Problem.SWAP_TOO_LATE,
    "second_lock_too_late": Problem.SWAP_TOO_LATE,
    "bad_secret_length": Problem.SWAP_BAD_SECRET_LENGTH,
    "wrong_secret": Problem.SWAP_WRONG_SECRET,
    "buyer_not_locked": Problem.SWAP_BUYER_NOT_LOCKED,
    "seller_already_locked": Problem.SWAP_SELLER_ALREADY_LOCKED,
    "hashlock_used": Problem.SWAP_HASHLOCK_USED,
}


class ThbQuote(BaseModel):
    order_id: int
    grxe: int = Field(description="GRXE base units bought")
    grx: int = Field(description="the order's GRX price for them, base units")
    thb_per_grx: str
    thbc: int = Field(description="THBC base units to lock (6 decimals)")
    evm_deadline: int = Field(description="the buyer's lock deadline, EVM block time")
    lock_by_evm: int = Field(description="the seller must lock GRXE before this EVM time")


class OpenSwapRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    order_id: int = Field(gt=0, le=2**63 - 1)
    amount: int | None = Field(None, gt=0, le=2**63 - 1, description="GRXE base units; default: all that remains")
    hashlock: str = Field(pattern=r"^0x[0-9a-fA-F]{64}$", description="SHA-256 of the buyer's 32-byte secret")
    thbc: int = Field(gt=0, description="the THBC amount of the quote the buyer accepted")


class ClaimRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    # any short hex is accepted here so that a 31- or 33-byte secret meets the swap's own refusal
    secret: str = Field(pattern=r"^0x([0-9a-fA-F]{2}){1,64}$", description="the buyer's 32-byte secret")


class ClaimAccepted(BaseModel):
    swap_id: str
    status: str = "claim_requested"


class EvmTx(BaseModel):
    model_config = ConfigDict(populate_by_name=True)
    from_: str = Field(alias="from")
    to: str
    data: str
    value: int
    chainId: int


class SwapOpened(BaseModel):
    swap_id: str
    quote: ThbQuote
    transactions: list[dict[str, Any]] = Field(description="unsigned, in order (approve, lock); the wallet signs")


class SellerLockPrepared(PreparedTx):
    swap_id: str
    grxe: int = Field(description="GRXE base units moved from the sell order into the hash lock")
    sol_deadline: int = Field(description="the lock's deadline, Solana clock (unix s)")
    evm_deadline: int = Field(description="the buyer's THBC lock's deadline, EVM block time")


@functools.cache
def _contracts(rpc_url: str, thbc: str, htlc: str, confirmations: int) -> HtlcContracts:
    evm = Evm(EvmSettings(rpc_url, confirmations))
    return HtlcContracts(evm, evm.contract("thbc", thbc), evm.contract("htlc", htlc))


def configured_contracts(s: ApiSettings) -> HtlcContracts:
    """The contracts (create_app mounts these routes only when all three settings are present;
    the check stays for anyone who mounts the controller by hand)."""
    if not (s.evm_rpc_url and s.evm_thbc and s.evm_htlc):
        raise ApiError(Problem.PAYMENTS_UNAVAILABLE, "THB payments are not configured (GRIDX_API_EVM_*)")
    return _contracts(s.evm_rpc_url, s.evm_thbc, s.evm_htlc, s.evm_confirmations)


@contextmanager
def refusals() -> Iterator[None]:
    """The payment leg's named errors as problem documents."""
    try:
        yield
    except SwapRefused as exc:
        problem = _REFUSED.get(exc.code, Problem.SWAP_REFUSED)
        raise ApiError(problem, exc.detail or exc.code, reason=exc.code) from exc
    except EvmUnreachable as exc:
        raise ApiError(Problem.EVM_UNAVAILABLE, str(exc)) from exc
    except Exception as exc:
        if (err := unreachable_as_error(exc)) is not None:
            raise ApiError(Problem.EVM_UNAVAILABLE, str(err)) from exc
        raise


async def _in_thread(services: Services, fn: Callable[[psycopg.Connection], T]) -> T:
    def run() -> T:
        with refusals(), connect(services.settings.dsn, autocommit=True) as conn:
            return fn(conn)

    return await asyncio.to_thread(run)


def _sell_order(conn: psycopg.Connection, order_id: int, amount: int | None) -> tuple[str, int, int]:
    """(seller, price, amount) of an open sell order that can fill ``amount``."""
    row = conn.execute(
        "SELECT owner, price, remaining, status FROM orders WHERE id = %s AND side = 'sell'", [order_id]
    ).fetchone()
    if row is None:
        raise ApiError(Problem.SELL_ORDER_UNKNOWN, f"no sell order {order_id}")
    owner, price, remaining, status = row
    if status != "open":
        raise ApiError(Problem.ORDER_NOT_OPEN, f"order {order_id} is {status}")
    amount = remaining if amount is None else amount
    if amount > remaining:
        raise ApiError(Problem.AMOUNT_EXCEEDS_ORDER, f"{amount} > {remaining} remaining", remaining=remaining)
    return str(owner), int(price), int(amount)


def _quote(s: ApiSettings, conn: psycopg.Connection, order_id: int, amount: int | None) -> tuple[str, SwapQuote]:
    contracts = configured_contracts(s)
    seller, price, grxe = _sell_order(conn, order_id, amount)
    return seller, quote(grxe, price, s.thb_per_grx, contracts.evm.now(), SwapParams())


def _view(order_id: int, q: SwapQuote) -> ThbQuote:
    return ThbQuote(order_id=order_id, **q.__dict__)


def _open(s: ApiSettings, conn: psycopg.Connection, wallet: str, data: OpenSwapRequest) -> SwapOpened:
    seller, q = _quote(s, conn, data.order_id, data.amount)
    if seller == wallet:
        raise ApiError(Problem.OWN_ORDER, "a buyer cannot pay for its own sell order")
    if q.thbc != data.thbc:
        raise ApiError(Problem.QUOTE_CHANGED, f"the order now costs {q.thbc} THBC", thbc=q.thbc)
    buyer_evm = linked_address(conn, wallet)
    if buyer_evm is None:
        raise ApiError(Problem.EVM_ADDRESS_NOT_LINKED, "link an EVM address with Sign-In-With-Ethereum first")
    seller_evm = linked_address(conn, seller)
    if seller_evm is None:
        raise ApiError(Problem.SELLER_EVM_NOT_LINKED, "the seller has no EVM address to receive THBC")
    rec = open_swap(
        conn, q, buyer_wallet=wallet, seller_wallet=seller, buyer_evm=buyer_evm, seller_evm=seller_evm,
        sell_order_id=data.order_id, hashlock=bytes.fromhex(data.hashlock[2:]),
    )  # fmt: skip
    txs = [EvmTx.model_validate(t).model_dump(by_alias=True) for t in buyer_lock_txs(configured_contracts(s), rec)]
    return SwapOpened(swap_id=str(rec.swap_id), quote=_view(data.order_id, q), transactions=txs)


def _status(conn: psycopg.Connection, wallet: str, swap_id: uuid.UUID) -> dict[str, Any]:
    try:
        view = swap_view(conn, swap_id)
    except KeyError as exc:
        raise ApiError(Problem.SWAP_UNKNOWN, f"no swap {swap_id}") from exc
    if wallet not in (view["buyer_wallet"], view["seller_wallet"]):
        raise ApiError(Problem.NOT_SWAP_PARTY, "only the buyer and the seller see a swap")
    return view


def _claim(conn: psycopg.Connection, wallet: str, swap_id: uuid.UUID, secret: bytes) -> ClaimAccepted:
    if _status(conn, wallet, swap_id)["buyer_wallet"] != wallet:
        raise ApiError(Problem.NOT_SWAP_PARTY, "only the buyer asks for its GRXE claim")
    request_claim(conn, swap_id, secret)
    return ClaimAccepted(swap_id=str(swap_id))


def _seller_swap(conn: psycopg.Connection, wallet: str, swap_id: uuid.UUID) -> SwapRecord:
    if _status(conn, wallet, swap_id)["seller_wallet"] != wallet:
        raise ApiError(Problem.NOT_SWAP_PARTY, "only the seller locks its GRXE")
    return load_swap(conn, swap_id)


async def _prepare_seller_lock(services: Services, wallet: str, rec: SwapRecord) -> SellerLockPrepared:
    """The deadline rule is checked here against both chains' clocks; both deadlines are then
    fixed in the transaction, and its blockhash expires within about a minute, so a lock signed
    later can only be refused (tx_expired), never land with less time than was checked."""
    contracts = configured_contracts(services.settings)
    async with services.pool.connection() as conn:
        row = await (
            await conn.execute("SELECT market, status, remaining FROM orders WHERE id = %s", (rec.sell_order_id,))
        ).fetchone()
    if row is None:
        raise ApiError(Problem.SELL_ORDER_UNKNOWN, f"no sell order {rec.sell_order_id}")
    market, status, remaining = row
    chains = SwapChains(contracts, services.chain, services.market_by_id(market).keys)
    with refusals():  # both chains first: a lock already made is the answer, whatever the order
        ix, sol_deadline = await chains.seller_lock(rec, SwapParams())
    if status != "open":
        raise ApiError(Problem.ORDER_NOT_OPEN, f"order {rec.sell_order_id} is {status}")
    if remaining < rec.grxe:
        raise ApiError(Problem.AMOUNT_EXCEEDS_ORDER, f"{rec.grxe} > {remaining} remaining", remaining=remaining)
    async with services.pool.connection() as conn, conn.transaction():
        prepared = await prepare_tx(services, conn, wallet, "swap_lock", [ix], order_id=rec.sell_order_id)
        # what the matcher holds back of the order while the lock is on its way (sql/101)
        await conn.execute("UPDATE prepared_txs SET amount = %s WHERE id = %s", (rec.grxe, prepared.tx_id))
        await conn.execute(
            "INSERT INTO payment_swap_steps (swap_id, step, detail) VALUES (%s, 'seller_lock_prepared', %s)",
            (rec.swap_id, Jsonb({"tx_id": prepared.tx_id, "sol_deadline": sol_deadline})),
        )
    assert rec.evm_deadline is not None  # seller_lock refuses a swap without the buyer's lock
    return SellerLockPrepared(
        **prepared.model_dump(),
        swap_id=str(rec.swap_id),
        grxe=rec.grxe,
        sol_deadline=sol_deadline,
        evm_deadline=rec.evm_deadline,
    )


async def _prepare_seller_close(services: Services, wallet: str, rec: SwapRecord) -> PreparedTx:
    """Only a finished swap's lock: while the THBC claim is pending, the lock account is where the
    seller's side reads the secret (the relayer records it too, but the seller may run its own)."""
    if rec.status not in (SwapStatus.COMPLETED, SwapStatus.REFUNDED):
        raise ApiError(Problem.SWAP_NOT_FINAL, f"swap {rec.swap_id} is {rec.status.value}")
    async with services.pool.connection() as conn, conn.transaction():
        row = await (await conn.execute("SELECT market FROM orders WHERE id = %s", (rec.sell_order_id,))).fetchone()
        market = services.market_by_id(row[0]).keys if row else services.market.keys
        ix = c.build_hashlock_close_ix(market, Pubkey.from_string(wallet), rec.hashlock)
        return await prepare_tx(services, conn, wallet, "swap_close", [ix])


class ThbPaymentController(Controller):
    path = "/payments/thb"
    tags = ["payments"]

    @get("/quote", operation_id="quoteThb")
    async def get_quote(
        self,
        services: Services,
        order_id: Annotated[int, Parameter(gt=0, le=2**63 - 1)],
        amount: Annotated[int | None, Parameter(gt=0, le=2**63 - 1)] = None,
    ) -> ThbQuote:
        """The THBC price of (part of) a sell order at the configured rate; nothing is locked."""
        s = services.settings
        _, q = await _in_thread(services, lambda conn: _quote(s, conn, order_id, amount))
        return _view(order_id, q)

    @post("/swaps", operation_id="openThbSwap", status_code=201)
    async def open(self, services: Services, wallet: str, data: OpenSwapRequest) -> SwapOpened:
        """Open a swap under the buyer's hash lock; returns the EVM transactions its wallet signs."""
        s = services.settings
        return await _in_thread(services, lambda conn: _open(s, conn, wallet, data))

    @get("/swaps/{swap_id:uuid}", operation_id="getThbSwap")
    async def status(self, services: Services, wallet: str, swap_id: uuid.UUID) -> dict[str, Any]:
        """The swap's state on both chains and every step recorded (never the secret)."""
        configured_contracts(services.settings)
        return await _in_thread(services, lambda conn: _status(conn, wallet, swap_id))

    @get("/swaps", operation_id="listMyThbSwaps")
    async def history(
        self, services: Services, wallet: str, limit: Annotated[int, Parameter(ge=1, le=500)] = 100
    ) -> list[dict[str, Any]]:
        """The caller's swaps, as buyer or seller, newest first."""
        configured_contracts(services.settings)
        return await _in_thread(services, lambda conn: swap_history(conn, wallet, limit))

    @post("/swaps/{swap_id:uuid}/claim", operation_id="requestThbSwapClaim", status_code=202)
    async def claim(self, services: Services, wallet: str, swap_id: uuid.UUID, data: ClaimRequest) -> ClaimAccepted:
        """The buyer hands the relayer its secret to claim the GRXE (the claim makes it public
        anyway); refused unless it is exactly 32 bytes and opens this swap's hash lock."""
        configured_contracts(services.settings)
        secret = bytes.fromhex(data.secret[2:])
        return await _in_thread(services, lambda conn: _claim(conn, wallet, swap_id, secret))

    @post("/swaps/{swap_id:uuid}/lock", operation_id="prepareThbSellerLock", status_code=201)
    async def seller_lock(self, services: Services, wallet: str, swap_id: uuid.UUID) -> SellerLockPrepared:
        """The seller's Solana lock (GRXE from its sell order into a hash lock for the buyer) as an
        unsigned transaction to sign and submit with ``POST /transactions/{tx_id}``. Refused
        unless the buyer's THBC lock is final with the swap's terms (``swap_buyer_not_locked``)
        and outlives the Solana lock by delta (``swap_too_late``), or when the seller's lock is
        already there (``swap_seller_already_locked``)."""
        configured_contracts(services.settings)
        rec = await _in_thread(services, lambda conn: _seller_swap(conn, wallet, swap_id))
        return await _prepare_seller_lock(services, wallet, rec)

    @post("/swaps/{swap_id:uuid}/close", operation_id="prepareThbSellerClose", status_code=201)
    async def seller_close(self, services: Services, wallet: str, swap_id: uuid.UUID) -> PreparedTx:
        """Once the swap is completed or refunded, the seller's unsigned ``hashlock_close``: the
        lock account's rent goes back to the seller (submit with ``POST /transactions/{tx_id}``)."""
        configured_contracts(services.settings)
        rec = await _in_thread(services, lambda conn: _seller_swap(conn, wallet, swap_id))
        return await _prepare_seller_close(services, wallet, rec)

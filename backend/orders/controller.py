"""``/orders`` and ``/transactions``: prepare an order or a cancel, submit what the wallet signed."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any, Literal

from litestar import Controller, get, post
from litestar.params import Parameter
from pydantic import BaseModel, ConfigDict, Field
from solders.pubkey import Pubkey

from backend._errors import ApiError, Problem
from backend._idempotency import fingerprint, idempotent
from backend._metrics import ORDERS
from backend._state import Services
from backend._txflow import PreparedTx, SubmitResult, build_unsigned, prepare_tx, prepared, submit_tx
from backend.market import Side, StpMode, TimeInForce
from gridx.chain import (
    ata_address,
    build_cancel_order_ix,
    build_create_buy_order_ix,
    build_create_sell_order_ix,
)

from ._rules import check_order

if TYPE_CHECKING:
    from psycopg import AsyncConnection

__all__ = ["OrderController", "TransactionController"]


class OrderRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    market: str = Field(max_length=64)
    side: Literal["sell", "buy"]
    price: int = Field(gt=0, le=2**63 - 1, description="GRX base units per 1 GRXE (10^6 energy base units)")
    amount: int = Field(gt=0, le=2**63 - 1, description="GRXE base units (10^6 per kWh)")
    time_in_force: TimeInForce = TimeInForce.GTC
    stp_mode: StpMode | None = None


class OrderPrepared(PreparedTx):
    order_id: int
    market: str
    side: str
    price: int
    amount: int
    escrow: int
    fee_bps: int


class SignedTx(BaseModel):
    model_config = ConfigDict(extra="forbid")
    transaction: str = Field(max_length=4096, description="base64 wire transaction, signed")


class OrderView(BaseModel):
    order_id: int
    market: str
    owner: str
    side: str
    price: int
    amount: int
    remaining: int
    status: str
    reason: str | None
    time_in_force: str
    tx_signature: str | None


_ORDER_COLS = "id, market, owner, side, price, amount, remaining, status, reason, time_in_force, tx_signature"


def _view(row: Any) -> OrderView:
    keys = ("order_id", "market", "owner", "side", "price", "amount", "remaining", "status", "reason", "time_in_force")
    return OrderView(**dict(zip(keys, row[:10], strict=True)), tx_signature=row[10])


async def _prepare_order(
    services: Services, conn: AsyncConnection[Any], wallet: str, data: OrderRequest
) -> dict[str, Any]:
    market = services.market_by_id(data.market)
    side = Side.SELL if data.side == "sell" else Side.BUY
    escrow = check_order(market, side, data.price, data.amount)
    owner = Pubkey.from_string(wallet)
    mint = market.keys.energy_mint if side == Side.SELL else market.keys.payment_mint
    held = await services.reads.token_balance(ata_address(owner, mint))
    if held < escrow:
        what = "GRXE" if side == Side.SELL else "GRX"
        raise ApiError(
            Problem.INSUFFICIENT_BALANCE,
            f"escrow needs {escrow} {what} base units; the wallet holds {held}",
            needed=escrow,
            held=held,
        )
    # two statements, each atomic on its own: an order id (a gap if refused is harmless), then
    # the order and its exact transaction together
    row = await (
        await conn.execute("SELECT nextval('order_ids'), EXISTS (SELECT 1 FROM users WHERE wallet = %s)", (wallet,))
    ).fetchone()
    assert row is not None
    if not row[1]:
        raise ApiError(Problem.NOT_REGISTERED, "register the wallet first (POST /users)")
    oid = int(row[0])
    build = build_create_sell_order_ix if side == Side.SELL else build_create_buy_order_ix
    wire, message, height = await build_unsigned(
        services, wallet, [build(owner, market.keys, oid, data.amount, data.price)]
    )
    stp = data.stp_mode.value if data.stp_mode else "market"
    tx = await (
        await conn.execute(
            """WITH o AS (INSERT INTO orders (id, market, owner, side, price, amount, remaining, escrow,
                                             time_in_force, stp_mode)
                          VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s))
               INSERT INTO prepared_txs (wallet, kind, order_id, message, last_valid_height)
               VALUES (%s, 'order', %s, %s, %s) RETURNING id""",
            (
                oid,
                market.id,
                wallet,
                data.side,
                data.price,
                data.amount,
                data.amount,
                escrow,
                data.time_in_force.value,
                stp,
                wallet,
                oid,
                message,
                height,
            ),
        )
    ).fetchone()
    assert tx is not None
    out = prepared(int(tx[0]), wire, height)
    ORDERS.labels(data.side).inc()
    return OrderPrepared(
        **out.model_dump(),
        order_id=oid,
        market=market.id,
        side=data.side,
        price=data.price,
        amount=data.amount,
        escrow=escrow,
        fee_bps=market.fee_bps,
    ).model_dump()


class OrderController(Controller):
    path = "/orders"
    tags = ["orders"]

    @post("/", operation_id="prepareOrder", status_code=201)
    async def prepare(
        self,
        services: Services,
        wallet: str,
        data: OrderRequest,
        idempotency_key: Annotated[str | None, Parameter(header="Idempotency-Key", pattern=r"^[!-~]{1,255}$")] = None,
    ) -> OrderPrepared:
        """Validate (tick, lot, balance) and return the unsigned escrow transaction to sign."""
        fp = fingerprint("POST", "/orders", data.model_dump(mode="json"))
        out = await idempotent(
            services, wallet, idempotency_key, fp, lambda conn: _prepare_order(services, conn, wallet, data)
        )
        return OrderPrepared(**out)

    @get("/", operation_id="listMyOrders")
    async def mine(
        self, services: Services, wallet: str, limit: Annotated[int, Parameter(ge=1, le=500)] = 100
    ) -> list[OrderView]:
        async with services.pool.connection() as conn:
            rows = await (
                await conn.execute(
                    f"SELECT {_ORDER_COLS} FROM orders WHERE owner = %s ORDER BY id DESC LIMIT %s",  # noqa: S608
                    (wallet, limit),
                )
            ).fetchall()
        return [_view(r) for r in rows]

    @get("/{order_id:int}", operation_id="getOrder")
    async def one(self, services: Services, wallet: str, order_id: int) -> OrderView:
        async with services.pool.connection() as conn:
            row = await (
                await conn.execute(f"SELECT {_ORDER_COLS} FROM orders WHERE id = %s", (order_id,))  # noqa: S608
            ).fetchone()
        if row is None or row[2] != wallet:
            raise ApiError(Problem.NOT_FOUND, f"no order {order_id} of this wallet")
        return _view(row)

    @post("/{order_id:int}/cancel", operation_id="prepareCancel", status_code=201)
    async def cancel(self, services: Services, wallet: str, order_id: int) -> PreparedTx:
        """The unsigned cancel transaction (refunds the escrow) for the owner to sign."""
        async with services.pool.connection() as conn, conn.transaction():
            row = await (
                await conn.execute("SELECT owner, side, status FROM orders WHERE id = %s", (order_id,))
            ).fetchone()
            if row is None:
                raise ApiError(Problem.NOT_FOUND, f"no order {order_id}")
            if row[0] != wallet:
                raise ApiError(Problem.NOT_ORDER_OWNER, "only the order's owner can cancel it")
            if row[2] not in ("open", "removed", "cancelling"):
                raise ApiError(Problem.ORDER_NOT_OPEN, f"order {order_id} is {row[2]}")
            ix = build_cancel_order_ix(Pubkey.from_string(wallet), services.market.keys, order_id, row[1] == "sell")
            return await prepare_tx(services, conn, wallet, "cancel", [ix], order_id=order_id)


class TransactionController(Controller):
    path = "/transactions"
    tags = ["transactions"]

    @post("/{tx_id:int}", operation_id="submitTransaction", status_code=200)
    async def submit(self, services: Services, wallet: str, tx_id: int, data: SignedTx) -> SubmitResult:
        """Submit the signed transaction: accepted only if it is exactly the one prepared."""
        return await submit_tx(services, wallet, tx_id, data.transaction)

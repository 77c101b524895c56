"""``/users`` (registration through the chain), ``/me`` and ``/faucet`` (local clusters only)."""

from __future__ import annotations

from typing import Literal

from litestar import Controller, get, post
from pydantic import BaseModel, ConfigDict, Field
from solders.pubkey import Pubkey

from gridx.chain import (
    CONSUMER,
    PROSUMER,
    ata_address,
    build_register_user_ix,
    create_ata_ix,
    fetch_account,
    mint_to_ix,
    send_and_confirm,
    user_pda,
)

from ._errors import ApiError, Problem
from ._state import Services
from ._txflow import PreparedTx, prepare_tx

__all__ = ["AccountController"]


class RegisterRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    user_type: Literal["prosumer", "consumer"]


class Me(BaseModel):
    wallet: str
    registration: Literal["registered", "pending", "not_registered"]
    user_type: str | None


class Balances(BaseModel):
    wallet: str
    grxe: int  # base units in the wallet's GRXE token account
    grx: int
    grxe_in_orders: int  # escrowed by open orders (on chain, in the market's vault)
    grx_in_orders: int


class FaucetRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    amount: int = Field(gt=0, le=10**12)


async def _balances(services: Services, wallet: str) -> Balances:
    owner, keys = Pubkey.from_string(wallet), services.market.keys
    async with services.pool.connection() as conn:
        rows = await (
            await conn.execute(
                """SELECT side, coalesce(sum(CASE WHEN side = 'sell' THEN remaining ELSE escrow END), 0)::bigint
                     FROM orders WHERE owner = %s AND status IN ('open', 'cancelling', 'removed') GROUP BY side""",
                (wallet,),
            )
        ).fetchall()
    held: dict[str, int] = {str(k): int(v) for k, v in rows}
    return Balances(
        wallet=wallet,
        grxe=await services.reads.token_balance(ata_address(owner, keys.energy_mint)),
        grx=await services.reads.token_balance(ata_address(owner, keys.payment_mint)),
        grxe_in_orders=held.get("sell", 0),
        grx_in_orders=held.get("buy", 0),
    )


class AccountController(Controller):
    tags = ["accounts"]

    @post("/users", operation_id="prepareRegistration", status_code=201)
    async def register(self, services: Services, wallet: str, data: RegisterRequest) -> PreparedTx:
        """The unsigned registration (user account on chain, GRXE and GRX token accounts); the
        user row appears when the chain confirms it."""
        owner = Pubkey.from_string(wallet)
        keys = services.market.keys
        ixs = [
            build_register_user_ix(owner, PROSUMER if data.user_type == "prosumer" else CONSUMER),
            create_ata_ix(owner, owner, keys.energy_mint),
            create_ata_ix(owner, owner, keys.payment_mint),
        ]
        async with services.pool.connection() as conn, conn.transaction():
            return await prepare_tx(services, conn, wallet, "register", ixs)

    @get("/me", operation_id="getMe")
    async def me(self, services: Services, wallet: str) -> Me:
        async with services.pool.connection() as conn:
            row = await (await conn.execute("SELECT user_type FROM users WHERE wallet = %s", (wallet,))).fetchone()
        if row is not None:
            return Me(wallet=wallet, registration="registered", user_type=row[0])
        # the chain is the source of truth: registered there, not yet indexed here
        on_chain = await fetch_account(services.chain, user_pda(Pubkey.from_string(wallet)))
        return Me(wallet=wallet, registration="pending" if on_chain else "not_registered", user_type=None)

    @get("/me/balances", operation_id="getMyBalances")
    async def balances(self, services: Services, wallet: str) -> Balances:
        return await _balances(services, wallet)

    @post("/faucet", operation_id="faucet", status_code=200)
    async def faucet(self, services: Services, wallet: str, data: FaucetRequest) -> Balances:
        """Test GRX for local and dev clusters; refused unless GRIDX_API_FAUCET is on."""
        if not services.settings.faucet:
            raise ApiError(Problem.FAUCET_DISABLED, "the faucet is off on this deployment")
        owner, pay = Pubkey.from_string(wallet), services.market.keys.payment_mint
        auth = services.authority
        await send_and_confirm(
            services.chain,
            [
                create_ata_ix(auth.pubkey(), owner, pay),
                mint_to_ix(pay, ata_address(owner, pay), auth.pubkey(), data.amount),
            ],
            [auth],
        )
        return await _balances(services, wallet)

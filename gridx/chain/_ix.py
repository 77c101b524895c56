"""Typed instruction builders for registry, energy_token and trading.

Each returns a ``solders`` Instruction; PDAs are derived here so callers pass only keys that
mean something to them (wallets, meters, order ids)."""

from __future__ import annotations

from dataclasses import dataclass

from solders.instruction import Instruction
from solders.pubkey import Pubkey

from ._idl import idl_program
from ._ids import (
    ata_address,
    edge_seed,
    energy_vault_pda,
    grxe_mint_pda,
    market_pda,
    meter_pda,
    mint_authority_pda,
    minter_pda,
    order_pda,
    payment_vault_pda,
    program_ids,
    registry_config_pda,
    token_config_pda,
    user_pda,
)
from ._signed import ed25519_ix, enrolment_message

__all__ = [
    "CONSUMER",
    "METER_ACTIVE",
    "METER_REVOKED",
    "PROSUMER",
    "MarketKeys",
    "build_accept_authority_ix",
    "build_add_minter_ix",
    "build_cancel_order_ix",
    "build_create_buy_order_ix",
    "build_create_sell_order_ix",
    "build_energy_token_initialize_ix",
    "build_initialize_market_ix",
    "build_match_order_ix",
    "build_propose_authority_ix",
    "build_register_meter_ixs",
    "build_register_user_ix",
    "build_registry_initialize_ix",
    "build_remove_minter_ix",
    "build_replace_meter_ixs",
    "build_set_meter_status_ix",
    "build_update_meter_ix",
]

PROSUMER, CONSUMER = 0, 1
METER_ACTIVE, METER_REVOKED = 0, 1


# ------------------------------------------------------------------ registry
def build_registry_initialize_ix(deployer: Pubkey, authority: Pubkey) -> Instruction:
    """Only the compiled-in deployer may initialise; ``authority`` runs the registry."""
    return idl_program("registry").build(
        "initialize", {"authority": authority}, {"deployer": deployer, "config": registry_config_pda()}
    )


def build_register_user_ix(wallet: Pubkey, user_type: int) -> Instruction:
    return idl_program("registry").build(
        "register_user",
        {"user_type": user_type},
        {"wallet": wallet, "config": registry_config_pda(), "user": user_pda(wallet)},
    )


def build_register_meter_ixs(
    owner: Pubkey,
    authority: Pubkey,
    meter: Pubkey,
    edge_id: bytes,
    rated_power_w: int,
    interval_s: int,
    proof: bytes,
) -> list[Instruction]:
    """[Ed25519 check of the meter's enrolment proof, register_meter]. Owner pays and signs; the
    registry authority co-signs (DESIGN §2); ``proof`` is the meter key's signature over
    :func:`enrolment_message` (``sign_enrolment``), so nobody enrols a key they do not hold."""
    msg = enrolment_message(meter, owner, edge_id)
    reg = idl_program("registry").build(
        "register_meter",
        {
            "meter": meter,
            "edge_id": list(edge_seed(edge_id)),
            "rated_power_w": rated_power_w,
            "interval_s": interval_s,
        },
        {
            "owner": owner,
            "authority": authority,
            "config": registry_config_pda(),
            "owner_user": user_pda(owner),
            "meter_account": meter_pda(meter),
        },
    )
    return [ed25519_ix(bytes(meter), proof, msg), reg]


def build_replace_meter_ixs(
    owner: Pubkey,
    authority: Pubkey,
    old_meter: Pubkey,
    new_meter: Pubkey,
    edge_id: bytes,
    rated_power_w: int,
    interval_s: int,
    proof: bytes,
) -> list[Instruction]:
    """Key rotation or a replaced meter (re-enrolment), atomically: revoke the old key, enrol
    the new one with its proof of possession. The meter key is the on-chain identity, so the new
    key has its own MeterAccount and MintState; its windows start after this enrolment."""
    return [
        build_set_meter_status_ix(authority, old_meter, METER_REVOKED),
        *build_register_meter_ixs(owner, authority, new_meter, edge_id, rated_power_w, interval_s, proof),
    ]


def build_set_meter_status_ix(authority: Pubkey, meter: Pubkey, status: int) -> Instruction:
    """Revoke (1) or un-revoke (0) a meter."""
    return idl_program("registry").build(
        "set_meter_status",
        {"status": status},
        {"authority": authority, "config": registry_config_pda(), "meter_account": meter_pda(meter)},
    )


def build_update_meter_ix(authority: Pubkey, meter: Pubkey, rated_power_w: int = 0, interval_s: int = 0) -> Instruction:
    """Change a meter's rated power and/or interval (0 keeps the current value)."""
    return idl_program("registry").build(
        "update_meter",
        {"rated_power_w": rated_power_w, "interval_s": interval_s},
        {"authority": authority, "config": registry_config_pda(), "meter_account": meter_pda(meter)},
    )


def build_propose_authority_ix(authority: Pubkey, new_authority: Pubkey) -> Instruction:
    """Step one of a rotation; ``build_accept_authority_ix`` signed by the new key completes it."""
    return idl_program("registry").build(
        "propose_authority", {"new_authority": new_authority}, {"authority": authority, "config": registry_config_pda()}
    )


def build_accept_authority_ix(new_authority: Pubkey) -> Instruction:
    return idl_program("registry").build(
        "accept_authority", {}, {"new_authority": new_authority, "config": registry_config_pda()}
    )


# ------------------------------------------------------------------ energy_token
def build_energy_token_initialize_ix(deployer: Pubkey, admin: Pubkey) -> Instruction:
    return idl_program("energy_token").build(
        "initialize",
        {"registry_program": program_ids().registry, "admin": admin},
        {
            "deployer": deployer,
            "config": token_config_pda(),
            "mint": grxe_mint_pda(),
            "mint_authority": mint_authority_pda(),
        },
    )


def build_add_minter_ix(admin: Pubkey, minter: Pubkey, edge_id: str | bytes) -> Instruction:
    """Authorise ``minter`` for the meters of one edge."""
    return idl_program("energy_token").build(
        "add_minter",
        {"minter": minter, "edge_id": list(edge_seed(edge_id))},
        {"admin": admin, "config": token_config_pda(), "minter_account": minter_pda(minter, edge_id)},
    )


def build_remove_minter_ix(admin: Pubkey, minter: Pubkey, edge_id: str | bytes) -> Instruction:
    return idl_program("energy_token").build(
        "remove_minter",
        {"minter": minter, "edge_id": list(edge_seed(edge_id))},
        {"admin": admin, "config": token_config_pda(), "minter_account": minter_pda(minter, edge_id)},
    )


# ------------------------------------------------------------------ trading
@dataclass(frozen=True)
class MarketKeys:
    """Addresses of one market (energy mint x payment mint) and its fee account."""

    energy_mint: Pubkey
    payment_mint: Pubkey
    fee_account: Pubkey

    @property
    def address(self) -> Pubkey:
        return market_pda(self.energy_mint, self.payment_mint)

    @property
    def energy_vault(self) -> Pubkey:
        return energy_vault_pda(self.address)

    @property
    def payment_vault(self) -> Pubkey:
        return payment_vault_pda(self.address)


def build_initialize_market_ix(deployer: Pubkey, authority: Pubkey, market: MarketKeys, fee_bps: int) -> Instruction:
    """Only the compiled-in deployer may create a market; ``authority`` becomes its matcher."""
    return idl_program("trading").build(
        "initialize_market",
        {"fee_bps": fee_bps, "authority": authority},
        {
            "deployer": deployer,
            "market": market.address,
            "energy_mint": market.energy_mint,
            "payment_mint": market.payment_mint,
            "energy_vault": market.energy_vault,
            "payment_vault": market.payment_vault,
            "fee_account": market.fee_account,
        },
    )


def build_create_sell_order_ix(
    owner: Pubkey, market: MarketKeys, order_id: int, amount: int, price: int, source: Pubkey | None = None
) -> Instruction:
    """Escrow ``amount`` GRXE base units; ``price`` is payment base units per 1 GRXE (1e6 base units)."""
    return idl_program("trading").build(
        "create_sell_order",
        {"order_id": order_id, "amount": amount, "price": price},
        {
            "owner": owner,
            "market": market.address,
            "order": order_pda(owner, order_id),
            "owner_energy_account": source or ata_address(owner, market.energy_mint),
            "energy_vault": market.energy_vault,
        },
    )


def build_create_buy_order_ix(
    owner: Pubkey, market: MarketKeys, order_id: int, amount: int, price: int, source: Pubkey | None = None
) -> Instruction:
    return idl_program("trading").build(
        "create_buy_order",
        {"order_id": order_id, "amount": amount, "price": price},
        {
            "owner": owner,
            "market": market.address,
            "order": order_pda(owner, order_id),
            "owner_payment_account": source or ata_address(owner, market.payment_mint),
            "payment_vault": market.payment_vault,
        },
    )


def build_cancel_order_ix(
    owner: Pubkey,
    market: MarketKeys,
    order_id: int,
    is_sell: bool,
    refund_account: Pubkey | None = None,
    vault: Pubkey | None = None,
) -> Instruction:
    mint = market.energy_mint if is_sell else market.payment_mint
    return idl_program("trading").build(
        "cancel_order",
        {},
        {
            "owner": owner,
            "market": market.address,
            "order": order_pda(owner, order_id),
            "refund_account": refund_account or ata_address(owner, mint),
            "vault": vault or (market.energy_vault if is_sell else market.payment_vault),
        },
    )


def build_release_order_ix(
    authority: Pubkey,
    market: MarketKeys,
    owner: Pubkey,
    order_id: int,
    is_sell: bool,
    overrides: dict[str, Pubkey] | None = None,
) -> Instruction:
    """The market authority returns a removed order's escrow to the owner's own token account
    (the program refuses any other destination; ``overrides`` exists for the attack tests)."""
    mint = market.energy_mint if is_sell else market.payment_mint
    accounts = {
        "authority": authority,
        "market": market.address,
        "order": order_pda(owner, order_id),
        "owner": owner,
        "refund_account": ata_address(owner, mint),
        "vault": market.energy_vault if is_sell else market.payment_vault,
    }
    return idl_program("trading").build("release_order", {}, {**accounts, **(overrides or {})})


def build_match_order_ix(
    authority: Pubkey,
    market: MarketKeys,
    seller: Pubkey,
    sell_order_id: int,
    buyer: Pubkey,
    buy_order_id: int,
    amount: int,
    overrides: dict[str, Pubkey] | None = None,
) -> Instruction:
    """Settle ``amount`` energy base units at the sell price. ``overrides`` replaces named
    accounts (tests use it to prove wrong vaults or token accounts are refused)."""
    accounts = {
        "authority": authority,
        "market": market.address,
        "sell_order": order_pda(seller, sell_order_id),
        "buy_order": order_pda(buyer, buy_order_id),
        "seller": seller,
        "buyer": buyer,
        "seller_payment_account": ata_address(seller, market.payment_mint),
        "buyer_energy_account": ata_address(buyer, market.energy_mint),
        "buyer_payment_account": ata_address(buyer, market.payment_mint),
        "fee_account": market.fee_account,
        "energy_vault": market.energy_vault,
        "payment_vault": market.payment_vault,
    }
    accounts.update(overrides or {})
    return idl_program("trading").build("match_order", {"amount": amount}, accounts)

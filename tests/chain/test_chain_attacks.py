"""Attacks on the three SBF programs in LiteSVM: each fails with its named error and changes no
token balance, no supply and (preflight) no fee payer's lamports."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from solders.instruction import AccountMeta, Instruction
from solders.keypair import Keypair

import gridx.chain as c
from tests.helpers.chain import (
    EDGE,
    REGISTERED_AT,
    T0,
    MeterChain,
    World,
    assert_refused,
    build_world,
    register_meter_ixs,
)


@pytest.fixture
def w() -> World:
    return build_world()


# ---------------------------------------------------------------- attacks
def _consumer_meter(w: World) -> tuple[list[Instruction], list[Keypair]]:
    meter = MeterChain()
    w.svm.send(register_meter_ixs(w.consumer, w.authority, meter.key), [w.consumer, w.authority], at=REGISTERED_AT)
    return w.mint_ixs([meter.reading(T0, 1000)], meter=meter.pubkey, owner=w.consumer.pubkey()), [w.gateway]


def _mint_wrong_mint(w: World) -> tuple[list[Instruction], list[Keypair]]:
    check, ix = w.mint(T0, 1000)
    metas = list(ix.accounts)
    metas[6] = AccountMeta(w.market.payment_mint, False, True)
    metas[8] = AccountMeta(c.ata_address(w.prosumer.pubkey(), w.market.payment_mint), False, True)
    return [check, Instruction(ix.program_id, ix.data, metas)], [w.gateway]


def _status_by_stranger(w: World) -> tuple[list[Instruction], list[Keypair]]:
    return [c.build_set_meter_status_ix(w.prosumer.pubkey(), w.meter, c.METER_REVOKED)], [w.prosumer]


def _add_minter_by_stranger(w: World) -> tuple[list[Instruction], list[Keypair]]:
    return [c.build_add_minter_ix(w.prosumer.pubkey(), w.prosumer.pubkey(), EDGE)], [w.prosumer]


def _with_orders(w: World) -> None:
    w.svm.send(w.mint(T0, 1000), [w.gateway])
    w.svm.send([c.build_create_sell_order_ix(w.prosumer.pubkey(), w.market, 1, 1_000_000, 400_000)], [w.prosumer])
    w.svm.send([c.build_create_buy_order_ix(w.consumer.pubkey(), w.market, 2, 1_000_000, 500_000)], [w.consumer])


def _cancel_by_stranger(w: World) -> tuple[list[Instruction], list[Keypair]]:
    _with_orders(w)
    ix = c.build_cancel_order_ix(
        w.prosumer.pubkey(), w.market, 1, is_sell=True, refund_account=c.ata_address(w.consumer.pubkey(), w.grxe)
    )
    metas = [AccountMeta(w.consumer.pubkey(), True, True), *ix.accounts[1:]]
    return [Instruction(ix.program_id, ix.data, metas)], [w.consumer]


def _self_trade(w: World) -> tuple[list[Instruction], list[Keypair]]:
    _with_orders(w)
    w.svm.send(
        [
            c.mint_to_ix(
                w.market.payment_mint,
                c.ata_address(w.prosumer.pubkey(), w.market.payment_mint),
                w.market_auth.pubkey(),
                1_000_000,
            )
        ],
        [w.market_auth],
    )
    w.svm.send([c.build_create_buy_order_ix(w.prosumer.pubkey(), w.market, 3, 1_000_000, 500_000)], [w.prosumer])
    ix = c.build_match_order_ix(
        w.market_auth.pubkey(), w.market, w.prosumer.pubkey(), 1, w.prosumer.pubkey(), 3, 1_000_000
    )
    return [ix], [w.market_auth]


def _match_by_stranger(w: World) -> tuple[list[Instruction], list[Keypair]]:
    _with_orders(w)
    ix = c.build_match_order_ix(
        w.consumer.pubkey(), w.market, w.prosumer.pubkey(), 1, w.consumer.pubkey(), 2, 1_000_000
    )
    return [ix], [w.consumer]


def _match_wrong_vault(w: World) -> tuple[list[Instruction], list[Keypair]]:
    _with_orders(w)
    ix = c.build_match_order_ix(
        w.market_auth.pubkey(),
        w.market,
        w.prosumer.pubkey(),
        1,
        w.consumer.pubkey(),
        2,
        1_000_000,
        {"energy_vault": c.ata_address(w.prosumer.pubkey(), w.grxe)},
    )
    return [ix], [w.market_auth]


def _match_wrong_buyer_account(w: World) -> tuple[list[Instruction], list[Keypair]]:
    _with_orders(w)
    ix = c.build_match_order_ix(
        w.market_auth.pubkey(),
        w.market,
        w.prosumer.pubkey(),
        1,
        w.consumer.pubkey(),
        2,
        1_000_000,
        {"buyer_energy_account": c.ata_address(w.prosumer.pubkey(), w.grxe)},
    )
    return [ix], [w.market_auth]


def _sell_from_payment_account(w: World) -> tuple[list[Instruction], list[Keypair]]:
    src = c.ata_address(w.consumer.pubkey(), w.market.payment_mint)
    return [c.build_create_sell_order_ix(w.consumer.pubkey(), w.market, 9, 1000, 1, source=src)], [w.consumer]


def _escrow_into_own_account(w: World) -> tuple[list[Instruction], list[Keypair]]:
    ix = c.build_create_buy_order_ix(w.consumer.pubkey(), w.market, 9, 1_000_000, 500_000)
    metas = list(ix.accounts)
    metas[4] = AccountMeta(c.ata_address(w.prosumer.pubkey(), w.market.payment_mint), False, True)
    return [Instruction(ix.program_id, ix.data, metas)], [w.consumer]


def _buy_overflow(w: World) -> tuple[list[Instruction], list[Keypair]]:
    return [c.build_create_buy_order_ix(w.consumer.pubkey(), w.market, 9, 2**64 - 1, 2**64 - 1)], [w.consumer]


def _over_fill(w: World) -> tuple[list[Instruction], list[Keypair]]:
    _with_orders(w)
    ix = c.build_match_order_ix(
        w.market_auth.pubkey(), w.market, w.prosumer.pubkey(), 1, w.consumer.pubkey(), 2, 1_000_001
    )
    return [ix], [w.market_auth]


def _price_not_crossed(w: World) -> tuple[list[Instruction], list[Keypair]]:
    _with_orders(w)
    w.svm.send([c.build_create_buy_order_ix(w.consumer.pubkey(), w.market, 4, 1_000_000, 300_000)], [w.consumer])
    ix = c.build_match_order_ix(
        w.market_auth.pubkey(), w.market, w.prosumer.pubkey(), 1, w.consumer.pubkey(), 4, 1_000_000
    )
    return [ix], [w.market_auth]


def _sell_zero(w: World) -> tuple[list[Instruction], list[Keypair]]:
    return [c.build_create_sell_order_ix(w.prosumer.pubkey(), w.market, 9, 0, 1)], [w.prosumer]


def _match(w: World, sell_id: int = 1, buy_id: int = 2, amount: int = 1_000_000, **overrides: object) -> Instruction:
    return c.build_match_order_ix(
        w.market_auth.pubkey(), w.market, w.prosumer.pubkey(), sell_id, w.consumer.pubkey(), buy_id, amount, overrides
    )  # type: ignore[arg-type]


def _match_swapped_orders(w: World) -> tuple[list[Instruction], list[Keypair]]:
    _with_orders(w)
    ix = _match(w, sell_order=c.order_pda(w.consumer.pubkey(), 2), buy_order=c.order_pda(w.prosumer.pubkey(), 1))
    return [ix], [w.market_auth]


def _match_wrong_fee_account(w: World) -> tuple[list[Instruction], list[Keypair]]:
    _with_orders(w)
    return [_match(w, fee_account=c.ata_address(w.prosumer.pubkey(), w.market.payment_mint))], [w.market_auth]


def _match_rent_to_stranger(w: World) -> tuple[list[Instruction], list[Keypair]]:
    _with_orders(w)
    return [_match(w, seller=w.market_auth.pubkey())], [w.market_auth]


def _match_trade_too_small(w: World) -> tuple[list[Instruction], list[Keypair]]:
    _with_orders(w)
    return [_match(w, amount=1)], [w.market_auth]  # 1 base unit at 0.4 payment units: pays 0


def _cancel_wrong_vault(w: World) -> tuple[list[Instruction], list[Keypair]]:
    _with_orders(w)
    ix = c.build_cancel_order_ix(w.prosumer.pubkey(), w.market, 1, is_sell=True, vault=w.market.payment_vault)
    return [ix], [w.prosumer]


def _order_of_other_market(w: World) -> tuple[list[Instruction], list[Keypair]]:
    _with_orders(w)
    pay2 = Keypair()
    rent = w.svm.chain.svm.minimum_balance_for_rent_exemption(82)
    auth = w.market_auth
    w.svm.send(c.create_mint_ixs(auth.pubkey(), pay2.pubkey(), 6, auth.pubkey(), rent), [auth, pay2])
    fee2 = c.ata_address(auth.pubkey(), pay2.pubkey())
    m2 = c.MarketKeys(w.grxe, pay2.pubkey(), fee2)
    buyer_pay2 = c.ata_address(w.consumer.pubkey(), pay2.pubkey())
    w.svm.send(
        [
            c.create_ata_ix(auth.pubkey(), auth.pubkey(), pay2.pubkey()),
            c.create_ata_ix(auth.pubkey(), w.consumer.pubkey(), pay2.pubkey()),
            c.mint_to_ix(pay2.pubkey(), buyer_pay2, auth.pubkey(), 10**9),
        ],
        [auth],
    )
    deployer = c.deployer_keypair()
    w.svm.send([c.build_initialize_market_ix(deployer.pubkey(), auth.pubkey(), m2, 0)], [deployer])
    w.svm.send([c.build_create_buy_order_ix(w.consumer.pubkey(), m2, 5, 1_000_000, 900_000)], [w.consumer])
    return [_match(w, buy_id=5)], [w.market_auth]


def _meter_mismatch(w: World) -> tuple[list[Instruction], list[Keypair]]:
    other = MeterChain()
    w.svm.send(register_meter_ixs(w.prosumer, w.authority, other.key, rated_w=10**6), [w.prosumer, w.authority])
    check, ix = w.mint(T0, 2_000)  # above w.meter's limit, within other's
    metas = list(ix.accounts)
    metas[3] = AccountMeta(c.meter_pda(other.pubkey), False, False)
    return [check, Instruction(ix.program_id, ix.data, metas)], [w.gateway]


def _bad_user_type(w: World) -> tuple[list[Instruction], list[Keypair]]:
    kp = w.svm.funded()
    return [c.build_register_user_ix(kp.pubkey(), 2)], [kp]


def _bad_meter_status(w: World) -> tuple[list[Instruction], list[Keypair]]:
    return [c.build_set_meter_status_ix(w.authority.pubkey(), w.meter, 7)], [w.authority]


def _register_user_twice(w: World) -> tuple[list[Instruction], list[Keypair]]:
    return [c.build_register_user_ix(w.prosumer.pubkey(), c.PROSUMER)], [w.prosumer]


def _sell_more_than_balance(w: World) -> tuple[list[Instruction], list[Keypair]]:
    w.svm.send(w.mint(T0, 1), [w.gateway])
    return [c.build_create_sell_order_ix(w.prosumer.pubkey(), w.market, 9, 1001, 1)], [w.prosumer]


ATTACKS: dict[str, tuple[str, Callable[[World], tuple[list[Instruction], list[Keypair]]]]] = {
    "consumer_meter": ("NotProsumer", _consumer_meter),
    "mint_wrong_mint": ("InvalidMint", _mint_wrong_mint),
    "status_by_stranger": ("Unauthorized", _status_by_stranger),
    "add_minter_by_stranger": ("Unauthorized", _add_minter_by_stranger),
    "cancel_by_stranger": ("Unauthorized", _cancel_by_stranger),
    "self_trade": ("SelfTrade", _self_trade),
    "match_by_stranger": ("Unauthorized", _match_by_stranger),
    "match_wrong_escrow_vault": ("InvalidVault", _match_wrong_vault),
    "match_wrong_buyer_account": ("InvalidTokenAccount", _match_wrong_buyer_account),
    "sell_from_payment_mint_account": ("InvalidTokenAccount", _sell_from_payment_account),
    "escrow_into_own_account": ("InvalidVault", _escrow_into_own_account),
    "buy_escrow_overflow": ("ArithmeticOverflow", _buy_overflow),
    "over_fill": ("InsufficientRemaining", _over_fill),
    "price_not_crossed": ("PriceNotCrossed", _price_not_crossed),
    "sell_zero_amount": ("ZeroAmount", _sell_zero),
    "match_swapped_orders": ("InvalidSide", _match_swapped_orders),
    "match_wrong_fee_account": ("InvalidFeeAccount", _match_wrong_fee_account),
    "match_rent_to_stranger": ("Unauthorized", _match_rent_to_stranger),
    "match_trade_too_small": ("TradeTooSmall", _match_trade_too_small),
    "cancel_wrong_vault": ("InvalidVault", _cancel_wrong_vault),
    "order_of_other_market": ("MarketMismatch", _order_of_other_market),
    "meter_account_of_another_meter": ("InvalidPda", _meter_mismatch),
    "bad_user_type": ("InvalidUserType", _bad_user_type),
    "bad_meter_status": ("InvalidMeterStatus", _bad_meter_status),
    "register_user_twice": ("AccountAlreadyInitialized", _register_user_twice),
    "sell_more_than_balance": ("InsufficientFunds", _sell_more_than_balance),
}


@pytest.mark.parametrize("name", list(ATTACKS))
def test_attack_refused_and_changes_nothing(w: World, name: str) -> None:
    code, setup = ATTACKS[name]
    ixs, signers = setup(w)
    assert_refused(w, code, ixs, signers)


def test_token_cannot_be_bound_to_a_foreign_registry() -> None:
    """The registry the token trusts is compiled in, so even the deployer cannot point
    mint_readings at a program that forges meter accounts."""
    from gridx.chain._idl import idl_program
    from gridx.errors import ChainError
    from tests.helpers.chain import SOL, Svm

    svm = Svm()
    deployer = c.deployer_keypair()
    svm.chain.airdrop(deployer.pubkey(), SOL)
    accounts = {
        "deployer": deployer.pubkey(),
        "config": c.token_config_pda(),
        "mint": c.grxe_mint_pda(),
        "mint_authority": c.mint_authority_pda(),
    }
    args = {"registry_program": Keypair().pubkey(), "admin": deployer.pubkey()}
    forged = idl_program("energy_token").build("initialize", args, accounts)
    with pytest.raises(ChainError) as exc:
        svm.send([forged], [deployer])
    assert exc.value.code == "InvalidProgramAccount"
    assert svm.data(c.token_config_pda()) is None
    svm.send([c.build_energy_token_initialize_ix(deployer.pubkey(), deployer.pubkey())], [deployer])
    assert svm.data(c.token_config_pda()) is not None

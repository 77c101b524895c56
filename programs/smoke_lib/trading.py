"""trading scenario: a GRXE/payment market, orders, refusals, a partial fill and a full fill."""

from __future__ import annotations

import struct
from dataclasses import dataclass

from solders.instruction import Instruction
from solders.keypair import Keypair
from solders.pubkey import Pubkey

from smoke_lib.common import DEPLOYER, SYSTEM, TOKEN, Chain, ata, create_ata_ix, mint_to_ix, pda
from smoke_lib.energy_token import Token
from smoke_lib.registry import Registry


@dataclass
class Market:
    auth: Keypair  # market authority (the matcher) and payment-mint authority
    pm: Pubkey  # the payment mint
    grxe: Pubkey
    market: Pubkey
    e_vault: Pubkey
    p_vault: Pubkey
    fee_acct: Pubkey
    seller: Keypair
    buyer: Keypair


def order_pda(owner: Pubkey, oid: int) -> Pubkey:
    return pda("trading", b"order", bytes(owner), struct.pack("<Q", oid))


def run(c: Chain, reg: Registry, tok: Token) -> None:
    mk = initialize_market(c, reg, tok)
    sell, buy = create_orders(c, mk, tok)
    self_trade_refused(c, mk, sell)
    refusals(c, mk, sell, buy)
    fills(c, mk, sell, buy)


def initialize_market(c: Chain, reg: Registry, tok: Token) -> Market:
    mkt_auth = c.funded()
    pay_mint = Keypair()
    # e.g. THB with 2 decimals
    c.send(c.create_mint_ixs(mkt_auth, pay_mint, 2, mkt_auth.pubkey()), [mkt_auth, pay_mint])
    pm = pay_mint.pubkey()
    market = pda("trading", b"market", bytes(tok.grxe), bytes(pm))
    e_vault = pda("trading", b"energy_vault", bytes(market))
    p_vault = pda("trading", b"payment_vault", bytes(market))
    c.send(create_ata_ix(mkt_auth.pubkey(), mkt_auth.pubkey(), pm), [mkt_auth])
    fee_acct = ata(mkt_auth.pubkey(), pm)
    c.send(
        c.ix(
            "trading",
            "initialize_market",
            25,
            mkt_auth.pubkey(),
            accounts={
                "deployer": DEPLOYER.pubkey(),
                "market": market,
                "energy_mint": tok.grxe,
                "payment_mint": pm,
                "energy_vault": e_vault,
                "payment_vault": p_vault,
                "fee_account": fee_acct,
                "token_program": TOKEN,
                "system_program": SYSTEM,
            },
        ),
        [DEPLOYER],
    )
    print("trading.initialize_market ok (deployer only, names the matcher):", c.fetch("trading", market))
    return Market(mkt_auth, pm, tok.grxe, market, e_vault, p_vault, fee_acct, reg.prosumer, reg.consumer)


def sell_order_ix(
    c: Chain, mk: Market, owner: Keypair, oid: int, amount: int, price: int, energy: Pubkey
) -> Instruction:
    accounts = {
        "owner": owner.pubkey(),
        "market": mk.market,
        "order": order_pda(owner.pubkey(), oid),
        "owner_energy_account": energy,
        "energy_vault": mk.e_vault,
        "token_program": TOKEN,
        "system_program": SYSTEM,
    }
    return c.ix("trading", "create_sell_order", oid, amount, price, accounts=accounts)


def buy_order_ix(c: Chain, mk: Market, owner: Keypair, oid: int, amount: int, price: int) -> Instruction:
    accounts = {
        "owner": owner.pubkey(),
        "market": mk.market,
        "order": order_pda(owner.pubkey(), oid),
        "owner_payment_account": ata(owner.pubkey(), mk.pm),
        "payment_vault": mk.p_vault,
        "token_program": TOKEN,
        "system_program": SYSTEM,
    }
    return c.ix("trading", "create_buy_order", oid, amount, price, accounts=accounts)


def cancel_ix(c: Chain, mk: Market, owner: Keypair, order: Pubkey, refund: Pubkey, vault: Pubkey) -> Instruction:
    accounts = {
        "owner": owner.pubkey(),
        "market": mk.market,
        "order": order,
        "refund_account": refund,
        "vault": vault,
        "token_program": TOKEN,
    }
    return c.ix("trading", "cancel_order", accounts=accounts)


def match_ix(c: Chain, mk: Market, sell_o, buy_o, amount, s=None, b=None, auth=None) -> Instruction:
    s, b, auth = s or mk.seller, b or mk.buyer, auth or mk.auth
    return c.ix(
        "trading",
        "match_order",
        amount,
        accounts={
            "authority": auth.pubkey(),
            "market": mk.market,
            "sell_order": sell_o,
            "buy_order": buy_o,
            "seller": s.pubkey(),
            "buyer": b.pubkey(),
            "seller_payment_account": ata(s.pubkey(), mk.pm),
            "buyer_energy_account": ata(b.pubkey(), mk.grxe),
            "buyer_payment_account": ata(b.pubkey(), mk.pm),
            "fee_account": mk.fee_acct,
            "energy_vault": mk.e_vault,
            "payment_vault": mk.p_vault,
            "token_program": TOKEN,
        },
    )


def create_orders(c: Chain, mk: Market, tok: Token) -> tuple[Pubkey, Pubkey]:
    """sell 2 GRXE @ 400 payment units per GRXE; buy 1.5 GRXE @ 500 (escrowed)."""
    seller, buyer = mk.seller, mk.buyer
    for kp in (seller, buyer):
        c.send(create_ata_ix(kp.pubkey(), kp.pubkey(), mk.pm), [kp])
    c.send(mint_to_ix(mk.pm, ata(buyer.pubkey(), mk.pm), mk.auth.pubkey(), 1_000_000), [mk.auth])
    res = c.send(sell_order_ix(c, mk, seller, 1, 2_000_000, 400, tok.prosumer_grxe), [seller])
    print("trading.create_sell_order ok:", c.events("trading", res))
    res = c.send(buy_order_ix(c, mk, buyer, 7, 1_500_000, 500), [buyer])
    print("trading.create_buy_order ok:", c.events("trading", res), "escrow", c.token_balance(mk.p_vault))
    return order_pda(seller.pubkey(), 1), order_pda(buyer.pubkey(), 7)


def self_trade_refused(c: Chain, mk: Market, sell: Pubkey) -> None:
    """The seller's own buy order cannot match its sell; cancelling it refunds the escrow."""
    seller = mk.seller
    c.send(create_ata_ix(seller.pubkey(), seller.pubkey(), mk.pm), [seller])
    c.send(mint_to_ix(mk.pm, ata(seller.pubkey(), mk.pm), mk.auth.pubkey(), 10_000), [mk.auth])
    self_buy = order_pda(seller.pubkey(), 99)
    c.send(buy_order_ix(c, mk, seller, 99, 1_000_000, 500), [seller])
    c.send(
        match_ix(c, mk, sell, self_buy, 1_000_000, b=seller),
        [mk.auth],
        expect_error=c.custom_err("trading", "SelfTrade"),
    )
    res = c.send(cancel_ix(c, mk, seller, self_buy, ata(seller.pubkey(), mk.pm), mk.p_vault), [seller])
    assert c.token_balance(ata(seller.pubkey(), mk.pm)) == 10_000
    print("trading.cancel_order ok:", c.events("trading", res))


def refusals(c: Chain, mk: Market, sell: Pubkey, buy: Pubkey) -> None:
    buyer = mk.buyer
    # price not crossed: buy @ 300 < sell @ 400
    c.send(buy_order_ix(c, mk, buyer, 8, 1_000_000, 300), [buyer])
    low = order_pda(buyer.pubkey(), 8)
    c.send(match_ix(c, mk, sell, low, 1_000_000), [mk.auth], expect_error=c.custom_err("trading", "PriceNotCrossed"))
    # not the market authority
    c.send(
        match_ix(c, mk, sell, buy, 1_000_000, auth=buyer),
        [buyer],
        expect_error=c.custom_err("trading", "Unauthorized"),
    )
    # someone else cannot cancel the seller's order; overflowing escrow is refused
    c.send(
        cancel_ix(c, mk, buyer, sell, ata(buyer.pubkey(), mk.grxe), mk.e_vault),
        [buyer],
        expect_error=c.custom_err("trading", "Unauthorized"),
    )
    c.send(
        buy_order_ix(c, mk, buyer, 9, 2**64 - 1, 2**64 - 1),
        [buyer],
        expect_error=c.custom_err("trading", "ArithmeticOverflow"),
    )


def fills(c: Chain, mk: Market, sell: Pubkey, buy: Pubkey) -> None:
    """partial fill 1.0 GRXE, then fill the rest of the buy (0.5 GRXE) -> buy order closed."""
    seller, buyer = mk.seller, mk.buyer
    res = c.send(match_ix(c, mk, sell, buy, 1_000_000), [mk.auth])
    print("trading.match_order (partial) ok:", c.events("trading", res), "compute units", res.compute_units_consumed())
    res = c.send(match_ix(c, mk, sell, buy, 500_000), [mk.auth])
    ev = c.events("trading", res)[0]
    print("trading.match_order (fill) ok:", ev)
    assert c.token_balance(ata(buyer.pubkey(), mk.grxe)) == 1_500_000
    # payment at the sell price: 1.5 GRXE * 400 = 600; fee 25 bps = 1 (floor of 0.4 + 0.25 per fill -> 0 + 0)
    seller_pay = c.token_balance(ata(seller.pubkey(), mk.pm))
    fee = c.token_balance(mk.fee_acct)
    assert seller_pay + fee == 10_000 + 600, (seller_pay, fee)
    # buy order filled and closed; leftover escrow (1.5 * 500 - 600 = 150) refunded
    assert c.closed(buy)
    buyer_pay = c.token_balance(ata(buyer.pubkey(), mk.pm))
    assert buyer_pay == 1_000_000 - 300 - 600, buyer_pay
    sell_state = c.fetch("trading", sell)
    assert sell_state.remaining == 500_000, sell_state
    print(
        "trading balances ok: buyer GRXE",
        c.token_balance(ata(buyer.pubkey(), mk.grxe)),
        "seller paid",
        seller_pay - 10_000,
        "fee",
        fee,
    )

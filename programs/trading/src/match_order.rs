//! `match_order`: the market authority fills a crossed (sell, buy) pair at the sell price.
use crate::common::*;
use crate::generated::*;
use crate::state::*;
use crate::{BPS, PRICE_SCALE, SIDE_BUY, SIDE_SELL};
use pinocchio::{error::ProgramError, AccountView, Address, ProgramResult};

/// What one fill moves, all computed before any transfer.
struct Fill {
    payment: u64,
    fee: u64,
    proceeds: u64,
    sell_remaining: u64,
    buy_remaining: u64,
    buy_escrow: u64,
    sell_escrow: u64,
}

#[inline(never)]
pub(crate) fn match_order(program_id: &Address, accounts: &mut [AccountView], args: &mut Args) -> ProgramResult {
    let amount = args.u64()?;
    args.finish()?;
    let [authority, market, sell_order, buy_order, seller, buyer, seller_payment_account, buyer_energy_account, buyer_payment_account, fee_account, energy_vault, payment_vault, token_program, ..] =
        accounts
    else {
        return Err(ProgramError::NotEnoughAccountKeys);
    };
    require_signer(authority)?;
    for a in [&*market, &*sell_order, &*buy_order, &*seller, &*buyer, &*seller_payment_account, &*buyer_energy_account, &*buyer_payment_account, &*fee_account, &*energy_vault, &*payment_vault] {
        require_writable(a)?;
    }
    require_token_program(token_program)?;
    let m = load_market(program_id, market)?;
    if !key_eq(&m.authority, authority.address()) {
        return fail(Error::Unauthorized);
    }
    let s = load_order(program_id, market, sell_order)?;
    let b = load_order(program_id, market, buy_order)?;
    check_pair(&s, &b, amount)?;
    if !key_eq(seller.address(), &s.owner) || !key_eq(buyer.address(), &b.owner) {
        return fail(Error::Unauthorized);
    }
    if !key_eq(energy_vault.address(), &m.energy_vault) || !key_eq(payment_vault.address(), &m.payment_vault) {
        return fail(Error::InvalidVault);
    }
    if !key_eq(fee_account.address(), &m.fee_account) {
        return fail(Error::InvalidFeeAccount);
    }
    require_token_account(seller_payment_account, &m.payment_mint, Some(&s.owner))?;
    require_token_account(buyer_energy_account, &m.energy_mint, Some(&b.owner))?;
    require_token_account(buyer_payment_account, &m.payment_mint, Some(&b.owner))?;

    let f = fill(&m, &s, &b, amount)?;
    let mb = [m.bump];
    let seeds = Seeds::new().with(b"market").with(m.energy_mint.as_ref()).with(m.payment_mint.as_ref()).with(&mb);
    token_transfer_signed(energy_vault, buyer_energy_account, market, amount, &seeds)?;
    if f.proceeds > 0 {
        token_transfer_signed(payment_vault, seller_payment_account, market, f.proceeds, &seeds)?;
    }
    if f.fee > 0 {
        token_transfer_signed(payment_vault, fee_account, market, f.fee, &seeds)?;
    }

    // Buy side: when filled, refund the unused escrow (price improvement / rounding) and close.
    if f.buy_remaining == 0 {
        if f.buy_escrow > 0 {
            token_transfer_signed(payment_vault, buyer_payment_account, market, f.buy_escrow, &seeds)?;
        }
        close_account(buy_order, buyer)?;
    } else {
        write_fill(buy_order, f.buy_remaining, f.buy_escrow)?;
    }
    if f.sell_remaining == 0 {
        close_account(sell_order, seller)?;
    } else {
        write_fill(sell_order, f.sell_remaining, f.sell_escrow)?;
    }
    record_trade(market, amount)?;
    let mut ev = Buf::<{ EV_TRADE_EXECUTED_LEN }>::new(&EV_TRADE_EXECUTED);
    ev.put(market.address().as_ref())
        .put(sell_order.address().as_ref())
        .put(buy_order.address().as_ref())
        .put(s.owner.as_ref())
        .put(b.owner.as_ref())
        .u64(amount)
        .u64(s.price)
        .u64(f.payment)
        .u64(f.fee);
    ev.emit();
    Ok(())
}

/// A sell and a buy of different owners whose prices cross, each with `amount` left.
#[inline(always)]
fn check_pair(s: &Order, b: &Order, amount: u64) -> ProgramResult {
    if s.side != SIDE_SELL || b.side != SIDE_BUY {
        return fail(Error::InvalidSide);
    }
    if key_eq(&s.owner, &b.owner) {
        return fail(Error::SelfTrade);
    }
    if b.price < s.price {
        return fail(Error::PriceNotCrossed);
    }
    if amount == 0 {
        return fail(Error::ZeroAmount);
    }
    if amount > s.remaining || amount > b.remaining {
        return fail(Error::InsufficientRemaining);
    }
    Ok(())
}

/// Settlement at the sell price: payment = floor(amount * price / 1e6), the fee comes out of
/// the seller's proceeds.
#[inline(always)]
fn fill(m: &Market, s: &Order, b: &Order, amount: u64) -> Result<Fill, ProgramError> {
    let payment = mul_div_floor(amount, s.price, PRICE_SCALE)?;
    if payment == 0 {
        return fail(Error::TradeTooSmall);
    }
    let fee = mul_div_floor(payment, m.fee_bps as u64, BPS)?;
    Ok(Fill {
        payment,
        fee,
        proceeds: sub_u64(payment, fee)?,
        sell_remaining: sub_u64(s.remaining, amount)?,
        buy_remaining: sub_u64(b.remaining, amount)?,
        buy_escrow: sub_u64(b.escrow_remaining, payment)?,
        sell_escrow: sub_u64(s.escrow_remaining, amount)?,
    })
}

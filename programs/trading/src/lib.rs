//! GridTokenX P2P energy market. Interface: programs/idl/trading.json.
//!
//! Units: `amount` is GRXE base units (10^6 per GRXE = 1 kWh); `price` is payment-token base
//! units per 1 GRXE (per 10^6 energy base units). A fill of `q` at the sell price `p` pays
//! floor(q * p / 10^6); a buy order escrows ceil(amount * buy_price / 10^6) up front. The fee,
//! floor(payment * fee_bps / 10^4), goes from the seller's proceeds to the market fee account.
//! Escrow lives in two market vaults (token accounts owned by the market PDA).
#![no_std]

#[path = "../../common/mod.rs"]
mod common;
mod generated;
mod htlc;
mod release_order;

use common::*;
use generated::*;
use pinocchio::{error::ProgramError, AccountView, Address, ProgramResult};

// At most 24 accounts are parsed (the largest instruction takes 13): keeps the entrypoint's
// account array small on the 4 KiB SBF stack frame.
pinocchio::program_entrypoint!(process_instruction, 24);
pinocchio::no_allocator!();
common::gridx_panic_handler!();

pub const SIDE_SELL: u8 = 0;
pub const SIDE_BUY: u8 = 1;
pub const PRICE_SCALE: u64 = 1_000_000;
pub const BPS: u64 = 10_000;

pub fn process_instruction(program_id: &Address, accounts: &mut [AccountView], data: &[u8]) -> ProgramResult {
    let (disc, rest) = split_ix(data)?;
    let mut args = Args::new(rest);
    match disc {
        IX_INITIALIZE_MARKET => initialize_market(program_id, accounts, &mut args),
        IX_CREATE_SELL_ORDER => create_sell_order(program_id, accounts, &mut args),
        IX_CREATE_BUY_ORDER => create_buy_order(program_id, accounts, &mut args),
        IX_CANCEL_ORDER => cancel_order(program_id, accounts, &mut args),
        IX_MATCH_ORDER => match_order(program_id, accounts, &mut args),
        IX_HASHLOCK_FILL => htlc::hashlock_fill(program_id, accounts, &mut args),
        IX_HASHLOCK_CLAIM => htlc::hashlock_claim(program_id, accounts, &mut args),
        IX_HASHLOCK_REFUND => htlc::hashlock_refund(program_id, accounts, &mut args),
        IX_RELEASE_ORDER => release_order::release_order(program_id, accounts, &mut args),
        _ => fail(Error::InvalidInstruction),
    }
}

struct Market {
    authority: Address,
    energy_mint: Address,
    payment_mint: Address,
    energy_vault: Address,
    payment_vault: Address,
    fee_account: Address,
    fee_bps: u16,
    bump: u8,
}

fn load_market(program_id: &Address, market: &AccountView) -> Result<Market, ProgramError> {
    require_account(market, program_id, &DISC_MARKET, MARKET_LEN)?;
    let d = market.try_borrow()?;
    let m = Market {
        authority: rd_key(&d, MARKET_AUTHORITY),
        energy_mint: rd_key(&d, MARKET_ENERGY_MINT),
        payment_mint: rd_key(&d, MARKET_PAYMENT_MINT),
        energy_vault: rd_key(&d, MARKET_ENERGY_VAULT),
        payment_vault: rd_key(&d, MARKET_PAYMENT_VAULT),
        fee_account: rd_key(&d, MARKET_FEE_ACCOUNT),
        fee_bps: rd_u16(&d, MARKET_FEE_BPS),
        bump: d[MARKET_BUMP],
    };
    let b = [m.bump];
    require_pda_exact(market, &Seeds::new().with(b"market").with(m.energy_mint.as_ref()).with(m.payment_mint.as_ref()).with(&b), program_id)?;
    Ok(m)
}

struct Order {
    market: Address,
    owner: Address,
    order_id: u64,
    side: u8,
    price: u64,
    remaining: u64,
    escrow_remaining: u64,
}

fn load_order(program_id: &Address, market: &AccountView, order: &AccountView) -> Result<Order, ProgramError> {
    require_account(order, program_id, &DISC_ORDER, ORDER_LEN)?;
    let d = order.try_borrow()?;
    let o = Order {
        market: rd_key(&d, ORDER_MARKET),
        owner: rd_key(&d, ORDER_OWNER),
        order_id: rd_u64(&d, ORDER_ORDER_ID),
        side: d[ORDER_SIDE],
        price: rd_u64(&d, ORDER_PRICE),
        remaining: rd_u64(&d, ORDER_REMAINING),
        escrow_remaining: rd_u64(&d, ORDER_ESCROW_REMAINING),
    };
    let id = o.order_id.to_le_bytes();
    let b = [d[ORDER_BUMP]];
    require_pda_exact(order, &Seeds::new().with(b"order").with(o.owner.as_ref()).with(&id).with(&b), program_id)?;
    if !key_eq(&o.market, market.address()) {
        return fail(Error::MarketMismatch);
    }
    Ok(o)
}

/// A mint account of the SPL Token program (82 bytes, initialised).
fn require_mint(a: &AccountView) -> ProgramResult {
    if !a.owned_by(&TOKEN_PROGRAM_ID) || a.data_len() != MINT_LEN {
        return fail(Error::InvalidMint);
    }
    if a.try_borrow()?[45] != 1 {
        return fail(Error::InvalidMint);
    }
    Ok(())
}

/// Token account with the given mint and (if given) owner.
fn require_token_account(a: &AccountView, mint: &Address, owner: Option<&Address>) -> ProgramResult {
    let (m, o, _) = token_account_info(a)?;
    if !key_eq(&m, mint) {
        return fail(Error::InvalidTokenAccount);
    }
    if let Some(owner) = owner {
        if !key_eq(&o, owner) {
            return fail(Error::InvalidTokenAccount);
        }
    }
    Ok(())
}

#[inline(never)]
fn initialize_market(program_id: &Address, accounts: &mut [AccountView], args: &mut Args) -> ProgramResult {
    let fee_bps = args.u16()?;
    args.finish()?;
    if fee_bps as u64 > BPS {
        return fail(Error::InvalidFee);
    }
    let [authority, market, energy_mint, payment_mint, energy_vault, payment_vault, fee_account, token_program, system, ..] = accounts else {
        return Err(ProgramError::NotEnoughAccountKeys);
    };
    require_signer(authority)?;
    require_writable(market)?;
    require_writable(energy_vault)?;
    require_writable(payment_vault)?;
    require_token_program(token_program)?;
    require_system_program(system)?;
    require_mint(energy_mint)?;
    require_mint(payment_mint)?;
    if key_eq(energy_mint.address(), payment_mint.address()) {
        return fail(Error::InvalidMint);
    }
    require_token_account(fee_account, payment_mint.address(), None)?;

    let em = energy_mint.address();
    let pm = payment_mint.address();
    let bump = require_pda(market, &Seeds::new().with(b"market").with(em.as_ref()).with(pm.as_ref()), program_id)?;
    let ev_bump = require_pda(energy_vault, &Seeds::new().with(b"energy_vault").with(market.address().as_ref()), program_id)?;
    let pv_bump = require_pda(payment_vault, &Seeds::new().with(b"payment_vault").with(market.address().as_ref()), program_id)?;

    let b = [bump];
    create_pda_account(authority, market, MARKET_LEN, program_id, &Seeds::new().with(b"market").with(em.as_ref()).with(pm.as_ref()).with(&b))?;
    let evb = [ev_bump];
    create_pda_account(authority, energy_vault, TOKEN_ACCOUNT_LEN, &TOKEN_PROGRAM_ID, &Seeds::new().with(b"energy_vault").with(market.address().as_ref()).with(&evb))?;
    pinocchio_token::instructions::InitializeAccount3::new(energy_vault, energy_mint, market.address()).invoke()?;
    let pvb = [pv_bump];
    create_pda_account(authority, payment_vault, TOKEN_ACCOUNT_LEN, &TOKEN_PROGRAM_ID, &Seeds::new().with(b"payment_vault").with(market.address().as_ref()).with(&pvb))?;
    pinocchio_token::instructions::InitializeAccount3::new(payment_vault, payment_mint, market.address()).invoke()?;

    let mut d = market.try_borrow_mut()?;
    wr(&mut d, 0, &DISC_MARKET);
    wr(&mut d, MARKET_AUTHORITY, authority.address().as_ref());
    wr(&mut d, MARKET_ENERGY_MINT, em.as_ref());
    wr(&mut d, MARKET_PAYMENT_MINT, pm.as_ref());
    wr(&mut d, MARKET_ENERGY_VAULT, energy_vault.address().as_ref());
    wr(&mut d, MARKET_PAYMENT_VAULT, payment_vault.address().as_ref());
    wr(&mut d, MARKET_FEE_ACCOUNT, fee_account.address().as_ref());
    wr(&mut d, MARKET_FEE_BPS, &fee_bps.to_le_bytes());
    d[MARKET_BUMP] = bump;
    d[MARKET_ENERGY_VAULT_BUMP] = ev_bump;
    d[MARKET_PAYMENT_VAULT_BUMP] = pv_bump;
    Ok(())
}

#[inline(never)]
fn create_sell_order(program_id: &Address, accounts: &mut [AccountView], args: &mut Args) -> ProgramResult {
    create_order(program_id, accounts, args, SIDE_SELL)
}

#[inline(never)]
fn create_buy_order(program_id: &Address, accounts: &mut [AccountView], args: &mut Args) -> ProgramResult {
    create_order(program_id, accounts, args, SIDE_BUY)
}

#[inline(always)]
fn create_order(program_id: &Address, accounts: &mut [AccountView], args: &mut Args, side: u8) -> ProgramResult {
    let order_id = args.u64()?;
    let amount = args.u64()?;
    let price = args.u64()?;
    args.finish()?;
    if amount == 0 {
        return fail(Error::ZeroAmount);
    }
    if price == 0 {
        return fail(Error::ZeroPrice);
    }
    let [owner, market, order, owner_token_account, vault, token_program, system, ..] = accounts else {
        return Err(ProgramError::NotEnoughAccountKeys);
    };
    require_signer(owner)?;
    require_writable(order)?;
    require_writable(owner_token_account)?;
    require_writable(vault)?;
    require_token_program(token_program)?;
    require_system_program(system)?;
    let m = load_market(program_id, market)?;

    // What is escrowed: GRXE for a sell order, payment tokens for a buy order.
    let (mint, vault_key, escrow) = if side == SIDE_SELL {
        (m.energy_mint, m.energy_vault, amount)
    } else {
        let escrow = mul_div_ceil(amount, price, PRICE_SCALE)?;
        (m.payment_mint, m.payment_vault, escrow)
    };
    if !key_eq(vault.address(), &vault_key) {
        return fail(Error::InvalidVault);
    }
    require_token_account(owner_token_account, &mint, Some(owner.address()))?;

    let id = order_id.to_le_bytes();
    let bump = require_pda(order, &Seeds::new().with(b"order").with(owner.address().as_ref()).with(&id), program_id)?;
    let b = [bump];
    create_pda_account(owner, order, ORDER_LEN, program_id, &Seeds::new().with(b"order").with(owner.address().as_ref()).with(&id).with(&b))?;
    let now = unix_timestamp()?;
    {
        let mut d = order.try_borrow_mut()?;
        wr(&mut d, 0, &DISC_ORDER);
        wr(&mut d, ORDER_MARKET, market.address().as_ref());
        wr(&mut d, ORDER_OWNER, owner.address().as_ref());
        wr(&mut d, ORDER_ORDER_ID, &id);
        d[ORDER_SIDE] = side;
        wr(&mut d, ORDER_PRICE, &price.to_le_bytes());
        wr(&mut d, ORDER_AMOUNT, &amount.to_le_bytes());
        wr(&mut d, ORDER_REMAINING, &amount.to_le_bytes());
        wr(&mut d, ORDER_ESCROW_REMAINING, &escrow.to_le_bytes());
        wr(&mut d, ORDER_CREATED_AT, &now.to_le_bytes());
        d[ORDER_BUMP] = bump;
    }
    token_transfer(owner_token_account, vault, owner, escrow)?;

    let mut ev = Buf::<{ EV_ORDER_CREATED_LEN }>::new(&EV_ORDER_CREATED);
    ev.put(order.address().as_ref()).put(owner.address().as_ref()).u64(order_id).u8(side).u64(price).u64(amount).u64(escrow);
    ev.emit();
    Ok(())
}

#[inline(never)]
fn cancel_order(program_id: &Address, accounts: &mut [AccountView], args: &mut Args) -> ProgramResult {
    args.finish()?;
    let [owner, market, order, refund_account, vault, token_program, ..] = accounts else {
        return Err(ProgramError::NotEnoughAccountKeys);
    };
    require_signer(owner)?;
    require_writable(owner)?;
    require_writable(order)?;
    require_writable(refund_account)?;
    require_writable(vault)?;
    require_token_program(token_program)?;
    let m = load_market(program_id, market)?;
    let o = load_order(program_id, market, order)?;
    if !key_eq(&o.owner, owner.address()) {
        return fail(Error::Unauthorized);
    }
    let (mint, vault_key, refund) = if o.side == SIDE_SELL {
        (m.energy_mint, m.energy_vault, o.remaining)
    } else {
        (m.payment_mint, m.payment_vault, o.escrow_remaining)
    };
    if !key_eq(vault.address(), &vault_key) {
        return fail(Error::InvalidVault);
    }
    require_token_account(refund_account, &mint, Some(owner.address()))?;
    if refund > 0 {
        let b = [m.bump];
        let seeds = Seeds::new().with(b"market").with(m.energy_mint.as_ref()).with(m.payment_mint.as_ref()).with(&b);
        token_transfer_signed(vault, refund_account, market, refund, &seeds)?;
    }
    close_account(order, owner)?;
    let mut ev = Buf::<{ EV_ORDER_CANCELLED_LEN }>::new(&EV_ORDER_CANCELLED);
    ev.put(order.address().as_ref()).put(owner.address().as_ref()).u64(refund);
    ev.emit();
    Ok(())
}

fn write_fill(order: &mut AccountView, remaining: u64, escrow_remaining: u64) -> ProgramResult {
    let mut d = order.try_borrow_mut()?;
    wr(&mut d, ORDER_REMAINING, &remaining.to_le_bytes());
    wr(&mut d, ORDER_ESCROW_REMAINING, &escrow_remaining.to_le_bytes());
    Ok(())
}

#[inline(never)]
fn match_order(program_id: &Address, accounts: &mut [AccountView], args: &mut Args) -> ProgramResult {
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

    // Settlement at the sell price.
    let payment = mul_div_floor(amount, s.price, PRICE_SCALE)?;
    if payment == 0 {
        return fail(Error::TradeTooSmall);
    }
    let fee = mul_div_floor(payment, m.fee_bps as u64, BPS)?;
    let proceeds = sub_u64(payment, fee)?;
    let sell_remaining = sub_u64(s.remaining, amount)?;
    let buy_remaining = sub_u64(b.remaining, amount)?;
    let buy_escrow = sub_u64(b.escrow_remaining, payment)?;
    let sell_escrow = sub_u64(s.escrow_remaining, amount)?;

    let mb = [m.bump];
    let seeds = Seeds::new().with(b"market").with(m.energy_mint.as_ref()).with(m.payment_mint.as_ref()).with(&mb);
    token_transfer_signed(energy_vault, buyer_energy_account, market, amount, &seeds)?;
    if proceeds > 0 {
        token_transfer_signed(payment_vault, seller_payment_account, market, proceeds, &seeds)?;
    }
    if fee > 0 {
        token_transfer_signed(payment_vault, fee_account, market, fee, &seeds)?;
    }

    // Buy side: when filled, refund the unused escrow (price improvement / rounding) and close.
    if buy_remaining == 0 {
        if buy_escrow > 0 {
            token_transfer_signed(payment_vault, buyer_payment_account, market, buy_escrow, &seeds)?;
        }
        close_account(buy_order, buyer)?;
    } else {
        write_fill(buy_order, buy_remaining, buy_escrow)?;
    }
    if sell_remaining == 0 {
        close_account(sell_order, seller)?;
    } else {
        write_fill(sell_order, sell_remaining, sell_escrow)?;
    }
    {
        let mut d = market.try_borrow_mut()?;
        let tc = add_u64(rd_u64(&d, MARKET_TRADE_COUNT), 1)?;
        let vol = add_u64(rd_u64(&d, MARKET_VOLUME), amount)?;
        wr(&mut d, MARKET_TRADE_COUNT, &tc.to_le_bytes());
        wr(&mut d, MARKET_VOLUME, &vol.to_le_bytes());
    }
    let mut ev = Buf::<{ EV_TRADE_EXECUTED_LEN }>::new(&EV_TRADE_EXECUTED);
    ev.put(market.address().as_ref())
        .put(sell_order.address().as_ref())
        .put(buy_order.address().as_ref())
        .put(s.owner.as_ref())
        .put(b.owner.as_ref())
        .u64(amount)
        .u64(s.price)
        .u64(payment)
        .u64(fee);
    ev.emit();
    Ok(())
}

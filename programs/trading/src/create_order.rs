//! `create_sell_order` / `create_buy_order`: open an order and move its escrow into the market
//! vault (GRXE for a sell, payment tokens for a buy).
use crate::common::*;
use crate::generated::*;
use crate::state::*;
use crate::{PRICE_SCALE, SIDE_BUY, SIDE_SELL};
use pinocchio::{error::ProgramError, AccountView, Address, ProgramResult};

#[inline(never)]
pub(crate) fn create_sell_order(program_id: &Address, accounts: &mut [AccountView], args: &mut Args) -> ProgramResult {
    create_order(program_id, accounts, args, SIDE_SELL)
}

#[inline(never)]
pub(crate) fn create_buy_order(program_id: &Address, accounts: &mut [AccountView], args: &mut Args) -> ProgramResult {
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


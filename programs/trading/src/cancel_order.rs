//! `cancel_order`: the owner closes an order and gets its remaining escrow back.
use crate::common::*;
use crate::generated::*;
use crate::state::*;
use crate::SIDE_SELL;
use pinocchio::{error::ProgramError, AccountView, Address, ProgramResult};

#[inline(never)]
pub(crate) fn cancel_order(program_id: &Address, accounts: &mut [AccountView], args: &mut Args) -> ProgramResult {
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


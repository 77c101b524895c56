//! `release_order`: the market authority returns the escrow of an order the off-chain engine
//! removed (an IOC/FOK remainder, a self-trade-prevention cancel) without waiting for the
//! owner to sign a cancel. The authority decides *when*, never *where*: the escrow goes only
//! to a token account the order's owner owns (of the order's mint) and the order's rent only
//! to the owner, so a compromised authority key can free escrow but cannot take it.
use crate::common::*;
use crate::generated::*;
use crate::{load_market, load_order, require_token_account, SIDE_SELL};
use pinocchio::{error::ProgramError, AccountView, Address, ProgramResult};

#[inline(never)]
pub fn release_order(program_id: &Address, accounts: &mut [AccountView], args: &mut Args) -> ProgramResult {
    args.finish()?;
    let [authority, market, order, owner, refund_account, vault, token_program, ..] = accounts else {
        return Err(ProgramError::NotEnoughAccountKeys);
    };
    require_signer(authority)?;
    require_writable(order)?;
    require_writable(owner)?;
    require_writable(refund_account)?;
    require_writable(vault)?;
    require_token_program(token_program)?;
    let m = load_market(program_id, market)?;
    if !key_eq(&m.authority, authority.address()) {
        return fail(Error::Unauthorized);
    }
    let o = load_order(program_id, market, order)?;
    // the rent goes back to the owner, and only to the owner
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
    // the destination is the program's check, not the authority's choice: the owner's account
    require_token_account(refund_account, &mint, Some(&o.owner))?;
    if refund > 0 {
        let b = [m.bump];
        let seeds = Seeds::new().with(b"market").with(m.energy_mint.as_ref()).with(m.payment_mint.as_ref()).with(&b);
        token_transfer_signed(vault, refund_account, market, refund, &seeds)?;
    }
    close_account(order, owner)?;
    // the same event as the owner's cancel: indexers need no new case
    let mut ev = Buf::<{ EV_ORDER_CANCELLED_LEN }>::new(&EV_ORDER_CANCELLED);
    ev.put(order.address().as_ref()).put(owner.address().as_ref()).u64(refund);
    ev.emit();
    Ok(())
}

//! `release_order`: the market authority returns the escrow of an order the off-chain engine
//! removed (an IOC/FOK remainder, a self-trade-prevention cancel) without waiting for the
//! owner to sign a cancel. The authority decides *when*, never *where*: the escrow goes only
//! to a token account the order's owner owns (of the order's mint) and the order's rent only
//! to the owner, so a compromised authority key can free escrow but cannot take it.
use crate::common::*;
use crate::generated::*;
use crate::state::{load_market, load_order, refund_and_close};
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
    // the escrow goes to the owner's account and the rent to the owner, whatever the authority
    // passes (refund_and_close checks both); the event is the owner's cancel's
    refund_and_close(&m, &o, market, order, owner, refund_account, vault)
}

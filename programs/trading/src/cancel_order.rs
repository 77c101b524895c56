//! `cancel_order`: the owner closes an order and gets its remaining escrow back.
use crate::common::*;
use crate::state::*;
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
    refund_and_close(&m, &o, market, order, owner, refund_account, vault)
}

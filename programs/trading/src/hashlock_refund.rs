//! `hashlock_refund`: anyone returns an expired hash lock to its seller (see htlc.rs).
use crate::common::*;
use crate::generated::*;
use crate::htlc::{load_lock, pay_out, HL_LOCKED, HL_REFUNDED};
use pinocchio::{error::ProgramError, AccountView, Address, ProgramResult};

#[inline(never)]
pub fn hashlock_refund(program_id: &Address, accounts: &mut [AccountView], args: &mut Args) -> ProgramResult {
    args.finish()?;
    let [market, hash_lock, seller_energy_account, energy_vault, token_program, ..] = accounts else {
        return Err(ProgramError::NotEnoughAccountKeys);
    };
    require_writable(hash_lock)?;
    require_writable(seller_energy_account)?;
    require_writable(energy_vault)?;
    require_token_program(token_program)?;
    let l = load_lock(program_id, market, hash_lock)?;
    if l.state != HL_LOCKED {
        return fail(Error::HashLockNotOpen);
    }
    if unix_timestamp()? < l.deadline {
        return fail(Error::HashLockNotExpired);
    }
    hash_lock.try_borrow_mut()?[HASH_LOCK_STATE] = HL_REFUNDED;
    pay_out(program_id, market, energy_vault, seller_energy_account, &l.seller, l.amount)?;
    let mut ev = Buf::<{ EV_HASH_REFUNDED_LEN }>::new(&EV_HASH_REFUNDED);
    ev.put(hash_lock.address().as_ref()).put(l.seller.as_ref()).u64(l.amount).put(&l.hashlock);
    ev.emit();
    Ok(())
}

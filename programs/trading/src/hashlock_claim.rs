//! `hashlock_claim`: anyone pays a hash lock to its stored buyer with the 32-byte secret, before
//! the deadline (see htlc.rs).
use crate::common::*;
use crate::generated::*;
use crate::htlc::{load_lock, pay_out, sha256, HL_CLAIMED, HL_LOCKED, PREIMAGE_LEN};
use pinocchio::{error::ProgramError, AccountView, Address, ProgramResult};

#[inline(never)]
pub fn hashlock_claim(program_id: &Address, accounts: &mut [AccountView], args: &mut Args) -> ProgramResult {
    // borsh `bytes`: u32 length, then the bytes. Any length parses, so a 31- or 33-byte secret
    // reaches the explicit check below instead of being padded or cut.
    let len = args.u32()? as usize;
    let preimage = args.take(len)?;
    args.finish()?;
    let [market, hash_lock, buyer_energy_account, energy_vault, token_program, ..] = accounts else {
        return Err(ProgramError::NotEnoughAccountKeys);
    };
    require_writable(hash_lock)?;
    require_writable(buyer_energy_account)?;
    require_writable(energy_vault)?;
    require_token_program(token_program)?;
    let l = load_lock(program_id, market, hash_lock)?;
    if l.state != HL_LOCKED {
        return fail(Error::HashLockNotOpen);
    }
    if unix_timestamp()? >= l.deadline {
        return fail(Error::HashLockExpired);
    }
    if preimage.len() != PREIMAGE_LEN {
        return fail(Error::BadPreimageLength);
    }
    if sha256(preimage) != l.hashlock {
        return fail(Error::WrongPreimage);
    }
    {
        let mut d = hash_lock.try_borrow_mut()?;
        d[HASH_LOCK_STATE] = HL_CLAIMED;
        wr(&mut d, HASH_LOCK_PREIMAGE, preimage);
    }
    pay_out(program_id, market, energy_vault, buyer_energy_account, &l.buyer, l.amount)?;
    let mut ev = Buf::<{ EV_HASH_CLAIMED_LEN }>::new(&EV_HASH_CLAIMED);
    ev.put(hash_lock.address().as_ref()).put(l.buyer.as_ref()).u64(l.amount).put(&l.hashlock).put(preimage);
    ev.emit();
    Ok(())
}

//! `hashlock_close`: the seller takes back a finished hash lock's rent (see htlc.rs).
use crate::common::*;
use crate::generated::*;
use crate::htlc::{load_lock, HL_CLAIMED, HL_REFUNDED};
use pinocchio::{error::ProgramError, AccountView, Address, ProgramResult};

/// The seller takes back the rent of a lock that is over (claimed or refunded). Seller-signed
/// only: a claimed lock holds the secret the seller needs for its THBC claim, so nobody else may
/// remove it first. Closing zeroes the data and hands the account back to the system program,
/// so any later claim, refund or close of it fails the owner/discriminator check.
#[inline(never)]
pub fn hashlock_close(program_id: &Address, accounts: &mut [AccountView], args: &mut Args) -> ProgramResult {
    args.finish()?;
    let [seller, market, hash_lock, ..] = accounts else {
        return Err(ProgramError::NotEnoughAccountKeys);
    };
    require_signer(seller)?;
    require_writable(seller)?;
    require_writable(hash_lock)?;
    let l = load_lock(program_id, market, hash_lock)?;
    if !key_eq(seller.address(), &l.seller) {
        return fail(Error::Unauthorized);
    }
    if l.state != HL_CLAIMED && l.state != HL_REFUNDED {
        return fail(Error::HashLockStillOpen);
    }
    let lamports = hash_lock.lamports();
    close_account(hash_lock, seller)?;
    let mut ev = Buf::<{ EV_HASH_LOCK_CLOSED_LEN }>::new(&EV_HASH_LOCK_CLOSED);
    ev.put(hash_lock.address().as_ref()).put(l.seller.as_ref()).put(&l.hashlock).u64(lamports);
    ev.emit();
    Ok(())
}

//! Hash-time-locked fills: the Solana leg of a THB-paid trade (DESIGN §7).
//!
//! The seller moves part of a sell order into a hash lock for a buyer who pays on another chain
//! (THBC on an EVM chain, locked there first under the same SHA-256 hash and a longer deadline).
//! The GRXE never leaves the market's energy vault: the order's remaining amount shrinks and the
//! lock account records what the vault owes to the buyer (claim) or back to the seller (refund).
//! Claims and refunds take no signer: they pay only the stored receiver, so anyone (the buyer,
//! the seller, a relayer) may submit them. Once claimed or refunded, the seller closes the lock
//! (`hashlock_close`) and gets back the rent it paid; a closed lock answers no claim or refund.
use crate::common::*;
use crate::generated::*;
use crate::{load_market, load_order, require_token_account, write_fill, SIDE_SELL};
use pinocchio::{error::ProgramError, AccountView, Address, ProgramResult};

pub const HL_LOCKED: u8 = 1;
pub const HL_CLAIMED: u8 = 2;
pub const HL_REFUNDED: u8 = 3;
/// A lock must leave its buyer time to see it and claim: at least 30 s (a few dozen slots)
/// and at most 7 days (a trade, not a long-term escrow). The swap coordinator asks for more.
pub const HASHLOCK_MIN_LEAD_S: i64 = 30;
pub const HASHLOCK_MAX_LEAD_S: i64 = 7 * 24 * 3600;
pub const PREIMAGE_LEN: usize = 32;

struct Lock {
    seller: Address,
    buyer: Address,
    amount: u64,
    hashlock: [u8; 32],
    deadline: i64,
    state: u8,
    bump: u8,
}

fn load_lock(program_id: &Address, market: &AccountView, lock: &AccountView) -> Result<Lock, ProgramError> {
    require_account(lock, program_id, &DISC_HASH_LOCK, HASH_LOCK_LEN)?;
    let d = lock.try_borrow()?;
    let mut hashlock = [0u8; 32];
    hashlock.copy_from_slice(&d[HASH_LOCK_HASHLOCK..HASH_LOCK_HASHLOCK + 32]);
    let l = Lock {
        seller: rd_key(&d, HASH_LOCK_SELLER),
        buyer: rd_key(&d, HASH_LOCK_BUYER),
        amount: rd_u64(&d, HASH_LOCK_AMOUNT),
        hashlock,
        deadline: rd_i64(&d, HASH_LOCK_DEADLINE),
        state: d[HASH_LOCK_STATE],
        bump: d[HASH_LOCK_BUMP],
    };
    if !key_eq(&rd_key(&d, HASH_LOCK_MARKET), market.address()) {
        return fail(Error::MarketMismatch);
    }
    let b = [l.bump];
    require_pda_exact(
        lock,
        &Seeds::new().with(b"hash_lock").with(l.seller.as_ref()).with(&l.hashlock).with(&b),
        program_id,
    )?;
    Ok(l)
}

fn sha256(data: &[u8]) -> [u8; 32] {
    let mut out = [0u8; 32];
    let vals: [&[u8]; 1] = [data];
    // SAFETY: `vals` is one (ptr, len) slice descriptor on the stack, as sol_sha256 expects, and
    // `out` is a writable 32-byte buffer for the digest.
    unsafe { pinocchio::syscalls::sol_sha256(vals.as_ptr() as *const u8, 1, out.as_mut_ptr()) };
    out
}

#[inline(never)]
pub fn hashlock_fill(program_id: &Address, accounts: &mut [AccountView], args: &mut Args) -> ProgramResult {
    let amount = args.u64()?;
    let hashlock = args.arr32()?;
    let deadline = args.i64()?;
    args.finish()?;
    let [seller, market, sell_order, buyer, hash_lock, system, ..] = accounts else {
        return Err(ProgramError::NotEnoughAccountKeys);
    };
    require_signer(seller)?;
    require_writable(seller)?;
    require_writable(sell_order)?;
    require_writable(hash_lock)?;
    require_system_program(system)?;
    load_market(program_id, market)?;
    let o = load_order(program_id, market, sell_order)?;
    if o.side != SIDE_SELL {
        return fail(Error::InvalidSide);
    }
    if !key_eq(&o.owner, seller.address()) {
        return fail(Error::Unauthorized);
    }
    if key_eq(buyer.address(), seller.address()) {
        return fail(Error::SelfTrade);
    }
    if amount == 0 {
        return fail(Error::ZeroAmount);
    }
    if amount > o.remaining {
        return fail(Error::InsufficientRemaining);
    }
    let now = unix_timestamp()?;
    let lead = deadline.checked_sub(now).ok_or(ProgramError::from(Error::ArithmeticOverflow))?;
    if !(HASHLOCK_MIN_LEAD_S..=HASHLOCK_MAX_LEAD_S).contains(&lead) {
        return fail(Error::DeadlineOutOfRange);
    }
    let remaining = sub_u64(o.remaining, amount)?;
    let escrow = sub_u64(o.escrow_remaining, amount)?;

    let bump = require_pda(
        hash_lock,
        &Seeds::new().with(b"hash_lock").with(seller.address().as_ref()).with(&hashlock),
        program_id,
    )?;
    let b = [bump];
    create_pda_account(
        seller,
        hash_lock,
        HASH_LOCK_LEN,
        program_id,
        &Seeds::new().with(b"hash_lock").with(seller.address().as_ref()).with(&hashlock).with(&b),
    )?;
    {
        let mut d = hash_lock.try_borrow_mut()?;
        wr(&mut d, 0, &DISC_HASH_LOCK);
        wr(&mut d, HASH_LOCK_MARKET, market.address().as_ref());
        wr(&mut d, HASH_LOCK_SELLER, seller.address().as_ref());
        wr(&mut d, HASH_LOCK_BUYER, buyer.address().as_ref());
        wr(&mut d, HASH_LOCK_SELL_ORDER, sell_order.address().as_ref());
        wr(&mut d, HASH_LOCK_AMOUNT, &amount.to_le_bytes());
        wr(&mut d, HASH_LOCK_HASHLOCK, &hashlock);
        wr(&mut d, HASH_LOCK_DEADLINE, &deadline.to_le_bytes());
        d[HASH_LOCK_STATE] = HL_LOCKED;
        wr(&mut d, HASH_LOCK_CREATED_AT, &now.to_le_bytes());
        d[HASH_LOCK_BUMP] = bump;
    }
    if remaining == 0 {
        close_account(sell_order, seller)?;
    } else {
        write_fill(sell_order, remaining, escrow)?;
    }
    let mut ev = Buf::<{ EV_HASH_LOCKED_LEN }>::new(&EV_HASH_LOCKED);
    ev.put(hash_lock.address().as_ref())
        .put(sell_order.address().as_ref())
        .put(seller.address().as_ref())
        .put(buyer.address().as_ref())
        .u64(amount)
        .put(&hashlock)
        .i64(deadline);
    ev.emit();
    Ok(())
}

/// Pay the lock's amount out of the energy vault to `to`, which must be a GRXE account of `owner`.
#[inline(always)]
fn pay_out(
    program_id: &Address,
    market: &AccountView,
    vault: &AccountView,
    to: &AccountView,
    owner: &Address,
    amount: u64,
) -> ProgramResult {
    let m = load_market(program_id, market)?;
    if !key_eq(vault.address(), &m.energy_vault) {
        return fail(Error::InvalidVault);
    }
    require_token_account(to, &m.energy_mint, Some(owner))?;
    let mb = [m.bump];
    let seeds = Seeds::new().with(b"market").with(m.energy_mint.as_ref()).with(m.payment_mint.as_ref()).with(&mb);
    token_transfer_signed(vault, to, market, amount, &seeds)
}

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

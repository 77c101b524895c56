//! `hashlock_fill`: the seller moves part of a sell order into a hash lock for a buyer who pays
//! on another chain (see htlc.rs). The GRXE stays in the energy vault; the order shrinks and the
//! new lock account records what the vault owes.
use crate::common::*;
use crate::generated::*;
use crate::htlc::{HASHLOCK_MAX_LEAD_S, HASHLOCK_MIN_LEAD_S, HL_LOCKED};
use crate::{load_market, load_order, write_fill, SIDE_SELL};
use pinocchio::{error::ProgramError, AccountView, Address, ProgramResult};

/// What the fill takes from the order: its remaining amount and escrow after the lock, and now.
struct Fill {
    remaining: u64,
    escrow: u64,
    now: i64,
}

/// The order is the seller's own sell order with `amount` left, the buyer is someone else, and
/// the deadline leaves the buyer time to claim (within the program's bounds).
#[inline(always)]
fn check_fill(
    program_id: &Address,
    market: &AccountView,
    sell_order: &AccountView,
    seller: &AccountView,
    buyer: &AccountView,
    amount: u64,
    deadline: i64,
) -> Result<Fill, ProgramError> {
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
    Ok(Fill { remaining: sub_u64(o.remaining, amount)?, escrow: sub_u64(o.escrow_remaining, amount)?, now })
}

/// Create the lock account at its PDA (seller, hash) and write it, state LOCKED.
#[inline(always)]
fn create_lock(
    program_id: &Address,
    accs: [&AccountView; 4],
    hash_lock: &mut AccountView,
    amount: u64,
    hashlock: &[u8; 32],
    deadline: i64,
    now: i64,
) -> ProgramResult {
    let [seller, market, sell_order, buyer] = accs;
    let bump = require_pda(
        hash_lock,
        &Seeds::new().with(b"hash_lock").with(seller.address().as_ref()).with(hashlock),
        program_id,
    )?;
    let b = [bump];
    create_pda_account(
        seller,
        hash_lock,
        HASH_LOCK_LEN,
        program_id,
        &Seeds::new().with(b"hash_lock").with(seller.address().as_ref()).with(hashlock).with(&b),
    )?;
    let mut d = hash_lock.try_borrow_mut()?;
    wr(&mut d, 0, &DISC_HASH_LOCK);
    wr(&mut d, HASH_LOCK_MARKET, market.address().as_ref());
    wr(&mut d, HASH_LOCK_SELLER, seller.address().as_ref());
    wr(&mut d, HASH_LOCK_BUYER, buyer.address().as_ref());
    wr(&mut d, HASH_LOCK_SELL_ORDER, sell_order.address().as_ref());
    wr(&mut d, HASH_LOCK_AMOUNT, &amount.to_le_bytes());
    wr(&mut d, HASH_LOCK_HASHLOCK, hashlock);
    wr(&mut d, HASH_LOCK_DEADLINE, &deadline.to_le_bytes());
    d[HASH_LOCK_STATE] = HL_LOCKED;
    wr(&mut d, HASH_LOCK_CREATED_AT, &now.to_le_bytes());
    d[HASH_LOCK_BUMP] = bump;
    Ok(())
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
    let f = check_fill(program_id, market, sell_order, seller, buyer, amount, deadline)?;
    create_lock(program_id, [seller, market, sell_order, buyer], hash_lock, amount, &hashlock, deadline, f.now)?;
    if f.remaining == 0 {
        close_account(sell_order, seller)?;
    } else {
        write_fill(sell_order, f.remaining, f.escrow)?;
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

//! Hash-time-locked fills: the Solana leg of a THB-paid trade (DESIGN §7). This module holds
//! what the four instructions share (the lock's layout view, SHA-256, paying out of the vault);
//! each instruction is in its own file (hashlock_fill.rs, hashlock_claim.rs, …).
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
use crate::{load_market, require_token_account};
use pinocchio::{error::ProgramError, AccountView, Address, ProgramResult};

pub const HL_LOCKED: u8 = 1;
pub const HL_CLAIMED: u8 = 2;
pub const HL_REFUNDED: u8 = 3;
/// A lock must leave its buyer time to see it and claim: at least 30 s (a few dozen slots)
/// and at most 7 days (a trade, not a long-term escrow). The swap coordinator asks for more.
pub const HASHLOCK_MIN_LEAD_S: i64 = 30;
pub const HASHLOCK_MAX_LEAD_S: i64 = 7 * 24 * 3600;
pub const PREIMAGE_LEN: usize = 32;

pub(crate) struct Lock {
    pub seller: Address,
    pub buyer: Address,
    pub amount: u64,
    pub hashlock: [u8; 32],
    pub deadline: i64,
    pub state: u8,
    pub bump: u8,
}

pub(crate) fn load_lock(program_id: &Address, market: &AccountView, lock: &AccountView) -> Result<Lock, ProgramError> {
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

pub(crate) fn sha256(data: &[u8]) -> [u8; 32] {
    let mut out = [0u8; 32];
    let vals: [&[u8]; 1] = [data];
    // SAFETY: `vals` is one (ptr, len) slice descriptor on the stack, as sol_sha256 expects, and
    // `out` is a writable 32-byte buffer for the digest.
    unsafe { pinocchio::syscalls::sol_sha256(vals.as_ptr() as *const u8, 1, out.as_mut_ptr()) };
    out
}

/// Pay the lock's amount out of the energy vault to `to`, which must be a GRXE account of `owner`.
#[inline(always)]
pub(crate) fn pay_out(
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

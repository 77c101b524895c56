//! Small helpers shared by the three GridTokenX programs (included with `#[path]`).
//! Everything here is `no_std`, allocation-free and uses only pinocchio + raw syscalls.
#![allow(dead_code)]

// Split by concern; `use common::*` still sees every helper through the re-exports below.
mod accounts;
mod bytes;
mod cpi;
pub mod ed25519;
mod math;
mod rt;
mod sysvars;

pub use accounts::*;
pub use bytes::*;
pub use cpi::*;
pub use math::*;
pub(crate) use rt::gridx_panic_handler;
pub use sysvars::*;

use pinocchio::{error::ProgramError, Address};

pub const SYSTEM_PROGRAM_ID: Address = Address::new_from_array([0u8; 32]);
pub const TOKEN_PROGRAM_ID: Address = pinocchio_token::ID;
/// SPL Token account / mint sizes.
pub const TOKEN_ACCOUNT_LEN: usize = 165;
pub const MINT_LEN: usize = 82;
/// Field offsets of the SPL Token layouts (spl-token `state.rs`): a mint's authority option
/// (u32, 1 = some) and key, its is-initialised byte; a token account's mint, owner, amount and
/// state (1 = initialised, 2 = frozen).
pub const MINT_AUTHORITY_OPTION: usize = 0;
pub const MINT_AUTHORITY: usize = 4;
pub const MINT_IS_INITIALIZED: usize = 45;
pub const TOKEN_ACCOUNT_MINT: usize = 0;
pub const TOKEN_ACCOUNT_OWNER: usize = 32;
pub const TOKEN_ACCOUNT_AMOUNT: usize = 64;
pub const TOKEN_ACCOUNT_STATE: usize = 108;

/// Generic (program-independent) failure codes map onto each program's first ten custom errors,
/// which gen_idl.py keeps identical (COMMON_ERRORS) for all three programs.
#[derive(Clone, Copy)]
#[repr(u32)]
pub enum Common {
    Unauthorized = 6000,
    MissingSignature = 6001,
    InvalidPda = 6002,
    InvalidAccountOwner = 6003,
    InvalidDiscriminator = 6004,
    InvalidInstruction = 6005,
    ArithmeticOverflow = 6006,
    InvalidProgramAccount = 6007,
    NotWritable = 6008,
    InvalidArgument = 6009,
}

impl From<Common> for ProgramError {
    fn from(e: Common) -> Self {
        ProgramError::Custom(e as u32)
    }
}

#[inline(always)]
pub fn fail<T>(e: impl Into<ProgramError>) -> Result<T, ProgramError> {
    Err(e.into())
}

// NOTE: upstream LLVM's BPF backend passes at most 5 arguments in registers (a slice counts
// as 2, a by-reference return value such as ProgramResult as 1) and has no stack-argument ABI:
// helpers that would exceed that are #[inline(always)] wrappers around an #[inline(never)]
// function taking one struct reference. Out-of-line functions also get their own 4 KiB SBF
// stack frame, which keeps the instruction handlers under the per-frame limit.

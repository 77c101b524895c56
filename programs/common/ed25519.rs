//! Reading an Ed25519-program check back through the instructions sysvar.
//!
//! The native Ed25519 program verifies (public key, message, signature) triples before any
//! program runs and fails the whole transaction if one is invalid. A program that finds such an
//! instruction in its own transaction therefore knows those triples are valid; what it must check
//! itself is that the key and the message are the ones it cares about. Keys and messages are
//! located by (instruction index, offset, size), so a message may live in another instruction's
//! data (ours): the signed bytes then travel once.

use super::{fail, key_eq, Common};
use pinocchio::{error::ProgramError, AccountView, Address};

pub const ED25519_PROGRAM_ID: Address = Address::new_from_array([
    3, 125, 70, 214, 124, 147, 251, 190, 18, 249, 66, 143, 131, 141, 64, 255, 5, 112, 116, 73, 39, 244, 138, 100, 252,
    202, 112, 68, 128, 0, 0, 0,
]);
pub const INSTRUCTIONS_SYSVAR_ID: Address = Address::new_from_array([
    6, 167, 213, 23, 24, 123, 209, 102, 53, 218, 212, 4, 85, 253, 194, 192, 193, 36, 198, 143, 33, 86, 117, 165, 219,
    186, 203, 95, 8, 0, 0, 0,
]);

/// "This instruction" in an Ed25519 offsets entry.
const SELF_IX: u16 = u16::MAX;
const HEADER: usize = 2;
const ENTRY: usize = 14;

#[inline(always)]
fn u16_at(d: &[u8], off: usize) -> Result<u16, ProgramError> {
    match d.get(off..off + 2) {
        Some(b) => Ok(u16::from_le_bytes([b[0], b[1]])),
        None => fail(Common::InvalidInstruction),
    }
}

/// Check `a` is the instructions sysvar (its data is then the runtime's, not the caller's).
pub fn require_instructions_sysvar(a: &AccountView) -> Result<(), ProgramError> {
    if !key_eq(a.address(), &INSTRUCTIONS_SYSVAR_ID) {
        return fail(Common::InvalidProgramAccount);
    }
    Ok(())
}

/// Index of the instruction being executed (the sysvar's last two bytes).
pub fn current_index(sysvar: &[u8]) -> Result<u16, ProgramError> {
    if sysvar.len() < 2 {
        return fail(Common::InvalidInstruction);
    }
    u16_at(sysvar, sysvar.len() - 2)
}

/// (program id, data) of instruction `index` in the sysvar.
pub fn instruction_at(sysvar: &[u8], index: u16) -> Result<(Address, &[u8]), ProgramError> {
    let count = u16_at(sysvar, 0)?;
    if index >= count {
        return fail(Common::InvalidInstruction);
    }
    let mut off = u16_at(sysvar, 2 + 2 * index as usize)? as usize;
    let accounts = u16_at(sysvar, off)? as usize;
    off += 2 + accounts * 33;
    let program = match sysvar.get(off..off + 32) {
        Some(p) => Address::new_from_array(p.try_into().unwrap()),
        None => return fail(Common::InvalidInstruction),
    };
    off += 32;
    let len = u16_at(sysvar, off)? as usize;
    off += 2;
    match sysvar.get(off..off + len) {
        Some(d) => Ok((program, d)),
        None => fail(Common::InvalidInstruction),
    }
}

/// One signature entry of an Ed25519-program instruction, resolved where it points into that
/// instruction itself: the public key bytes, and where the message is.
pub struct SignedSpan<'a> {
    pub pubkey: &'a [u8],
    pub msg_ix: u16,
    pub msg_offset: usize,
    pub msg_size: usize,
}

/// The Ed25519 instruction right before instruction `cur`, as its data, with its index.
/// Errors with custom error `missing` if there is none.
pub fn preceding_ed25519(sysvar: &[u8], cur: u16, missing: u32) -> Result<(&[u8], u16), ProgramError> {
    let missing = ProgramError::Custom(missing);
    if cur == 0 {
        return Err(missing);
    }
    let (program, data) = instruction_at(sysvar, cur - 1)?;
    if !key_eq(&program, &ED25519_PROGRAM_ID) || data.len() < HEADER {
        return Err(missing);
    }
    Ok((data, cur - 1))
}

/// Number of signatures in an Ed25519 instruction's data.
#[inline(always)]
pub fn signature_count(ed_data: &[u8]) -> usize {
    ed_data[0] as usize
}

/// Entry `i` of the Ed25519 instruction `ed_data` (at index `ed_index`). Its public key must lie
/// in that instruction's own data (else `missing`); the message may be anywhere (the caller
/// checks where).
pub fn signed_span(ed_data: &[u8], ed_index: u16, i: usize, missing: u32) -> Result<SignedSpan<'_>, ProgramError> {
    let missing = ProgramError::Custom(missing);
    let e = HEADER + i * ENTRY;
    if ed_data.len() < e + ENTRY {
        return Err(missing);
    }
    let pk_offset = u16_at(ed_data, e + 4)? as usize;
    let pk_ix = u16_at(ed_data, e + 6)?;
    if pk_ix != SELF_IX && pk_ix != ed_index {
        return Err(missing);
    }
    let pubkey = match ed_data.get(pk_offset..pk_offset + 32) {
        Some(p) => p,
        None => return Err(missing),
    };
    let msg_ix = match u16_at(ed_data, e + 12)? {
        SELF_IX => ed_index,
        other => other,
    };
    Ok(SignedSpan {
        pubkey,
        msg_ix,
        msg_offset: u16_at(ed_data, e + 8)? as usize,
        msg_size: u16_at(ed_data, e + 10)? as usize,
    })
}

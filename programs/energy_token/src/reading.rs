//! The canonical signed reading bytes of gridx/wire.py (DESIGN §3), parsed without allocation.
//!
//! DOMAIN_TAG NUL | version u16 | meter_id len u8 + bytes | seq u64 | window_start i64 |
//! window_end i64 | produced_wh i64 | consumed_wh i64 | produced_total_wh u64 |
//! consumed_total_wh u64 | prev_hash 32 -- all big-endian, as signed by the meter.

use crate::generated::Error;
use pinocchio::error::ProgramError;

pub const DOMAIN_TAG: &[u8; 22] = b"gridtokenx/reading/v1\0";
pub const VERSION: u16 = 1;
const FIXED: usize = 8 * 7 + 32;

/// The fields the mint needs from one reading.
pub struct Reading {
    pub seq: u64,
    pub window_start: i64,
    pub window_end: i64,
    pub produced_wh: i64,
    pub consumed_wh: i64,
}

#[inline(always)]
fn be_u64(b: &[u8], off: usize) -> u64 {
    u64::from_be_bytes(b[off..off + 8].try_into().unwrap())
}

/// Parse `b` as exactly one canonical v1 reading (no trailing bytes).
pub fn parse(b: &[u8]) -> Result<Reading, ProgramError> {
    let tag = DOMAIN_TAG.len();
    if b.len() < tag + 3 || &b[..tag] != &DOMAIN_TAG[..] || u16::from_be_bytes([b[tag], b[tag + 1]]) != VERSION {
        return Err(Error::MalformedReading.into());
    }
    let mid_len = b[tag + 2] as usize;
    let fixed = tag + 3 + mid_len;
    if mid_len == 0 || mid_len > 32 || b.len() != fixed + FIXED {
        return Err(Error::MalformedReading.into());
    }
    Ok(Reading {
        seq: be_u64(b, fixed),
        window_start: be_u64(b, fixed + 8) as i64,
        window_end: be_u64(b, fixed + 16) as i64,
        produced_wh: be_u64(b, fixed + 24) as i64,
        consumed_wh: be_u64(b, fixed + 32) as i64,
    })
}

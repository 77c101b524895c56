//! Instruction data in, event data out, and little-endian field access on account data.
use super::{fail, Common};
use pinocchio::{error::ProgramError, Address, ProgramResult};

// ---------------------------------------------------------------- logging / events

#[inline(always)]
pub fn log(msg: &str) {
    // SAFETY: the syscall reads exactly `msg.len()` bytes from `msg.as_ptr()`, a live &str.
    unsafe { pinocchio::syscalls::sol_log_(msg.as_ptr(), msg.len() as u64) };
}

/// Emit an Anchor event: `sol_log_data([disc ++ borsh(fields)])`, which the runtime logs as
/// "Program data: <base64>" (what anchorpy's EventParser reads).
#[inline(always)]
pub fn emit(data: &[u8]) {
    let parts: [&[u8]; 1] = [data];
    // SAFETY: `parts` is one (ptr, len) pair, the layout the syscall reads; both outlive the call.
    unsafe { pinocchio::syscalls::sol_log_data(parts.as_ptr() as *const u8, 1) };
}

/// Fixed-capacity little-endian writer for event payloads.
pub struct Buf<const N: usize> {
    pub data: [u8; N],
    pub len: usize,
}

impl<const N: usize> Buf<N> {
    #[inline(always)]
    pub fn new(disc: &[u8; 8]) -> Self {
        let mut b = Self { data: [0u8; N], len: 0 };
        b.put(disc);
        b
    }
    #[inline(always)]
    pub fn put(&mut self, bytes: &[u8]) -> &mut Self {
        self.data[self.len..self.len + bytes.len()].copy_from_slice(bytes);
        self.len += bytes.len();
        self
    }
    pub fn u8(&mut self, v: u8) -> &mut Self {
        self.put(&[v])
    }
    pub fn u32(&mut self, v: u32) -> &mut Self {
        self.put(&v.to_le_bytes())
    }
    pub fn u64(&mut self, v: u64) -> &mut Self {
        self.put(&v.to_le_bytes())
    }
    pub fn i64(&mut self, v: i64) -> &mut Self {
        self.put(&v.to_le_bytes())
    }
    pub fn emit(&self) {
        emit(&self.data[..self.len]);
    }
}

// ---------------------------------------------------------------- instruction data

pub struct Args<'a> {
    data: &'a [u8],
    pos: usize,
}

impl<'a> Args<'a> {
    pub fn new(data: &'a [u8]) -> Self {
        Self { data, pos: 0 }
    }
    #[inline(always)]
    pub fn take(&mut self, n: usize) -> Result<&'a [u8], ProgramError> {
        let end = self.pos.checked_add(n).ok_or(ProgramError::from(Common::InvalidInstruction))?;
        if end > self.data.len() {
            return fail(Common::InvalidInstruction);
        }
        let s = &self.data[self.pos..end];
        self.pos = end;
        Ok(s)
    }
    pub fn u8(&mut self) -> Result<u8, ProgramError> {
        Ok(self.take(1)?[0])
    }
    pub fn u16(&mut self) -> Result<u16, ProgramError> {
        Ok(u16::from_le_bytes(self.take(2)?.try_into().unwrap()))
    }
    pub fn u32(&mut self) -> Result<u32, ProgramError> {
        Ok(u32::from_le_bytes(self.take(4)?.try_into().unwrap()))
    }
    pub fn u64(&mut self) -> Result<u64, ProgramError> {
        Ok(u64::from_le_bytes(self.take(8)?.try_into().unwrap()))
    }
    pub fn i64(&mut self) -> Result<i64, ProgramError> {
        Ok(i64::from_le_bytes(self.take(8)?.try_into().unwrap()))
    }
    pub fn arr32(&mut self) -> Result<[u8; 32], ProgramError> {
        Ok(self.take(32)?.try_into().unwrap())
    }
    pub fn pubkey(&mut self) -> Result<Address, ProgramError> {
        Ok(Address::new_from_array(self.arr32()?))
    }
    /// Trailing bytes are rejected (exact borsh layout).
    pub fn finish(&self) -> ProgramResult {
        if self.pos != self.data.len() {
            return fail(Common::InvalidInstruction);
        }
        Ok(())
    }
}

/// Split the 8-byte Anchor instruction discriminator off the instruction data.
pub fn split_ix(data: &[u8]) -> Result<([u8; 8], &[u8]), ProgramError> {
    if data.len() < 8 {
        return fail(Common::InvalidInstruction);
    }
    Ok((data[..8].try_into().unwrap(), &data[8..]))
}

// ---------------------------------------------------------------- byte field access

#[inline(always)]
pub fn rd_u8(d: &[u8], off: usize) -> u8 {
    d[off]
}
#[inline(always)]
pub fn rd_u16(d: &[u8], off: usize) -> u16 {
    u16::from_le_bytes(d[off..off + 2].try_into().unwrap())
}
#[inline(always)]
pub fn rd_u32(d: &[u8], off: usize) -> u32 {
    u32::from_le_bytes(d[off..off + 4].try_into().unwrap())
}
#[inline(always)]
pub fn rd_u64(d: &[u8], off: usize) -> u64 {
    u64::from_le_bytes(d[off..off + 8].try_into().unwrap())
}
#[inline(always)]
pub fn rd_i64(d: &[u8], off: usize) -> i64 {
    i64::from_le_bytes(d[off..off + 8].try_into().unwrap())
}
#[inline(always)]
pub fn rd_key(d: &[u8], off: usize) -> Address {
    Address::new_from_array(d[off..off + 32].try_into().unwrap())
}
#[inline(always)]
pub fn wr(d: &mut [u8], off: usize, bytes: &[u8]) {
    d[off..off + bytes.len()].copy_from_slice(bytes);
}

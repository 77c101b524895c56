//! Clock, rent and SHA-256 through raw syscalls (no sysvar accounts needed).
use super::mul_u64;
use pinocchio::error::ProgramError;

// ---------------------------------------------------------------- sysvars

#[repr(C)]
struct RawClock {
    slot: u64,
    epoch_start_timestamp: i64,
    epoch: u64,
    leader_schedule_epoch: u64,
    unix_timestamp: i64,
}

pub fn unix_timestamp() -> Result<i64, ProgramError> {
    let mut c = core::mem::MaybeUninit::<RawClock>::uninit();
    #[allow(deprecated)]
    // SAFETY: `c` is a properly aligned, writable RawClock, the exact layout the syscall fills.
    let rc = unsafe { pinocchio::syscalls::sol_get_clock_sysvar(c.as_mut_ptr() as *mut u8) };
    if rc != 0 {
        return Err(ProgramError::UnsupportedSysvar);
    }
    // SAFETY: rc == 0, so the syscall wrote every field of the Clock into `c`.
    Ok(unsafe { c.assume_init() }.unix_timestamp)
}

/// Rent-exempt minimum: (128 + space) * lamports_per_byte_year * 2 (exemption threshold 2.0
/// on every cluster; read without floats).
pub fn rent_exempt(space: usize) -> Result<u64, ProgramError> {
    // The syscall writes a Rent struct (u64, f64, u8): the buffer must be 8-byte aligned.
    let mut raw = [0u64; 3];
    #[allow(deprecated)]
    // SAFETY: `raw` is 24 writable, 8-byte-aligned bytes: room for the Rent struct it writes.
    let rc = unsafe { pinocchio::syscalls::sol_get_rent_sysvar(raw.as_mut_ptr() as *mut u8) };
    if rc != 0 {
        return Err(ProgramError::UnsupportedSysvar);
    }
    let per_byte_year = raw[0];
    mul_u64(mul_u64(128u64 + space as u64, per_byte_year)?, 2)
}

/// SHA-256 of the concatenation of `parts` (the sol_sha256 syscall).
pub fn sha256(parts: &[&[u8]]) -> [u8; 32] {
    let mut out = [0u8; 32];
    // SAFETY: the syscall reads `parts.len()` (ptr, len) pairs, which is exactly the layout of a
    // `&[u8]` slice of slices, and writes 32 bytes into `out`.
    unsafe { pinocchio::syscalls::sol_sha256(parts.as_ptr() as *const u8, parts.len() as u64, out.as_mut_ptr()) };
    out
}

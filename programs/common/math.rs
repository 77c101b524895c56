//! Checked integer arithmetic that the upstream BPF backend can lower.
use super::{fail, Common};
use pinocchio::error::ProgramError;

// ---------------------------------------------------------------- checked math without i128 libcalls
// The upstream BPF backend cannot call compiler-rt's __multi3/__udivti3, so u64::checked_mul
// (which lowers to a 128-bit multiply) and u128 mul/div are unavailable. These helpers do the
// same with 64-bit operations only. (Signed division is also unavailable on SBPF v0.)

#[inline(always)]
pub fn mul_u64(a: u64, b: u64) -> Result<u64, ProgramError> {
    // (not `b > MAX / a`: LLVM folds that idiom back into a 128-bit multiply)
    let (hi, lo) = wide_mul(a, b);
    if hi != 0 {
        return fail(Common::ArithmeticOverflow);
    }
    Ok(lo)
}

#[inline(always)]
pub fn add_u64(a: u64, b: u64) -> Result<u64, ProgramError> {
    a.checked_add(b).ok_or(ProgramError::from(Common::ArithmeticOverflow))
}

#[inline(always)]
pub fn sub_u64(a: u64, b: u64) -> Result<u64, ProgramError> {
    a.checked_sub(b).ok_or(ProgramError::from(Common::ArithmeticOverflow))
}

/// Full 64x64 -> 128 bit product as (hi, lo).
pub fn wide_mul(a: u64, b: u64) -> (u64, u64) {
    const M: u64 = 0xffff_ffff;
    let (a0, a1, b0, b1) = (a & M, a >> 32, b & M, b >> 32);
    let p00 = a0 * b0;
    let p01 = a0 * b1;
    let p10 = a1 * b0;
    let p11 = a1 * b1;
    let mid = (p00 >> 32) + (p01 & M) + (p10 & M);
    let lo = (p00 & M) | (mid << 32);
    let hi = p11 + (p01 >> 32) + (p10 >> 32) + (mid >> 32);
    (hi, lo)
}

/// (a * b) / d as (quotient, remainder) with a 128-bit intermediate; errors if d == 0 or the
/// quotient does not fit in u64.
pub fn mul_div(a: u64, b: u64, d: u64) -> Result<(u64, u64), ProgramError> {
    if d == 0 {
        return fail(Common::ArithmeticOverflow);
    }
    let (hi, lo) = wide_mul(a, b);
    if hi == 0 {
        return Ok((lo / d, lo % d));
    }
    if hi >= d {
        return fail(Common::ArithmeticOverflow);
    }
    let mut rem = hi;
    let mut q = 0u64;
    let mut i = 64;
    while i > 0 {
        i -= 1;
        let carry = rem >> 63;
        rem = (rem << 1) | ((lo >> i) & 1);
        q <<= 1;
        if carry == 1 || rem >= d {
            rem = rem.wrapping_sub(d);
            q |= 1;
        }
    }
    Ok((q, rem))
}

pub fn mul_div_floor(a: u64, b: u64, d: u64) -> Result<u64, ProgramError> {
    Ok(mul_div(a, b, d)?.0)
}

pub fn mul_div_ceil(a: u64, b: u64, d: u64) -> Result<u64, ProgramError> {
    let (q, r) = mul_div(a, b, d)?;
    if r != 0 {
        return add_u64(q, 1);
    }
    Ok(q)
}

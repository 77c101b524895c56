//! Small helpers shared by the three GridTokenX programs (included with `#[path]`).
//! Everything here is `no_std`, allocation-free and uses only pinocchio + raw syscalls.
#![allow(dead_code)]

pub mod ed25519;

use pinocchio::{
    cpi::{Seed, Signer},
    error::ProgramError,
    AccountView, Address, ProgramResult,
};

pub const SYSTEM_PROGRAM_ID: Address = Address::new_from_array([0u8; 32]);
pub const TOKEN_PROGRAM_ID: Address = pinocchio_token::ID;
/// SPL Token account / mint sizes.
pub const TOKEN_ACCOUNT_LEN: usize = 165;
pub const MINT_LEN: usize = 82;

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

// ---------------------------------------------------------------- account checks

#[inline(always)]
pub fn key_eq(a: &Address, b: &Address) -> bool {
    a.as_ref() == b.as_ref()
}

pub fn require_signer(a: &AccountView) -> ProgramResult {
    if !a.is_signer() {
        return fail(Common::MissingSignature);
    }
    Ok(())
}

pub fn require_writable(a: &AccountView) -> ProgramResult {
    if !a.is_writable() {
        return fail(Common::NotWritable);
    }
    Ok(())
}

pub fn require_key(a: &AccountView, expected: &Address, e: impl Into<ProgramError>) -> ProgramResult {
    if !key_eq(a.address(), expected) {
        return Err(e.into());
    }
    Ok(())
}

pub fn require_system_program(a: &AccountView) -> ProgramResult {
    require_key(a, &SYSTEM_PROGRAM_ID, Common::InvalidProgramAccount)
}

pub fn require_token_program(a: &AccountView) -> ProgramResult {
    require_key(a, &TOKEN_PROGRAM_ID, Common::InvalidProgramAccount)
}

/// Check that `a` is an initialised account of ours: owned by `program`, exact size,
/// Anchor discriminator.
#[inline(always)]
pub fn require_account(a: &AccountView, program: &Address, disc: &[u8; 8], len: usize) -> ProgramResult {
    if !a.owned_by(program) {
        return fail(Common::InvalidAccountOwner);
    }
    if a.data_len() != len {
        return fail(Common::InvalidDiscriminator);
    }
    let d = a.try_borrow()?;
    if &d[..8] != disc {
        return fail(Common::InvalidDiscriminator);
    }
    Ok(())
}

/// PDA seeds, built at run time on the stack.
///
/// sbpf-linker 0.1.9 neither aligns .rodata nor relocates pointers stored *inside* .rodata
/// (only lddw/call relocations in .text). A constant seeds array such as `&[b"registry"]`
/// would be promoted to a .rodata constant holding an unrelocated pointer, and syscalls also
/// reject unaligned pointers. So every seed goes through `black_box` into a stack array.
pub struct Seeds<'a> {
    parts: [&'a [u8]; 6],
    n: usize,
}

impl<'a> Seeds<'a> {
    #[inline(always)]
    pub fn new() -> Self {
        Self { parts: [&[]; 6], n: 0 }
    }
    #[inline(always)]
    pub fn with(mut self, s: &'a [u8]) -> Self {
        self.parts[self.n] = core::hint::black_box(s);
        self.n += 1;
        self
    }
    #[inline(always)]
    pub fn as_slice(&self) -> &[&'a [u8]] {
        &self.parts[..self.n]
    }
    /// CPI signer seeds (must already include the bump).
    #[inline(always)]
    pub fn signer_seeds(&self) -> ([Seed<'a>; 6], usize) {
        let mut out = [Seed::from(&[][..]), Seed::from(&[][..]), Seed::from(&[][..]), Seed::from(&[][..]), Seed::from(&[][..]), Seed::from(&[][..])];
        let mut i = 0;
        while i < self.n {
            out[i] = Seed::from(self.parts[i]);
            i += 1;
        }
        (out, self.n)
    }
}

/// Find the canonical PDA for `seeds` and check `a` is it. Returns the bump.
#[inline(never)]
pub fn require_pda(a: &AccountView, seeds: &Seeds, program: &Address) -> Result<u8, ProgramError> {
    let (addr, bump) =
        Address::try_find_program_address(seeds.as_slice(), program).ok_or(ProgramError::from(Common::InvalidPda))?;
    if !key_eq(a.address(), &addr) {
        return fail(Common::InvalidPda);
    }
    Ok(bump)
}

/// Check `a` is the PDA for `seeds` (which already end with the bump byte): one cheap
/// create_program_address instead of a search.
#[inline(never)]
pub fn require_pda_exact(a: &AccountView, seeds: &Seeds, program: &Address) -> ProgramResult {
    let addr = Address::create_program_address(seeds.as_slice(), program).map_err(|_| ProgramError::from(Common::InvalidPda))?;
    if !key_eq(a.address(), &addr) {
        return fail(Common::InvalidPda);
    }
    Ok(())
}

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

// ---------------------------------------------------------------- CPI helpers

/// Create a program-owned account at PDA `target` (signed with `seeds`, which include the bump).
/// Fails with the System Program's "already in use" error if the account exists.
#[inline(always)]
pub fn create_pda_account(
    payer: &AccountView,
    target: &AccountView,
    space: usize,
    owner: &Address,
    seeds: &Seeds,
) -> ProgramResult {
    create_pda_account_impl(&NewAccount { payer, target, space, owner, seeds })
}

pub struct NewAccount<'x, 'a> {
    pub payer: &'x AccountView,
    pub target: &'x AccountView,
    pub space: usize,
    pub owner: &'x Address,
    pub seeds: &'x Seeds<'a>,
}

// Out of line: its own 4 KiB SBF stack frame, and one register argument.
//
// A PDA that someone pre-funded with lamports (still system-owned, no data) would make the
// System Program's CreateAccount fail, letting anyone block e.g. a (meter, window) mint record
// or an order id. So: no lamports -> CreateAccount; lamports but empty and system-owned ->
// top up + Allocate + Assign (signed by the PDA); anything else -> "already in use" semantics
// via the caller's own checks / the System Program.
#[inline(never)]
fn create_pda_account_impl(n: &NewAccount) -> ProgramResult {
    let lamports = rent_exempt(n.space)?;
    let (ss, cnt) = n.seeds.signer_seeds();
    let signer = [Signer::from(&ss[..cnt])];
    let have = n.target.lamports();
    if have == 0 {
        return pinocchio_system::instructions::CreateAccount { from: n.payer, to: n.target, lamports, space: n.space as u64, owner: n.owner }
            .invoke_signed(&signer);
    }
    if !n.target.owned_by(&SYSTEM_PROGRAM_ID) || n.target.data_len() != 0 {
        return Err(ProgramError::AccountAlreadyInitialized);
    }
    if have < lamports {
        pinocchio_system::instructions::Transfer { from: n.payer, to: n.target, lamports: lamports - have }.invoke()?;
    }
    pinocchio_system::instructions::Allocate { account: n.target, space: n.space as u64 }.invoke_signed(&signer)?;
    pinocchio_system::instructions::Assign { account: n.target, owner: n.owner }.invoke_signed(&signer)
}

/// Close a program-owned account: all lamports to `dest`, data zeroed.
pub fn close_account(acc: &mut AccountView, dest: &mut AccountView) -> ProgramResult {
    let total = dest.lamports().checked_add(acc.lamports()).ok_or(ProgramError::from(Common::ArithmeticOverflow))?;
    {
        let mut d = acc.try_borrow_mut()?;
        d.fill(0);
    }
    dest.set_lamports(total);
    acc.set_lamports(0);
    acc.close()
}

pub struct TokenOp<'x, 'a> {
    pub mint_to: bool,
    /// source token account (Transfer) or mint (MintTo)
    pub from: &'x AccountView,
    pub to: &'x AccountView,
    pub authority: &'x AccountView,
    pub amount: u64,
    /// PDA signer seeds (incl. bump); None = the authority signed the transaction.
    pub seeds: Option<&'x Seeds<'a>>,
}

#[inline(never)]
fn token_op(op: &TokenOp) -> ProgramResult {
    match op.seeds {
        Some(seeds) => {
            let (ss, n) = seeds.signer_seeds();
            let signer = [Signer::from(&ss[..n])];
            if op.mint_to {
                pinocchio_token::instructions::MintTo::new(op.from, op.to, op.authority, op.amount).invoke_signed(&signer)
            } else {
                pinocchio_token::instructions::Transfer::new(op.from, op.to, op.authority, op.amount).invoke_signed(&signer)
            }
        }
        None => pinocchio_token::instructions::Transfer::new(op.from, op.to, op.authority, op.amount).invoke(),
    }
}

/// SPL Transfer signed by the (user) authority of the source account.
#[inline(always)]
pub fn token_transfer(from: &AccountView, to: &AccountView, authority: &AccountView, amount: u64) -> ProgramResult {
    token_op(&TokenOp { mint_to: false, from, to, authority, amount, seeds: None })
}

/// SPL Transfer out of a PDA-owned account, signed with the PDA's seeds (incl. bump).
#[inline(always)]
pub fn token_transfer_signed(from: &AccountView, to: &AccountView, authority: &AccountView, amount: u64, seeds: &Seeds) -> ProgramResult {
    token_op(&TokenOp { mint_to: false, from, to, authority, amount, seeds: Some(seeds) })
}

/// SPL MintTo signed by a PDA mint authority.
#[inline(always)]
pub fn token_mint_to(mint: &AccountView, to: &AccountView, authority: &AccountView, amount: u64, seeds: &Seeds) -> ProgramResult {
    token_op(&TokenOp { mint_to: true, from: mint, to, authority, amount, seeds: Some(seeds) })
}

/// Read (mint, owner, amount) of an SPL token account, checking owner program and size.
pub fn token_account_info(a: &AccountView) -> Result<(Address, Address, u64), ProgramError> {
    if !a.owned_by(&TOKEN_PROGRAM_ID) {
        return fail(Common::InvalidAccountOwner);
    }
    if a.data_len() != TOKEN_ACCOUNT_LEN {
        return fail(Common::InvalidDiscriminator);
    }
    let d = a.try_borrow()?;
    // state byte at 108: 1 = initialized (0 = uninit, 2 = frozen)
    if d[108] != 1 {
        return fail(Common::InvalidDiscriminator);
    }
    Ok((rd_key(&d, 0), rd_key(&d, 32), rd_u64(&d, 64)))
}

// ---------------------------------------------------------------- panics

/// Panic handler: pinocchio's reads the file name from the panic Location, whose pointer
/// lives in .rodata and is not relocated by sbpf-linker (see README), so report a fixed
/// message through `sol_panic_` instead (shows as "SBF program panicked" + "program:0:0").
macro_rules! gridx_panic_handler {
    () => {
        #[panic_handler]
        fn panic(_info: &core::panic::PanicInfo<'_>) -> ! {
            let msg = concat!(env!("CARGO_PKG_NAME"), " panicked");
            // SAFETY: `msg` is a 'static str; the syscall reads `msg.len()` bytes and aborts.
            unsafe { pinocchio::syscalls::sol_panic_(msg.as_ptr(), msg.len() as u64, 0, 0) }
        }
    };
}
pub(crate) use gridx_panic_handler;

// ---------------------------------------------------------------- memory builtins
// LLVM lowers large copies/fills to calls to memcpy/memset/...; on Solana those are provided
// by the sol_mem*_ syscalls. compiler_builtins (build-std) does not export them for
// bpfel-unknown-none and sbpf-linker cannot resolve them otherwise.

/// # Safety
/// The C contract: `dst` and `src` valid for `n` bytes and not overlapping.
#[no_mangle]
// SAFETY: exported as the C symbol LLVM calls; the syscall has memcpy's contract.
pub unsafe extern "C" fn memcpy(dst: *mut u8, src: *const u8, n: usize) -> *mut u8 {
    pinocchio::syscalls::sol_memcpy_(dst, src, n as u64);
    dst
}

/// # Safety
/// The C contract: `dst` and `src` valid for `n` bytes (they may overlap).
#[no_mangle]
// SAFETY: exported as the C symbol LLVM calls; the syscall has memmove's contract.
pub unsafe extern "C" fn memmove(dst: *mut u8, src: *const u8, n: usize) -> *mut u8 {
    pinocchio::syscalls::sol_memmove_(dst, src, n as u64);
    dst
}

/// # Safety
/// The C contract: `s` valid for `n` writable bytes.
#[no_mangle]
// SAFETY: exported as the C symbol LLVM calls; the syscall has memset's contract.
pub unsafe extern "C" fn memset(s: *mut u8, c: i32, n: usize) -> *mut u8 {
    pinocchio::syscalls::sol_memset_(s, c as u8, n as u64);
    s
}

/// # Safety
/// The C contract: `a` and `b` valid for `n` readable bytes.
#[no_mangle]
// SAFETY: exported as the C symbol LLVM calls; the syscall writes its result into `r`.
pub unsafe extern "C" fn memcmp(a: *const u8, b: *const u8, n: usize) -> i32 {
    let mut r: i32 = 0;
    pinocchio::syscalls::sol_memcmp_(a, b, n as u64, &mut r as *mut i32);
    r
}

/// # Safety
/// The C contract: `a` and `b` valid for `n` readable bytes.
#[no_mangle]
// SAFETY: same contract as `memcmp`, which it calls.
pub unsafe extern "C" fn bcmp(a: *const u8, b: *const u8, n: usize) -> i32 {
    memcmp(a, b, n)
}

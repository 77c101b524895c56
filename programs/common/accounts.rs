//! Account checks and PDA derivation.
use super::{fail, Common, SYSTEM_PROGRAM_ID, TOKEN_PROGRAM_ID};
use pinocchio::{cpi::Seed, error::ProgramError, AccountView, Address, ProgramResult};

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

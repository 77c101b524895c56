//! Cross-program invocations: account creation and closing, SPL token transfers and mints.
use super::{
    fail, rd_key, rd_u64, rent_exempt, Common, Seeds, SYSTEM_PROGRAM_ID, TOKEN_ACCOUNT_AMOUNT, TOKEN_ACCOUNT_LEN, TOKEN_ACCOUNT_MINT,
    TOKEN_ACCOUNT_OWNER, TOKEN_ACCOUNT_STATE, TOKEN_PROGRAM_ID,
};
use pinocchio::{cpi::Signer, error::ProgramError, AccountView, Address, ProgramResult};

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
    // 1 = initialised (0 = uninitialised, 2 = frozen)
    if d[TOKEN_ACCOUNT_STATE] != 1 {
        return fail(Common::InvalidDiscriminator);
    }
    Ok((rd_key(&d, TOKEN_ACCOUNT_MINT), rd_key(&d, TOKEN_ACCOUNT_OWNER), rd_u64(&d, TOKEN_ACCOUNT_AMOUNT)))
}

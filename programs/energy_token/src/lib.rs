//! GridTokenX energy token (GRXE). Interface: programs/idl/energy_token.json.
//!
//! * GRXE is an SPL Token mint at PDA ["mint"], 6 decimals, mint authority PDA ["mint_authority"],
//!   no freeze authority; created by `initialize`.
//! * Only the compiled-in deployer may initialise; the admin it names adds minters, each bound
//!   to one edge (PDA ["minter", key, edge_id]).
//! * `mint_readings` (mint_readings.rs) mints only readings the meter signed, checked through the
//!   Ed25519 program, each window once and in time order (per-meter high-water mark).
#![no_std]

#[path = "../../common/mod.rs"]
mod common;
mod generated;
mod mint_readings;
mod reading;

use common::*;
use generated::*;
use pinocchio::{error::ProgramError, AccountView, Address, ProgramResult};

// At most 24 accounts are parsed (the largest instruction takes 13): keeps the entrypoint's
// account array small on the 4 KiB SBF stack frame.
pinocchio::program_entrypoint!(process_instruction, 24);
pinocchio::no_allocator!();
common::gridx_panic_handler!();

pub const DECIMALS: u8 = 6;
/// 1 Wh = 1,000 base units (1 kWh = 1 GRXE = 10^6 base units).
pub const BASE_UNITS_PER_WH: u64 = 1_000;
pub const MAX_WINDOW_SECONDS: u32 = 86_400;


pub fn process_instruction(program_id: &Address, accounts: &mut [AccountView], data: &[u8]) -> ProgramResult {
    let (disc, rest) = split_ix(data)?;
    let mut args = Args::new(rest);
    match disc {
        IX_INITIALIZE => initialize(program_id, accounts, &mut args),
        IX_ADD_MINTER => add_minter(program_id, accounts, &mut args),
        IX_REMOVE_MINTER => remove_minter(program_id, accounts, &mut args),
        IX_MINT_READINGS => mint_readings::process(program_id, accounts, data),
        _ => fail(Error::InvalidInstruction),
    }
}

/// Check `config` is our config PDA and return (admin, registry_program, mint, bump fields).
pub(crate) fn load_config(program_id: &Address, config: &AccountView) -> Result<(Address, Address, Address, u8, u8), ProgramError> {
    require_account(config, program_id, &DISC_TOKEN_CONFIG, TOKEN_CONFIG_LEN)?;
    // Identity by type: a TokenConfig can only ever be created by `initialize`, at the PDA
    // ["config"] (checked there), so owner + discriminator + size identify it; this saves a
    // create_program_address (~1,500 CU) on every mint. The same argument holds for Minter
    // (stored `minter` key), and for the registry's MeterAccount / UserAccount (stored `meter` /
    // `wallet` key), which the registry creates only at ["meter", meter] / ["user", wallet].
    let d = config.try_borrow()?;
    Ok((
        rd_key(&d, TOKEN_CONFIG_ADMIN),
        rd_key(&d, TOKEN_CONFIG_REGISTRY_PROGRAM),
        rd_key(&d, TOKEN_CONFIG_MINT),
        d[TOKEN_CONFIG_MINT_BUMP],
        d[TOKEN_CONFIG_MINT_AUTHORITY_BUMP],
    ))
}

fn require_admin(program_id: &Address, config: &AccountView, admin: &AccountView) -> ProgramResult {
    let (cfg_admin, ..) = load_config(program_id, config)?;
    require_signer(admin)?;
    if !key_eq(&cfg_admin, admin.address()) {
        return fail(Error::Unauthorized);
    }
    Ok(())
}

#[inline(never)]
fn initialize(program_id: &Address, accounts: &mut [AccountView], args: &mut Args) -> ProgramResult {
    let registry_program = args.pubkey()?;
    let admin_key = args.pubkey()?;
    args.finish()?;
    if registry_program.as_ref() != &REGISTRY_PROGRAM_ID[..] {
        return fail(Error::InvalidProgramAccount);
    }
    let [admin, config, mint, mint_authority, token_program, system, ..] = accounts else {
        return Err(ProgramError::NotEnoughAccountKeys);
    };
    require_signer(admin)?;
    // `admin` here is the deployer paying for the accounts; only the compiled-in key may
    // initialise (no first-caller-wins), and it names the operational admin.
    if admin.address().as_ref() != &DEPLOYER[..] {
        return fail(Error::NotDeployer);
    }
    require_writable(config)?;
    require_writable(mint)?;
    require_token_program(token_program)?;
    require_system_program(system)?;
    let bump = require_pda(config, &Seeds::new().with(b"config"), program_id)?;
    let mint_bump = require_pda(mint, &Seeds::new().with(b"mint"), program_id)?;
    let auth_bump = require_pda(mint_authority, &Seeds::new().with(b"mint_authority"), program_id)?;

    let b = [bump];
    create_pda_account(admin, config, TOKEN_CONFIG_LEN, program_id, &Seeds::new().with(b"config").with(&b))?;
    // GRXE mint: a token-program-owned account at our PDA, then InitializeMint2.
    let mb = [mint_bump];
    create_pda_account(admin, mint, MINT_LEN, &TOKEN_PROGRAM_ID, &Seeds::new().with(b"mint").with(&mb))?;
    pinocchio_token::instructions::InitializeMint2::new(mint, DECIMALS, mint_authority.address(), None).invoke()?;

    let mut d = config.try_borrow_mut()?;
    wr(&mut d, 0, &DISC_TOKEN_CONFIG);
    wr(&mut d, TOKEN_CONFIG_ADMIN, admin_key.as_ref());
    wr(&mut d, TOKEN_CONFIG_REGISTRY_PROGRAM, registry_program.as_ref());
    wr(&mut d, TOKEN_CONFIG_MINT, mint.address().as_ref());
    d[TOKEN_CONFIG_BUMP] = bump;
    d[TOKEN_CONFIG_MINT_BUMP] = mint_bump;
    d[TOKEN_CONFIG_MINT_AUTHORITY_BUMP] = auth_bump;
    Ok(())
}

#[inline(never)]
fn add_minter(program_id: &Address, accounts: &mut [AccountView], args: &mut Args) -> ProgramResult {
    let minter = args.pubkey()?;
    let edge_id = args.arr32()?;
    args.finish()?;
    let [admin, config, minter_account, system, ..] = accounts else { return Err(ProgramError::NotEnoughAccountKeys) };
    require_writable(config)?;
    require_writable(minter_account)?;
    require_system_program(system)?;
    require_admin(program_id, config, admin)?;
    let bump = require_pda(minter_account, &Seeds::new().with(b"minter").with(minter.as_ref()).with(&edge_id), program_id)?;
    let b = [bump];
    create_pda_account(admin, minter_account, MINTER_LEN, program_id, &Seeds::new().with(b"minter").with(minter.as_ref()).with(&edge_id).with(&b))?;
    {
        let mut d = minter_account.try_borrow_mut()?;
        wr(&mut d, 0, &DISC_MINTER);
        wr(&mut d, MINTER_MINTER, minter.as_ref());
        wr(&mut d, MINTER_ADDED_BY, admin.address().as_ref());
        d[MINTER_BUMP] = bump;
        wr(&mut d, MINTER_EDGE_ID, &edge_id);
    }
    {
        let mut c = config.try_borrow_mut()?;
        let n = rd_u32(&c, TOKEN_CONFIG_MINTER_COUNT).saturating_add(1);
        wr(&mut c, TOKEN_CONFIG_MINTER_COUNT, &n.to_le_bytes());
    }
    let mut ev = Buf::<{ EV_MINTER_ADDED_LEN }>::new(&EV_MINTER_ADDED);
    ev.put(minter.as_ref()).put(&edge_id);
    ev.emit();
    Ok(())
}

#[inline(never)]
fn remove_minter(program_id: &Address, accounts: &mut [AccountView], args: &mut Args) -> ProgramResult {
    let minter = args.pubkey()?;
    let edge_id = args.arr32()?;
    args.finish()?;
    let [admin, config, minter_account, ..] = accounts else { return Err(ProgramError::NotEnoughAccountKeys) };
    require_writable(admin)?;
    require_writable(config)?;
    require_writable(minter_account)?;
    require_admin(program_id, config, admin)?;
    require_account(minter_account, program_id, &DISC_MINTER, MINTER_LEN)?;
    let bump = [minter_account.try_borrow()?[MINTER_BUMP]];
    require_pda_exact(minter_account, &Seeds::new().with(b"minter").with(minter.as_ref()).with(&edge_id).with(&bump), program_id)?;
    close_account(minter_account, admin)?;
    {
        let mut c = config.try_borrow_mut()?;
        let n = rd_u32(&c, TOKEN_CONFIG_MINTER_COUNT).saturating_sub(1);
        wr(&mut c, TOKEN_CONFIG_MINTER_COUNT, &n.to_le_bytes());
    }
    let mut ev = Buf::<{ EV_MINTER_REMOVED_LEN }>::new(&EV_MINTER_REMOVED);
    ev.put(minter.as_ref()).put(&edge_id);
    ev.emit();
    Ok(())
}


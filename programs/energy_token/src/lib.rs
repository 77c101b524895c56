//! GridTokenX energy token (GRXE). Interface: programs/idl/energy_token.json.
//!
//! * GRXE is an SPL Token mint at PDA ["mint"], 6 decimals, mint authority PDA ["mint_authority"],
//!   no freeze authority; created by `initialize`.
//! * Only authorised minters (PDA ["minter", key]) may call `mint_for_reading`.
//! * One mint per (meter, window_start): the PDA ["mint_record", meter, window_start LE] is
//!   created in the same instruction, so a repeat fails ("already in use").
#![no_std]

#[path = "../../common/mod.rs"]
mod common;
mod generated;

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

/// Registry status / user-type values (programs/registry).
const USER_PROSUMER: u8 = 0;
const METER_ACTIVE: u8 = 0;

pub fn process_instruction(program_id: &Address, accounts: &mut [AccountView], data: &[u8]) -> ProgramResult {
    let (disc, rest) = split_ix(data)?;
    let mut args = Args::new(rest);
    match disc {
        IX_INITIALIZE => initialize(program_id, accounts, &mut args),
        IX_ADD_MINTER => add_minter(program_id, accounts, &mut args),
        IX_REMOVE_MINTER => remove_minter(program_id, accounts, &mut args),
        IX_MINT_FOR_READING => mint_for_reading(program_id, accounts, &mut args),
        _ => fail(Error::InvalidInstruction),
    }
}

/// Check `config` is our config PDA and return (admin, registry_program, mint, bump fields).
fn load_config(program_id: &Address, config: &AccountView) -> Result<(Address, Address, Address, u8, u8), ProgramError> {
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
    args.finish()?;
    if registry_program.as_ref() != &REGISTRY_PROGRAM_ID[..] {
        return fail(Error::InvalidProgramAccount);
    }
    let [admin, config, mint, mint_authority, token_program, system, ..] = accounts else {
        return Err(ProgramError::NotEnoughAccountKeys);
    };
    require_signer(admin)?;
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
    wr(&mut d, TOKEN_CONFIG_ADMIN, admin.address().as_ref());
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
    args.finish()?;
    let [admin, config, minter_account, system, ..] = accounts else { return Err(ProgramError::NotEnoughAccountKeys) };
    require_writable(config)?;
    require_writable(minter_account)?;
    require_system_program(system)?;
    require_admin(program_id, config, admin)?;
    let bump = require_pda(minter_account, &Seeds::new().with(b"minter").with(minter.as_ref()), program_id)?;
    let b = [bump];
    create_pda_account(admin, minter_account, MINTER_LEN, program_id, &Seeds::new().with(b"minter").with(minter.as_ref()).with(&b))?;
    {
        let mut d = minter_account.try_borrow_mut()?;
        wr(&mut d, 0, &DISC_MINTER);
        wr(&mut d, MINTER_MINTER, minter.as_ref());
        wr(&mut d, MINTER_ADDED_BY, admin.address().as_ref());
        d[MINTER_BUMP] = bump;
    }
    {
        let mut c = config.try_borrow_mut()?;
        let n = rd_u32(&c, TOKEN_CONFIG_MINTER_COUNT).checked_add(1).ok_or(Error::ArithmeticOverflow)?;
        wr(&mut c, TOKEN_CONFIG_MINTER_COUNT, &n.to_le_bytes());
    }
    let mut ev = Buf::<{ EV_MINTER_ADDED_LEN }>::new(&EV_MINTER_ADDED);
    ev.put(minter.as_ref());
    ev.emit();
    Ok(())
}

#[inline(never)]
fn remove_minter(program_id: &Address, accounts: &mut [AccountView], args: &mut Args) -> ProgramResult {
    let minter = args.pubkey()?;
    args.finish()?;
    let [admin, config, minter_account, ..] = accounts else { return Err(ProgramError::NotEnoughAccountKeys) };
    require_writable(admin)?;
    require_writable(config)?;
    require_writable(minter_account)?;
    require_admin(program_id, config, admin)?;
    require_account(minter_account, program_id, &DISC_MINTER, MINTER_LEN)?;
    let bump = [minter_account.try_borrow()?[MINTER_BUMP]];
    require_pda_exact(minter_account, &Seeds::new().with(b"minter").with(minter.as_ref()).with(&bump), program_id)?;
    close_account(minter_account, admin)?;
    {
        let mut c = config.try_borrow_mut()?;
        let n = rd_u32(&c, TOKEN_CONFIG_MINTER_COUNT).checked_sub(1).ok_or(Error::ArithmeticOverflow)?;
        wr(&mut c, TOKEN_CONFIG_MINTER_COUNT, &n.to_le_bytes());
    }
    let mut ev = Buf::<{ EV_MINTER_REMOVED_LEN }>::new(&EV_MINTER_REMOVED);
    ev.put(minter.as_ref());
    ev.emit();
    Ok(())
}

/// Validated facts about the meter being minted for.
struct MeterFacts {
    owner: Address,
    rated_power_w: u64,
}

/// Read the registry's meter + owner user accounts, checking program ownership, discriminators,
/// PDAs (under the configured registry program), status and user type.
fn check_meter(registry: &Address, meter: &Address, meter_account: &AccountView, owner_user: &AccountView) -> Result<MeterFacts, ProgramError> {
    use generated::registry_layout::*;
    if !meter_account.owned_by(registry) || !owner_user.owned_by(registry) {
        return fail(Error::InvalidAccountOwner);
    }
    let (owner, rated_power_w) = {
        if meter_account.data_len() != METER_ACCOUNT_LEN {
            return fail(Error::InvalidDiscriminator);
        }
        let d = meter_account.try_borrow()?;
        if d[..8] != DISC_METER_ACCOUNT {
            return fail(Error::InvalidDiscriminator);
        }
        if !key_eq(&rd_key(&d, METER_ACCOUNT_METER), meter) {
            return fail(Error::MeterMismatch);
        }
        if d[METER_ACCOUNT_STATUS] != METER_ACTIVE {
            return fail(Error::MeterNotActive);
        }
        (rd_key(&d, METER_ACCOUNT_OWNER), rd_u64(&d, METER_ACCOUNT_RATED_POWER_W))
    };
    {
        if owner_user.data_len() != USER_ACCOUNT_LEN {
            return fail(Error::InvalidDiscriminator);
        }
        let u = owner_user.try_borrow()?;
        if u[..8] != DISC_USER_ACCOUNT {
            return fail(Error::InvalidDiscriminator);
        }
        if !key_eq(&rd_key(&u, USER_ACCOUNT_WALLET), &owner) {
            return fail(Error::InvalidPda);
        }
        if u[USER_ACCOUNT_USER_TYPE] != USER_PROSUMER {
            return fail(Error::NotProsumer);
        }
    }
    Ok(MeterFacts { owner, rated_power_w })
}

#[inline(never)]
fn mint_for_reading(program_id: &Address, accounts: &mut [AccountView], args: &mut Args) -> ProgramResult {
    let meter = args.pubkey()?;
    let window_start = args.i64()?;
    let window_seconds = args.u32()?;
    let amount = args.u64()?;
    args.finish()?;
    let [minter, minter_account, config, meter_account, owner_user, mint_record, mint, mint_authority, owner_token_account, token_program, system, ..] =
        accounts
    else {
        return Err(ProgramError::NotEnoughAccountKeys);
    };
    require_signer(minter)?;
    require_writable(minter_account)?;
    require_writable(config)?;
    require_writable(mint_record)?;
    require_writable(mint)?;
    require_writable(owner_token_account)?;
    require_token_program(token_program)?;
    require_system_program(system)?;

    if amount == 0 {
        return fail(Error::ZeroAmount);
    }
    if window_seconds == 0 || window_seconds > MAX_WINDOW_SECONDS || window_start < 0 {
        return fail(Error::InvalidWindow);
    }

    let (_, registry, cfg_mint, _, auth_bump) = load_config(program_id, config)?;

    // Authorised minter: our Minter PDA for this signer.
    {
        if !minter_account.owned_by(program_id) || minter_account.data_len() != MINTER_LEN {
            return fail(Error::NotMinter);
        }
        let d = minter_account.try_borrow()?;
        if d[..8] != DISC_MINTER || !key_eq(&rd_key(&d, MINTER_MINTER), minter.address()) {
            return fail(Error::NotMinter);
        }
    }

    let facts = check_meter(&registry, &meter, meter_account, owner_user)?;

    // amount <= rated_power_w [W] * window_seconds [s] / 3600 [s/h] * 1000 [base units / Wh]
    let max_amount = mul_div_floor(facts.rated_power_w, (window_seconds as u64) * BASE_UNITS_PER_WH, 3600)?;
    if amount > max_amount {
        return fail(Error::ExceedsRatedPower);
    }

    // GRXE mint and the owner's token account.
    if !key_eq(mint.address(), &cfg_mint) {
        return fail(Error::InvalidMint);
    }
    let ab = [auth_bump];
    let auth_seeds = Seeds::new().with(b"mint_authority").with(&ab);
    // The mint's own mint_authority (set to the PDA at initialize) identifies the PDA without a
    // syscall; MintTo signed with auth_seeds would fail for any other account anyway.
    {
        let md = mint.try_borrow()?;
        if md.len() != MINT_LEN || rd_u32(&md, 0) != 1 || !key_eq(&rd_key(&md, 4), mint_authority.address()) {
            return fail(Error::InvalidPda);
        }
    }
    let (ta_mint, ta_owner, _) = token_account_info(owner_token_account)?;
    if !key_eq(&ta_mint, &cfg_mint) || !key_eq(&ta_owner, &facts.owner) {
        return fail(Error::InvalidTokenAccount);
    }

    // Dedup record: creating it fails if this (meter, window_start) was already minted.
    let ws = window_start.to_le_bytes();
    if mint_record.data_len() != 0 || !mint_record.owned_by(&SYSTEM_PROGRAM_ID) {
        return fail(Error::AlreadyMinted);
    }
    let rbump = require_pda(mint_record, &Seeds::new().with(b"mint_record").with(meter.as_ref()).with(&ws), program_id)?;
    let rb = [rbump];
    create_pda_account(minter, mint_record, MINT_RECORD_LEN, program_id, &Seeds::new().with(b"mint_record").with(meter.as_ref()).with(&ws).with(&rb))?;
    let now = unix_timestamp()?;
    {
        let mut d = mint_record.try_borrow_mut()?;
        wr(&mut d, 0, &DISC_MINT_RECORD);
        wr(&mut d, MINT_RECORD_METER, meter.as_ref());
        wr(&mut d, MINT_RECORD_OWNER, facts.owner.as_ref());
        wr(&mut d, MINT_RECORD_WINDOW_START, &ws);
        wr(&mut d, MINT_RECORD_WINDOW_SECONDS, &window_seconds.to_le_bytes());
        wr(&mut d, MINT_RECORD_AMOUNT, &amount.to_le_bytes());
        wr(&mut d, MINT_RECORD_MINTER, minter.address().as_ref());
        wr(&mut d, MINT_RECORD_MINTED_AT, &now.to_le_bytes());
        d[MINT_RECORD_BUMP] = rbump;
    }

    token_mint_to(mint, owner_token_account, mint_authority, amount, &auth_seeds)?;

    {
        let mut c = config.try_borrow_mut()?;
        let total = add_u64(rd_u64(&c, TOKEN_CONFIG_TOTAL_MINTED), amount)?;
        wr(&mut c, TOKEN_CONFIG_TOTAL_MINTED, &total.to_le_bytes());
    }
    {
        let mut m = minter_account.try_borrow_mut()?;
        let total = add_u64(rd_u64(&m, MINTER_MINTED_TOTAL), amount)?;
        wr(&mut m, MINTER_MINTED_TOTAL, &total.to_le_bytes());
    }

    let mut ev = Buf::<{ EV_TOKENS_MINTED_LEN }>::new(&EV_TOKENS_MINTED);
    ev.put(meter.as_ref()).put(facts.owner.as_ref()).i64(window_start).u32(window_seconds).u64(amount).put(minter.address().as_ref());
    ev.emit();
    Ok(())
}

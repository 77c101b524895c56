//! GridTokenX registry: users, meters, authority. Interface: programs/idl/registry.json.
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

pub const USER_PROSUMER: u8 = 0;
pub const USER_CONSUMER: u8 = 1;
pub const METER_ACTIVE: u8 = 0;
pub const METER_REVOKED: u8 = 1;

pub fn process_instruction(program_id: &Address, accounts: &mut [AccountView], data: &[u8]) -> ProgramResult {
    let (disc, rest) = split_ix(data)?;
    let mut args = Args::new(rest);
    match disc {
        IX_INITIALIZE => initialize(program_id, accounts, &mut args),
        IX_REGISTER_USER => register_user(program_id, accounts, &mut args),
        IX_REGISTER_METER => register_meter(program_id, accounts, &mut args),
        IX_SET_METER_STATUS => set_meter_status(program_id, accounts, &mut args),
        IX_ROTATE_AUTHORITY => rotate_authority(program_id, accounts, &mut args),
        _ => fail(Error::InvalidInstruction),
    }
}

/// Load the config and check `authority` is its authority. Returns nothing; errors if not.
fn check_authority(program_id: &Address, config: &AccountView, authority: &AccountView) -> ProgramResult {
    require_account(config, program_id, &DISC_REGISTRY_CONFIG, REGISTRY_CONFIG_LEN)?;
    let d = config.try_borrow()?;
    let bump = [d[REGISTRY_CONFIG_BUMP]];
    require_pda_exact(config, &Seeds::new().with(b"registry").with(&bump), program_id)?;
    require_signer(authority)?;
    if !key_eq(&rd_key(&d, REGISTRY_CONFIG_AUTHORITY), authority.address()) {
        return fail(Error::Unauthorized);
    }
    Ok(())
}

#[inline(never)]
fn initialize(program_id: &Address, accounts: &mut [AccountView], args: &mut Args) -> ProgramResult {
    args.finish()?;
    let [authority, config, system, ..] = accounts else { return Err(ProgramError::NotEnoughAccountKeys) };
    require_signer(authority)?;
    require_writable(config)?;
    require_system_program(system)?;
    let bump = require_pda(config, &Seeds::new().with(b"registry"), program_id)?;
    let b = [bump];
    create_pda_account(authority, config, REGISTRY_CONFIG_LEN, program_id, &Seeds::new().with(b"registry").with(&b))?;
    let mut d = config.try_borrow_mut()?;
    wr(&mut d, 0, &DISC_REGISTRY_CONFIG);
    wr(&mut d, REGISTRY_CONFIG_AUTHORITY, authority.address().as_ref());
    d[REGISTRY_CONFIG_BUMP] = bump;
    Ok(())
}

#[inline(never)]
fn register_user(program_id: &Address, accounts: &mut [AccountView], args: &mut Args) -> ProgramResult {
    let user_type = args.u8()?;
    args.finish()?;
    if user_type != USER_PROSUMER && user_type != USER_CONSUMER {
        return fail(Error::InvalidUserType);
    }
    let [wallet, config, user, system, ..] = accounts else { return Err(ProgramError::NotEnoughAccountKeys) };
    require_signer(wallet)?;
    require_writable(config)?;
    require_writable(user)?;
    require_system_program(system)?;
    require_account(config, program_id, &DISC_REGISTRY_CONFIG, REGISTRY_CONFIG_LEN)?;
    let bump = require_pda(user, &Seeds::new().with(b"user").with(wallet.address().as_ref()), program_id)?;
    let b = [bump];
    create_pda_account(wallet, user, USER_ACCOUNT_LEN, program_id, &Seeds::new().with(b"user").with(wallet.address().as_ref()).with(&b))?;
    let now = unix_timestamp()?;
    {
        let mut d = user.try_borrow_mut()?;
        wr(&mut d, 0, &DISC_USER_ACCOUNT);
        wr(&mut d, USER_ACCOUNT_WALLET, wallet.address().as_ref());
        d[USER_ACCOUNT_USER_TYPE] = user_type;
        wr(&mut d, USER_ACCOUNT_REGISTERED_AT, &now.to_le_bytes());
        d[USER_ACCOUNT_BUMP] = bump;
    }
    {
        let mut c = config.try_borrow_mut()?;
        let n = rd_u64(&c, REGISTRY_CONFIG_USER_COUNT).checked_add(1).ok_or(Error::ArithmeticOverflow)?;
        wr(&mut c, REGISTRY_CONFIG_USER_COUNT, &n.to_le_bytes());
    }
    let mut ev = Buf::<{ EV_USER_REGISTERED_LEN }>::new(&EV_USER_REGISTERED);
    ev.put(wallet.address().as_ref()).u8(user_type);
    ev.emit();
    Ok(())
}

#[inline(never)]
fn register_meter(program_id: &Address, accounts: &mut [AccountView], args: &mut Args) -> ProgramResult {
    let meter = args.pubkey()?;
    let edge_id = args.arr32()?;
    let rated_power_w = args.u64()?;
    args.finish()?;
    if rated_power_w == 0 {
        return fail(Error::InvalidRatedPower);
    }
    let [owner, authority, config, owner_user, meter_account, system, ..] = accounts else {
        return Err(ProgramError::NotEnoughAccountKeys);
    };
    require_signer(owner)?;
    require_writable(config)?;
    require_writable(meter_account)?;
    require_writable(owner_user)?;
    require_system_program(system)?;
    check_authority(program_id, config, authority)?;
    // The owner must be a registered user: the canonical [user, owner] PDA, initialised by us.
    if owner_user.data_len() == 0 || !owner_user.owned_by(program_id) {
        return fail(Error::UserNotRegistered);
    }
    require_account(owner_user, program_id, &DISC_USER_ACCOUNT, USER_ACCOUNT_LEN)?;
    {
        let ub = [owner_user.try_borrow()?[USER_ACCOUNT_BUMP]];
        require_pda_exact(owner_user, &Seeds::new().with(b"user").with(owner.address().as_ref()).with(&ub), program_id)?;
    }
    let bump = require_pda(meter_account, &Seeds::new().with(b"meter").with(meter.as_ref()), program_id)?;
    let b = [bump];
    create_pda_account(owner, meter_account, METER_ACCOUNT_LEN, program_id, &Seeds::new().with(b"meter").with(meter.as_ref()).with(&b))?;
    let now = unix_timestamp()?;
    {
        let mut d = meter_account.try_borrow_mut()?;
        wr(&mut d, 0, &DISC_METER_ACCOUNT);
        wr(&mut d, METER_ACCOUNT_METER, meter.as_ref());
        wr(&mut d, METER_ACCOUNT_OWNER, owner.address().as_ref());
        wr(&mut d, METER_ACCOUNT_EDGE_ID, &edge_id);
        wr(&mut d, METER_ACCOUNT_RATED_POWER_W, &rated_power_w.to_le_bytes());
        d[METER_ACCOUNT_STATUS] = METER_ACTIVE;
        wr(&mut d, METER_ACCOUNT_REGISTERED_AT, &now.to_le_bytes());
        d[METER_ACCOUNT_BUMP] = bump;
    }
    {
        let mut u = owner_user.try_borrow_mut()?;
        let n = rd_u32(&u, USER_ACCOUNT_METER_COUNT).checked_add(1).ok_or(Error::ArithmeticOverflow)?;
        wr(&mut u, USER_ACCOUNT_METER_COUNT, &n.to_le_bytes());
    }
    {
        let mut c = config.try_borrow_mut()?;
        let n = rd_u64(&c, REGISTRY_CONFIG_METER_COUNT).checked_add(1).ok_or(Error::ArithmeticOverflow)?;
        wr(&mut c, REGISTRY_CONFIG_METER_COUNT, &n.to_le_bytes());
    }
    let mut ev = Buf::<{ EV_METER_REGISTERED_LEN }>::new(&EV_METER_REGISTERED);
    ev.put(meter.as_ref()).put(owner.address().as_ref()).put(&edge_id).u64(rated_power_w);
    ev.emit();
    Ok(())
}

#[inline(never)]
fn set_meter_status(program_id: &Address, accounts: &mut [AccountView], args: &mut Args) -> ProgramResult {
    let status = args.u8()?;
    args.finish()?;
    if status != METER_ACTIVE && status != METER_REVOKED {
        return fail(Error::InvalidMeterStatus);
    }
    let [authority, config, meter_account, ..] = accounts else { return Err(ProgramError::NotEnoughAccountKeys) };
    require_writable(meter_account)?;
    check_authority(program_id, config, authority)?;
    require_account(meter_account, program_id, &DISC_METER_ACCOUNT, METER_ACCOUNT_LEN)?;
    let (meter, bump) = {
        let d = meter_account.try_borrow()?;
        (rd_key(&d, METER_ACCOUNT_METER), d[METER_ACCOUNT_BUMP])
    };
    let bump = [bump];
    require_pda_exact(meter_account, &Seeds::new().with(b"meter").with(meter.as_ref()).with(&bump), program_id)?;
    meter_account.try_borrow_mut()?[METER_ACCOUNT_STATUS] = status;
    let mut ev = Buf::<{ EV_METER_STATUS_CHANGED_LEN }>::new(&EV_METER_STATUS_CHANGED);
    ev.put(meter.as_ref()).u8(status);
    ev.emit();
    Ok(())
}

#[inline(never)]
fn rotate_authority(program_id: &Address, accounts: &mut [AccountView], args: &mut Args) -> ProgramResult {
    let new_authority = args.pubkey()?;
    args.finish()?;
    let [authority, config, ..] = accounts else { return Err(ProgramError::NotEnoughAccountKeys) };
    require_writable(config)?;
    check_authority(program_id, config, authority)?;
    {
        let mut d = config.try_borrow_mut()?;
        wr(&mut d, REGISTRY_CONFIG_AUTHORITY, new_authority.as_ref());
    }
    let mut ev = Buf::<{ EV_AUTHORITY_ROTATED_LEN }>::new(&EV_AUTHORITY_ROTATED);
    ev.put(authority.address().as_ref()).put(new_authority.as_ref());
    ev.emit();
    Ok(())
}

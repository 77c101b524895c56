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
/// Upper bound on a meter's rated power: 10 MW (a large commercial PV plant behind one meter).
/// Anything above is a typo or an attempt to widen the mint bound.
pub const MAX_RATED_POWER_W: u64 = 10_000_000;
/// Proof of possession: the meter key signs this tag, then meter, owner and edge_id (32 each).
pub const ENROL_TAG: &[u8; 20] = b"gridtokenx/enrol/v1\0";
pub const ENROL_MSG_LEN: usize = 20 + 32 * 3;

pub fn process_instruction(program_id: &Address, accounts: &mut [AccountView], data: &[u8]) -> ProgramResult {
    let (disc, rest) = split_ix(data)?;
    let mut args = Args::new(rest);
    match disc {
        IX_INITIALIZE => initialize(program_id, accounts, &mut args),
        IX_REGISTER_USER => register_user(program_id, accounts, &mut args),
        IX_REGISTER_METER => register_meter(program_id, accounts, &mut args),
        IX_SET_METER_STATUS => set_meter_status(program_id, accounts, &mut args),
        IX_UPDATE_METER => update_meter(program_id, accounts, &mut args),
        IX_PROPOSE_AUTHORITY => propose_authority(program_id, accounts, &mut args),
        IX_ACCEPT_AUTHORITY => accept_authority(program_id, accounts, &mut args),
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
    let authority = args.pubkey()?;
    args.finish()?;
    let [deployer, config, system, ..] = accounts else { return Err(ProgramError::NotEnoughAccountKeys) };
    require_signer(deployer)?;
    // Only the compiled-in deployer (programs/program_ids.json) may create the config: with a
    // first-caller-wins initialise, whoever watches the deployment could take the registry.
    if deployer.address().as_ref() != &DEPLOYER[..] {
        return fail(Error::NotDeployer);
    }
    require_writable(config)?;
    require_system_program(system)?;
    let bump = require_pda(config, &Seeds::new().with(b"registry"), program_id)?;
    let b = [bump];
    create_pda_account(deployer, config, REGISTRY_CONFIG_LEN, program_id, &Seeds::new().with(b"registry").with(&b))?;
    let mut d = config.try_borrow_mut()?;
    wr(&mut d, 0, &DISC_REGISTRY_CONFIG);
    wr(&mut d, REGISTRY_CONFIG_AUTHORITY, authority.as_ref());
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
        // statistics saturate: a counter must never block a registration
        let n = rd_u64(&c, REGISTRY_CONFIG_USER_COUNT).saturating_add(1);
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
    let interval_s = args.u32()?;
    args.finish()?;
    check_meter_params(rated_power_w, interval_s)?;
    let [owner, authority, config, owner_user, meter_account, system, instructions, ..] = accounts else {
        return Err(ProgramError::NotEnoughAccountKeys);
    };
    check_proof_of_possession(instructions, &meter, owner.address(), &edge_id)?;
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
        wr(&mut d, METER_ACCOUNT_INTERVAL_S, &interval_s.to_le_bytes());
    }
    {
        let mut u = owner_user.try_borrow_mut()?;
        let n = rd_u32(&u, USER_ACCOUNT_METER_COUNT).saturating_add(1);
        wr(&mut u, USER_ACCOUNT_METER_COUNT, &n.to_le_bytes());
    }
    {
        let mut c = config.try_borrow_mut()?;
        let n = rd_u64(&c, REGISTRY_CONFIG_METER_COUNT).saturating_add(1);
        wr(&mut c, REGISTRY_CONFIG_METER_COUNT, &n.to_le_bytes());
    }
    let mut ev = Buf::<{ EV_METER_REGISTERED_LEN }>::new(&EV_METER_REGISTERED);
    ev.put(meter.as_ref()).put(owner.address().as_ref()).put(&edge_id).u64(rated_power_w).u32(interval_s);
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
    let meter = authority_meter(program_id, config, authority, meter_account)?;
    meter_account.try_borrow_mut()?[METER_ACCOUNT_STATUS] = status;
    let mut ev = Buf::<{ EV_METER_STATUS_CHANGED_LEN }>::new(&EV_METER_STATUS_CHANGED);
    ev.put(meter.as_ref()).u8(status);
    ev.emit();
    Ok(())
}

fn check_meter_params(rated_power_w: u64, interval_s: u32) -> ProgramResult {
    if rated_power_w == 0 || rated_power_w > MAX_RATED_POWER_W {
        return fail(Error::InvalidRatedPower);
    }
    if interval_s == 0 || 86_400 % interval_s != 0 {
        return fail(Error::InvalidInterval);
    }
    Ok(())
}

/// The instruction before this one must be an Ed25519-program check, by the meter key, of
/// ENROL_TAG | meter | owner | edge_id: nobody can enrol a key whose secret they do not hold.
#[inline(never)]
fn check_proof_of_possession(instructions: &AccountView, meter: &Address, owner: &Address, edge_id: &[u8; 32]) -> ProgramResult {
    use common::ed25519::*;
    let code = Error::MissingProofOfPossession as u32;
    let missing = || ProgramError::from(Error::MissingProofOfPossession);
    require_instructions_sysvar(instructions)?;
    let sysvar = instructions.try_borrow()?;
    let cur = current_index(&sysvar)?;
    let (ed, ed_index) = preceding_ed25519(&sysvar, cur, code)?;
    if signature_count(ed) != 1 {
        return Err(missing());
    }
    let span = signed_span(ed, ed_index, 0, code)?;
    if span.pubkey != meter.as_ref() || span.msg_ix != ed_index || span.msg_size != ENROL_MSG_LEN {
        return Err(missing());
    }
    let msg = match ed.get(span.msg_offset..span.msg_offset + ENROL_MSG_LEN) {
        Some(m) => m,
        None => return Err(missing()),
    };
    if &msg[..20] != &ENROL_TAG[..] || &msg[20..52] != meter.as_ref() || &msg[52..84] != owner.as_ref() || &msg[84..116] != &edge_id[..] {
        return Err(missing());
    }
    Ok(())
}

/// The registry's meter account passed to an authority instruction, checked; returns its meter key.
fn authority_meter(program_id: &Address, config: &AccountView, authority: &AccountView, meter_account: &AccountView) -> Result<Address, ProgramError> {
    require_writable(meter_account)?;
    check_authority(program_id, config, authority)?;
    require_account(meter_account, program_id, &DISC_METER_ACCOUNT, METER_ACCOUNT_LEN)?;
    let (meter, bump) = {
        let d = meter_account.try_borrow()?;
        (rd_key(&d, METER_ACCOUNT_METER), d[METER_ACCOUNT_BUMP])
    };
    let bump = [bump];
    require_pda_exact(meter_account, &Seeds::new().with(b"meter").with(meter.as_ref()).with(&bump), program_id)?;
    Ok(meter)
}

#[inline(never)]
fn update_meter(program_id: &Address, accounts: &mut [AccountView], args: &mut Args) -> ProgramResult {
    let rated_power_w = args.u64()?;
    let interval_s = args.u32()?;
    args.finish()?;
    let [authority, config, meter_account, ..] = accounts else { return Err(ProgramError::NotEnoughAccountKeys) };
    let meter = authority_meter(program_id, config, authority, meter_account)?;
    let (rated, interval) = {
        let mut d = meter_account.try_borrow_mut()?;
        let rated = if rated_power_w == 0 { rd_u64(&d, METER_ACCOUNT_RATED_POWER_W) } else { rated_power_w };
        let interval = if interval_s == 0 { rd_u32(&d, METER_ACCOUNT_INTERVAL_S) } else { interval_s };
        check_meter_params(rated, interval)?;
        wr(&mut d, METER_ACCOUNT_RATED_POWER_W, &rated.to_le_bytes());
        wr(&mut d, METER_ACCOUNT_INTERVAL_S, &interval.to_le_bytes());
        (rated, interval)
    };
    let mut ev = Buf::<{ EV_METER_UPDATED_LEN }>::new(&EV_METER_UPDATED);
    ev.put(meter.as_ref()).u64(rated).u32(interval);
    ev.emit();
    Ok(())
}

#[inline(never)]
fn propose_authority(program_id: &Address, accounts: &mut [AccountView], args: &mut Args) -> ProgramResult {
    let proposed = args.pubkey()?;
    args.finish()?;
    let [authority, config, ..] = accounts else { return Err(ProgramError::NotEnoughAccountKeys) };
    require_writable(config)?;
    check_authority(program_id, config, authority)?;
    wr(&mut config.try_borrow_mut()?, REGISTRY_CONFIG_PENDING_AUTHORITY, proposed.as_ref());
    let mut ev = Buf::<{ EV_AUTHORITY_PROPOSED_LEN }>::new(&EV_AUTHORITY_PROPOSED);
    ev.put(authority.address().as_ref()).put(proposed.as_ref());
    ev.emit();
    Ok(())
}

/// Second step of a rotation: the proposed key signs, so a typo can never lock the registry.
#[inline(never)]
fn accept_authority(program_id: &Address, accounts: &mut [AccountView], args: &mut Args) -> ProgramResult {
    args.finish()?;
    let [new_authority, config, ..] = accounts else { return Err(ProgramError::NotEnoughAccountKeys) };
    require_writable(config)?;
    require_signer(new_authority)?;
    require_account(config, program_id, &DISC_REGISTRY_CONFIG, REGISTRY_CONFIG_LEN)?;
    let old = {
        let mut d = config.try_borrow_mut()?;
        let pending = rd_key(&d, REGISTRY_CONFIG_PENDING_AUTHORITY);
        if !key_eq(&pending, new_authority.address()) || pending.as_ref() == &[0u8; 32] {
            return fail(Error::NoPendingAuthority);
        }
        let old = rd_key(&d, REGISTRY_CONFIG_AUTHORITY);
        wr(&mut d, REGISTRY_CONFIG_AUTHORITY, new_authority.address().as_ref());
        wr(&mut d, REGISTRY_CONFIG_PENDING_AUTHORITY, &[0u8; 32]);
        old
    };
    let mut ev = Buf::<{ EV_AUTHORITY_ROTATED_LEN }>::new(&EV_AUTHORITY_ROTATED);
    ev.put(old.as_ref()).put(new_authority.address().as_ref());
    ev.emit();
    Ok(())
}

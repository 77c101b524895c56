//! `mint_readings`: GRXE only for energy a meter signed, each window once, in time order.
//!
//! Trust rests on three checks, none of which involves the minter's word:
//! 1. the Ed25519 program verified, in this transaction, one signature per reading by the
//!    meter's enrolled key over exactly the bytes this instruction carries;
//! 2. the amount is computed here from the signed produced/consumed values;
//! 3. the per-meter mint state is a high-water mark: a window must start at or after the end of
//!    the last minted one, so a window can be minted once and never out of order, and no account
//!    (no rent) is needed per window.

use crate::common::ed25519::*;
use crate::common::*;
use crate::generated::*;
use crate::reading::{self, Reading};
use crate::{load_config, BASE_UNITS_PER_WH};
use pinocchio::{error::ProgramError, AccountView, Address, ProgramResult};

pub const MAX_READINGS: usize = 8;
const USER_PROSUMER: u8 = 0;
const METER_ACTIVE: u8 = 0;

/// Where the readings sit inside this instruction's data (offsets are what the Ed25519
/// instruction must point at).
struct Spans {
    n: usize,
    at: [(usize, usize); MAX_READINGS],
}

/// data = disc 8 | u32 n | n x (u32 len | len bytes): borsh `Vec<bytes>`.
fn spans(data: &[u8]) -> Result<Spans, ProgramError> {
    let mut args = Args::new(&data[8..]);
    let n = args.u32()? as usize;
    if n == 0 || n > MAX_READINGS {
        return fail(Error::TooManyReadings);
    }
    let mut out = Spans { n, at: [(0, 0); MAX_READINGS] };
    let mut pos = 12usize;
    for slot in out.at.iter_mut().take(n) {
        let len = args.u32()? as usize;
        args.take(len)?;
        *slot = (pos + 4, len);
        pos += 4 + len;
    }
    args.finish()?;
    Ok(out)
}

/// What the registry says about the meter (identity by type: the registry creates a
/// MeterAccount only at ["meter", meter], and a UserAccount only at ["user", wallet]).
struct Meter {
    key: Address,
    owner: Address,
    edge_id: [u8; 32],
    rated_power_w: u64,
    registered_at: i64,
    interval_s: u64,
}

#[inline(never)]
fn load_meter(
    registry: &Address,
    meter_account: &AccountView,
    owner_user: &AccountView,
) -> Result<Meter, ProgramError> {
    use crate::generated::registry_layout::*;
    if !meter_account.owned_by(registry) || !owner_user.owned_by(registry) {
        return fail(Error::InvalidAccountOwner);
    }
    if meter_account.data_len() != METER_ACCOUNT_LEN || owner_user.data_len() != USER_ACCOUNT_LEN {
        return fail(Error::InvalidDiscriminator);
    }
    let d = meter_account.try_borrow()?;
    if d[..8] != DISC_METER_ACCOUNT {
        return fail(Error::InvalidDiscriminator);
    }
    if d[METER_ACCOUNT_STATUS] != METER_ACTIVE {
        return fail(Error::MeterNotActive);
    }
    let m = Meter {
        key: rd_key(&d, METER_ACCOUNT_METER),
        owner: rd_key(&d, METER_ACCOUNT_OWNER),
        edge_id: d[METER_ACCOUNT_EDGE_ID..METER_ACCOUNT_EDGE_ID + 32].try_into().unwrap(),
        rated_power_w: rd_u64(&d, METER_ACCOUNT_RATED_POWER_W),
        registered_at: rd_i64(&d, METER_ACCOUNT_REGISTERED_AT),
        interval_s: rd_u32(&d, METER_ACCOUNT_INTERVAL_S) as u64,
    };
    let u = owner_user.try_borrow()?;
    if u[..8] != DISC_USER_ACCOUNT || !key_eq(&rd_key(&u, USER_ACCOUNT_WALLET), &m.owner) {
        return fail(Error::InvalidPda);
    }
    if u[USER_ACCOUNT_USER_TYPE] != USER_PROSUMER {
        return fail(Error::NotProsumer);
    }
    if m.interval_s == 0 {
        return fail(Error::InvalidWindow);
    }
    Ok(m)
}

/// The signer is an authorised minter for the meter's edge.
#[inline(never)]
fn check_minter(
    program_id: &Address,
    minter: &AccountView,
    minter_account: &AccountView,
    edge_id: &[u8; 32],
) -> ProgramResult {
    require_signer(minter)?;
    if !minter_account.owned_by(program_id) || minter_account.data_len() != MINTER_LEN {
        return fail(Error::NotMinter);
    }
    let d = minter_account.try_borrow()?;
    if d[..8] != DISC_MINTER || !key_eq(&rd_key(&d, MINTER_MINTER), minter.address()) {
        return fail(Error::NotMinter);
    }
    if &d[MINTER_EDGE_ID..MINTER_EDGE_ID + 32] != &edge_id[..] {
        return fail(Error::WrongEdge);
    }
    Ok(())
}

/// The per-meter mint state, created on the first mint (the only account a meter ever costs
/// the minter). Returns the high-water mark: the earliest start a next window may have.
#[inline(never)]
fn open_state(
    program_id: &Address,
    minter: &AccountView,
    state: &mut AccountView,
    meter: &Address,
) -> Result<i64, ProgramError> {
    if state.data_len() == 0 {
        let bump = require_pda(state, &Seeds::new().with(b"mint_state").with(meter.as_ref()), program_id)?;
        let b = [bump];
        create_pda_account(
            minter,
            state,
            MINT_STATE_LEN,
            program_id,
            &Seeds::new().with(b"mint_state").with(meter.as_ref()).with(&b),
        )?;
        let mut d = state.try_borrow_mut()?;
        wr(&mut d, 0, &DISC_MINT_STATE);
        wr(&mut d, MINT_STATE_METER, meter.as_ref());
        d[MINT_STATE_BUMP] = bump;
        return Ok(0);
    }
    // Identity by type: a MintState is created only here, at ["mint_state", meter].
    require_account(state, program_id, &DISC_MINT_STATE, MINT_STATE_LEN)?;
    let d = state.try_borrow()?;
    if !key_eq(&rd_key(&d, MINT_STATE_METER), meter) {
        return fail(Error::MeterMismatch);
    }
    Ok(rd_i64(&d, MINT_STATE_NEXT_WINDOW_START))
}

/// One window against the meter's rules and the high-water mark; returns its amount.
fn check_window(r: &Reading, m: &Meter, next: i64, now: i64) -> Result<u64, ProgramError> {
    if r.window_start < 0 || r.window_end <= r.window_start {
        return fail(Error::InvalidWindow);
    }
    if r.window_start < next {
        return fail(Error::WindowAlreadyMinted);
    }
    if r.window_start < m.registered_at {
        return fail(Error::WindowBeforeRegistration);
    }
    // both non-negative here: unsigned arithmetic (SBPF v0 has no signed division)
    let (start, end) = (r.window_start as u64, r.window_end as u64);
    if end - start != m.interval_s {
        return fail(Error::WindowLengthMismatch);
    }
    if start % m.interval_s != 0 {
        return fail(Error::WindowNotAligned);
    }
    if r.window_end > now {
        return fail(Error::WindowInFuture);
    }
    if r.produced_wh < 0 || r.consumed_wh < 0 {
        return fail(Error::MalformedReading);
    }
    if r.produced_wh <= r.consumed_wh {
        return fail(Error::ZeroAmount);
    }
    // produced [Wh] <= rated_power_w [W] * interval [s] / 3600 [s/h]
    let max_wh = mul_div_floor(m.rated_power_w, m.interval_s, 3600)?;
    if r.produced_wh as u64 > max_wh {
        return fail(Error::ExceedsRatedPower);
    }
    mul_u64((r.produced_wh - r.consumed_wh) as u64, BASE_UNITS_PER_WH)
}

/// Totals of one instruction, for the state, the token mint and the event.
struct Minted {
    amount: u64,
    first_start: i64,
    end: i64,
    first_seq: u64,
    last_seq: u64,
    last_hash: [u8; 32],
    windows: u64,
}

/// Inputs of `verify_readings` (one struct: the BPF backend passes at most 5 register arguments).
struct Verify<'x> {
    data: &'x [u8],
    sp: &'x Spans,
    instructions: &'x AccountView,
    m: &'x Meter,
    next: i64,
}

/// Check every reading's signature span and window; the heart of the instruction.
#[inline(never)]
fn verify_readings(v: &Verify) -> Result<Minted, ProgramError> {
    let (data, sp, instructions, m, next) = (v.data, v.sp, v.instructions, v.m, v.next);
    require_instructions_sysvar(instructions)?;
    let sysvar = instructions.try_borrow()?;
    let cur = current_index(&sysvar)?;
    let code = Error::MissingMeterSignature as u32;
    let (ed, ed_index) = preceding_ed25519(&sysvar, cur, code)?;
    if signature_count(ed) != sp.n {
        return fail(Error::MissingMeterSignature);
    }
    let now = unix_timestamp()?;
    let mut out = Minted {
        amount: 0,
        first_start: 0,
        end: next,
        first_seq: 0,
        last_seq: 0,
        last_hash: [0; 32],
        windows: sp.n as u64,
    };
    for (i, &(off, len)) in sp.at.iter().take(sp.n).enumerate() {
        let span = signed_span(ed, ed_index, i, code)?;
        if span.pubkey != m.key.as_ref() {
            return fail(Error::WrongSigner);
        }
        if span.msg_ix != cur || span.msg_offset != off || span.msg_size != len {
            return fail(Error::SignedBytesMismatch);
        }
        let bytes = &data[off..off + len];
        let r = reading::parse(bytes)?;
        out.amount = add_u64(out.amount, check_window(&r, m, out.end, now)?)?;
        if i == 0 {
            out.first_start = r.window_start;
            out.first_seq = r.seq;
        }
        out.end = r.window_end;
        out.last_seq = r.seq;
        if i + 1 == sp.n {
            out.last_hash = sha256(&[bytes]);
        }
    }
    Ok(out)
}

#[inline(never)]
fn record_state(state: &mut AccountView, t: &Minted) -> ProgramResult {
    let mut d = state.try_borrow_mut()?;
    wr(&mut d, MINT_STATE_NEXT_WINDOW_START, &t.end.to_le_bytes());
    wr(&mut d, MINT_STATE_LAST_SEQ, &t.last_seq.to_le_bytes());
    wr(&mut d, MINT_STATE_LAST_READING_HASH, &t.last_hash);
    let total = rd_u64(&d, MINT_STATE_MINTED_TOTAL).saturating_add(t.amount);
    wr(&mut d, MINT_STATE_MINTED_TOTAL, &total.to_le_bytes());
    let windows = rd_u64(&d, MINT_STATE_WINDOWS_MINTED).saturating_add(t.windows);
    wr(&mut d, MINT_STATE_WINDOWS_MINTED, &windows.to_le_bytes());
    Ok(())
}

/// Statistics saturate: a full counter must never block a mint.
#[inline(never)]
fn bump_stats(config: &mut AccountView, minter_account: &mut AccountView, amount: u64) -> ProgramResult {
    let mut c = config.try_borrow_mut()?;
    let total = rd_u64(&c, TOKEN_CONFIG_TOTAL_MINTED).saturating_add(amount);
    wr(&mut c, TOKEN_CONFIG_TOTAL_MINTED, &total.to_le_bytes());
    let mut m = minter_account.try_borrow_mut()?;
    let total = rd_u64(&m, MINTER_MINTED_TOTAL).saturating_add(amount);
    wr(&mut m, MINTER_MINTED_TOTAL, &total.to_le_bytes());
    Ok(())
}

#[inline(never)]
fn emit_minted(m: &Meter, minter: &Address, t: &Minted, windows: usize) {
    let mut ev = Buf::<{ EV_TOKENS_MINTED_LEN }>::new(&EV_TOKENS_MINTED);
    ev.put(m.key.as_ref()).put(m.owner.as_ref()).i64(t.first_start).i64(t.end).u8(windows as u8).u64(t.amount);
    ev.put(minter.as_ref()).u64(t.first_seq).u64(t.last_seq).put(&t.last_hash);
    ev.emit();
}

struct TokenAccounts<'x> {
    mint: &'x AccountView,
    mint_authority: &'x AccountView,
    owner_ta: &'x AccountView,
    cfg_mint: &'x Address,
    owner: &'x Address,
}

/// The GRXE mint and the owner's token account are the configured ones.
#[inline(never)]
fn check_token_accounts(t: &TokenAccounts) -> ProgramResult {
    let (mint, mint_authority, owner_ta, cfg_mint, owner) = (t.mint, t.mint_authority, t.owner_ta, t.cfg_mint, t.owner);
    if !key_eq(mint.address(), cfg_mint) {
        return fail(Error::InvalidMint);
    }
    // The mint's own mint_authority (set to the PDA at initialize) identifies the PDA without a
    // syscall; MintTo signed with the PDA's seeds would fail for any other account anyway.
    {
        let md = mint.try_borrow()?;
        if md.len() != MINT_LEN || rd_u32(&md, MINT_AUTHORITY_OPTION) != 1 || !key_eq(&rd_key(&md, MINT_AUTHORITY), mint_authority.address()) {
            return fail(Error::InvalidPda);
        }
    }
    let (ta_mint, ta_owner, _) = token_account_info(owner_ta)?;
    if !key_eq(&ta_mint, cfg_mint) || !key_eq(&ta_owner, owner) {
        return fail(Error::InvalidTokenAccount);
    }
    Ok(())
}

pub fn process(program_id: &Address, accounts: &mut [AccountView], data: &[u8]) -> ProgramResult {
    let sp = spans(data)?;
    let [minter, minter_account, config, meter_account, owner_user, state, mint, mint_authority, owner_ta, token_program, system, instructions, ..] =
        accounts
    else {
        return Err(ProgramError::NotEnoughAccountKeys);
    };
    for a in [&*minter_account, &*config, &*state, &*mint, &*owner_ta] {
        require_writable(a)?;
    }
    require_token_program(token_program)?;
    require_system_program(system)?;
    let (_, registry, cfg_mint, _, auth_bump) = load_config(program_id, config)?;
    let m = load_meter(&registry, meter_account, owner_user)?;
    check_minter(program_id, minter, minter_account, &m.edge_id)?;
    check_token_accounts(&TokenAccounts { mint, mint_authority, owner_ta, cfg_mint: &cfg_mint, owner: &m.owner })?;
    let next = open_state(program_id, minter, state, &m.key)?;
    let t = verify_readings(&Verify { data, sp: &sp, instructions, m: &m, next })?;
    record_state(state, &t)?;
    let ab = [auth_bump];
    token_mint_to(mint, owner_ta, mint_authority, t.amount, &Seeds::new().with(b"mint_authority").with(&ab))?;
    bump_stats(config, minter_account, t.amount)?;
    emit_minted(&m, minter.address(), &t, sp.n);
    Ok(())
}

//! `initialize_market`: the deployer creates the market PDA of an (energy mint, payment mint) pair
//! and its two escrow vaults, and names the market authority (the matcher).
use crate::common::*;
use crate::generated::*;
use crate::state::*;
use crate::BPS;
use pinocchio::{error::ProgramError, AccountView, Address, ProgramResult};

#[inline(never)]
pub(crate) fn initialize_market(program_id: &Address, accounts: &mut [AccountView], args: &mut Args) -> ProgramResult {
    let fee_bps = args.u16()?;
    let market_authority = args.pubkey()?;
    args.finish()?;
    if fee_bps as u64 > BPS {
        return fail(Error::InvalidFee);
    }
    let [deployer, market, energy_mint, payment_mint, energy_vault, payment_vault, fee_account, token_program, system, ..] = accounts else {
        return Err(ProgramError::NotEnoughAccountKeys);
    };
    require_signer(deployer)?;
    // Only the compiled-in deployer (programs/program_ids.json), as for the registry and the
    // token: otherwise whoever calls first owns the (GRXE, payment mint) market and its matcher.
    if deployer.address().as_ref() != &DEPLOYER[..] {
        return fail(Error::NotDeployer);
    }
    require_writable(market)?;
    require_writable(energy_vault)?;
    require_writable(payment_vault)?;
    require_token_program(token_program)?;
    require_system_program(system)?;
    require_mint(energy_mint)?;
    require_mint(payment_mint)?;
    if key_eq(energy_mint.address(), payment_mint.address()) {
        return fail(Error::InvalidMint);
    }
    require_token_account(fee_account, payment_mint.address(), None)?;

    let em = energy_mint.address();
    let pm = payment_mint.address();
    let bump = require_pda(market, &Seeds::new().with(b"market").with(em.as_ref()).with(pm.as_ref()), program_id)?;
    let ev_bump = require_pda(energy_vault, &Seeds::new().with(b"energy_vault").with(market.address().as_ref()), program_id)?;
    let pv_bump = require_pda(payment_vault, &Seeds::new().with(b"payment_vault").with(market.address().as_ref()), program_id)?;

    let b = [bump];
    create_pda_account(deployer, market, MARKET_LEN, program_id, &Seeds::new().with(b"market").with(em.as_ref()).with(pm.as_ref()).with(&b))?;
    let evb = [ev_bump];
    create_pda_account(deployer, energy_vault, TOKEN_ACCOUNT_LEN, &TOKEN_PROGRAM_ID, &Seeds::new().with(b"energy_vault").with(market.address().as_ref()).with(&evb))?;
    pinocchio_token::instructions::InitializeAccount3::new(energy_vault, energy_mint, market.address()).invoke()?;
    let pvb = [pv_bump];
    create_pda_account(deployer, payment_vault, TOKEN_ACCOUNT_LEN, &TOKEN_PROGRAM_ID, &Seeds::new().with(b"payment_vault").with(market.address().as_ref()).with(&pvb))?;
    pinocchio_token::instructions::InitializeAccount3::new(payment_vault, payment_mint, market.address()).invoke()?;

    let mut d = market.try_borrow_mut()?;
    wr(&mut d, 0, &DISC_MARKET);
    wr(&mut d, MARKET_AUTHORITY, market_authority.as_ref());
    wr(&mut d, MARKET_ENERGY_MINT, em.as_ref());
    wr(&mut d, MARKET_PAYMENT_MINT, pm.as_ref());
    wr(&mut d, MARKET_ENERGY_VAULT, energy_vault.address().as_ref());
    wr(&mut d, MARKET_PAYMENT_VAULT, payment_vault.address().as_ref());
    wr(&mut d, MARKET_FEE_ACCOUNT, fee_account.address().as_ref());
    wr(&mut d, MARKET_FEE_BPS, &fee_bps.to_le_bytes());
    d[MARKET_BUMP] = bump;
    d[MARKET_ENERGY_VAULT_BUMP] = ev_bump;
    d[MARKET_PAYMENT_VAULT_BUMP] = pv_bump;
    Ok(())
}


//! GridTokenX P2P energy market. Interface: programs/idl/trading.json.
//!
//! Units: `amount` is GRXE base units (10^6 per GRXE = 1 kWh); `price` is payment-token base
//! units per 1 GRXE (per 10^6 energy base units). A fill of `q` at the sell price `p` pays
//! floor(q * p / 10^6); a buy order escrows ceil(amount * buy_price / 10^6) up front. The fee,
//! floor(payment * fee_bps / 10^4), goes from the seller's proceeds to the market fee account.
//! Escrow lives in two market vaults (token accounts owned by the market PDA).
#![no_std]

#[path = "../../common/mod.rs"]
mod common;
mod generated;
mod state;

// One module per instruction (p-token style); `process_instruction` below only dispatches.
mod cancel_order;
mod create_order;
mod hashlock_claim;
mod hashlock_close;
mod hashlock_fill;
mod hashlock_refund;
mod htlc;
mod initialize_market;
mod match_order;
mod release_order;

use common::*;
use generated::*;
use pinocchio::{AccountView, Address, ProgramResult};
// htlc.rs (and any new instruction module) reaches the shared account views as `crate::…`.
pub(crate) use state::*;

// At most 24 accounts are parsed (the largest instruction takes 13): keeps the entrypoint's
// account array small on the 4 KiB SBF stack frame.
pinocchio::program_entrypoint!(process_instruction, 24);
pinocchio::no_allocator!();
common::gridx_panic_handler!();

pub const SIDE_SELL: u8 = 0;
pub const SIDE_BUY: u8 = 1;
pub const PRICE_SCALE: u64 = 1_000_000;
pub const BPS: u64 = 10_000;

pub fn process_instruction(program_id: &Address, accounts: &mut [AccountView], data: &[u8]) -> ProgramResult {
    let (disc, rest) = split_ix(data)?;
    let mut args = Args::new(rest);
    match disc {
        IX_INITIALIZE_MARKET => initialize_market::initialize_market(program_id, accounts, &mut args),
        IX_CREATE_SELL_ORDER => create_order::create_sell_order(program_id, accounts, &mut args),
        IX_CREATE_BUY_ORDER => create_order::create_buy_order(program_id, accounts, &mut args),
        IX_CANCEL_ORDER => cancel_order::cancel_order(program_id, accounts, &mut args),
        IX_MATCH_ORDER => match_order::match_order(program_id, accounts, &mut args),
        IX_HASHLOCK_FILL => hashlock_fill::hashlock_fill(program_id, accounts, &mut args),
        IX_HASHLOCK_CLAIM => hashlock_claim::hashlock_claim(program_id, accounts, &mut args),
        IX_HASHLOCK_REFUND => hashlock_refund::hashlock_refund(program_id, accounts, &mut args),
        IX_HASHLOCK_CLOSE => hashlock_close::hashlock_close(program_id, accounts, &mut args),
        IX_RELEASE_ORDER => release_order::release_order(program_id, accounts, &mut args),
        _ => fail(Error::InvalidInstruction),
    }
}

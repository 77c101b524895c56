"""THB payments: THBC on an EVM chain and hash-time-locked atomic swaps against GRXE on Solana.

The only importer of web3 in the project (DESIGN §7)."""

from backend.payments._contracts import Compiled, compile_contract
from backend.payments._errors import EvmReverted, EvmTimeout, SwapRefused
from backend.payments._evm import Evm, EvmSettings
from backend.payments._evm_htlc import EvmLock, EvmLockState, HtlcContracts, deploy_contracts, evm_lock_id
from backend.payments._links import issue_link, link_evm_address, linked_address
from backend.payments._relayer import RelayerSettings, relay_once, relay_swap, run_relayer
from backend.payments._siwe import SiweRefused, SiweRequest, SiweVerdict, siwe_message, verify_siwe
from backend.payments._store import SwapRecord, history, insert_swap, load_swap, open_swaps, set_buyer_secret
from backend.payments._swap import (
    SECRET_LEN,
    Action,
    Leg,
    LegView,
    Observation,
    SwapParams,
    SwapPlan,
    SwapStatus,
    check_second_lock,
    check_secret,
    hashlock_of,
    plan_swap,
    quote_thbc,
    relayer_actions,
    swap_status,
)

__all__ = [
    "SECRET_LEN",
    "Action",
    "Compiled",
    "Evm",
    "EvmLock",
    "EvmLockState",
    "EvmReverted",
    "EvmSettings",
    "EvmTimeout",
    "HtlcContracts",
    "Leg",
    "LegView",
    "Observation",
    "RelayerSettings",
    "SiweRefused",
    "SiweRequest",
    "SiweVerdict",
    "SwapParams",
    "SwapPlan",
    "SwapRecord",
    "SwapRefused",
    "SwapStatus",
    "check_second_lock",
    "check_secret",
    "compile_contract",
    "deploy_contracts",
    "evm_lock_id",
    "hashlock_of",
    "history",
    "insert_swap",
    "issue_link",
    "link_evm_address",
    "linked_address",
    "load_swap",
    "open_swaps",
    "plan_swap",
    "quote_thbc",
    "relay_once",
    "relay_swap",
    "relayer_actions",
    "run_relayer",
    "set_buyer_secret",
    "siwe_message",
    "swap_status",
    "verify_siwe",
]

"""THB payments: THBC on an EVM chain and hash-time-locked atomic swaps against GRXE on Solana.

The only importer of web3 in the project (DESIGN §7)."""

from backend.payments._contracts import Compiled, compile_contract
from backend.payments._errors import EvmReverted, EvmTimeout, SwapRefused
from backend.payments._evm import Evm, EvmSettings
from backend.payments._evm_htlc import EvmLock, EvmLockState, HtlcContracts, deploy_contracts, evm_lock_id
from backend.payments._links import issue_link, link_evm_address, linked_address
from backend.payments._relayer import RelayerSettings, relay_once, relay_swap, run_relayer
from backend.payments._service import (
    SwapQuote,
    buyer_lock_txs,
    open_swap,
    quote,
    request_claim,
    swap_history,
    swap_view,
)
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
    "SwapQuote",
    "SwapRecord",
    "SwapRefused",
    "SwapStatus",
    "buyer_lock_txs",
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
    "open_swap",
    "open_swaps",
    "plan_swap",
    "quote",
    "quote_thbc",
    "relay_once",
    "relay_swap",
    "relayer_actions",
    "request_claim",
    "run_relayer",
    "set_buyer_secret",
    "siwe_message",
    "swap_history",
    "swap_status",
    "swap_view",
    "verify_siwe",
]

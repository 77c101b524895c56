"""THB payments: THBC on an EVM chain and hash-time-locked atomic swaps against GRXE on Solana.

The only importer of web3 in the project (DESIGN §7)."""

from backend.payments._contracts import Compiled, compile_contract
from backend.payments._errors import EvmReverted, EvmTimeout, SwapRefused
from backend.payments._evm import Evm, EvmSettings
from backend.payments._evm_htlc import EvmLock, EvmLockState, HtlcContracts, deploy_contracts, evm_lock_id

__all__ = [
    "Compiled",
    "Evm",
    "EvmLock",
    "EvmLockState",
    "EvmReverted",
    "EvmSettings",
    "EvmTimeout",
    "HtlcContracts",
    "SwapRefused",
    "compile_contract",
    "deploy_contracts",
    "evm_lock_id",
]

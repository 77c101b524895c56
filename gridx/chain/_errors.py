"""Map a transaction error (validator JSON shape) to a ChainError with a stable ``code``.

Our programs' custom codes become their IDL names (``AlreadyMinted``); SPL Token and System
custom codes get their Rust names; anything else keeps the runtime's variant name."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from solders.pubkey import Pubkey

from gridx.errors import ChainError

from ._idl import error_name
from ._ids import SYSTEM_PROGRAM_ID, TOKEN_PROGRAM_ID

__all__ = ["chain_error", "err_to_json"]

_TOKEN_ERRORS = (
    "NotRentExempt",
    "InsufficientFunds",
    "InvalidMint",
    "MintMismatch",
    "OwnerMismatch",
    "FixedSupply",
    "AlreadyInUse",
    "InvalidNumberOfProvidedSigners",
    "InvalidNumberOfRequiredSigners",
    "UninitializedState",
    "NativeNotSupported",
    "NonNativeHasBalance",
    "InvalidInstruction",
    "InvalidState",
    "Overflow",
    "AuthorityTypeNotSupported",
    "MintCannotFreeze",
    "AccountFrozen",
    "MintDecimalsMismatch",
    "NonNativeNotSupported",
)
_SYSTEM_ERRORS = (
    "AccountAlreadyInUse",
    "ResultWithNegativeLamports",
    "InvalidProgramId",
    "InvalidAccountDataLength",
    "MaxSeedLengthExceeded",
    "AddressWithSeedMismatch",
    "NonceNoRecentBlockhashes",
    "NonceBlockhashNotExpired",
    "NonceUnexpectedBlockhashValue",
)


# The native Ed25519 program's PrecompileError (a forged or zeroed meter signature fails here,
# before any program runs).
ED25519_PROGRAM_ID = Pubkey.from_string("Ed25519SigVerify111111111111111111111111111")
_ED25519_ERRORS = (
    "InvalidPublicKey",
    "InvalidRecoveryId",
    "InvalidSignature",
    "InvalidDataOffsets",
    "InvalidInstructionDataSize",
)


def err_to_json(err: Any) -> Any:
    """A solders TransactionError (any variant) in the validator's JSON shape."""
    if err is None or isinstance(err, str | dict):
        return err
    from solders.rpc.responses import RpcSimulateTransactionResult

    wrapped = RpcSimulateTransactionResult(err=err, logs=None, accounts=None, units_consumed=None, return_data=None)
    return json.loads(wrapped.to_json())["err"]


def _custom_name(program: Pubkey | None, code: int) -> str:
    if program is not None:
        name = error_name(program, code)
        if name is not None:
            return name
        tables = {
            TOKEN_PROGRAM_ID: _TOKEN_ERRORS,
            SYSTEM_PROGRAM_ID: _SYSTEM_ERRORS,
            ED25519_PROGRAM_ID: _ED25519_ERRORS,
        }
        table = tables.get(program, ())
        if code < len(table):
            return table[code]
    return f"Custom({code})"


def _failing_program(logs: Sequence[str]) -> Pubkey | None:
    # the first "failed" line is the innermost frame: a token error inside our program's CPI
    # is the token program's code, not ours
    for line in logs:
        if line.startswith("Program ") and " failed: " in line:
            try:
                return Pubkey.from_string(line.split()[1])
            except ValueError:
                return None
    return None


def chain_error(err: Any, logs: Sequence[str] = (), programs: Sequence[Pubkey] = ()) -> ChainError:
    """``programs``: the program id of each top-level instruction, to attribute custom codes."""
    err = err_to_json(err)
    code: str
    index: int | None = None
    if isinstance(err, str):
        code = err
    elif isinstance(err, dict) and "InstructionError" in err:
        index, inner = err["InstructionError"]
        program = _failing_program(logs) or (programs[index] if 0 <= index < len(programs) else None)
        if isinstance(inner, dict) and "Custom" in inner:
            code = _custom_name(program, int(inner["Custom"]))
        elif isinstance(inner, dict):
            code = next(iter(inner))
        else:
            code = str(inner)
    elif isinstance(err, dict) and err:
        code = next(iter(err))
    else:
        code = "Unknown"
    tail = "\n".join(logs[-8:])
    return ChainError(f"transaction failed: {code} ({err})" + (f"\n{tail}" if tail else ""), code, index)

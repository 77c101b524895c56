"""Transactions and blocks as a validator's JSON-RPC renders them: ``getTransaction`` and
``getBlock`` in ``json``, ``jsonParsed``, ``base58`` and ``base64``, the ledger's block list,
block times, transaction count and the fee of a message."""

from __future__ import annotations

import base64
import hashlib
import struct
from typing import Any

from solders.hash import Hash
from solders.message import MessageV0, from_bytes_versioned
from solders.pubkey import Pubkey
from solders.signature import Signature
from solders.transaction import VersionedTransaction

from ._ids import SYSTEM_PROGRAM_ID, TOKEN_PROGRAM_ID
from ._journal import TxRecord
from ._rpc import RpcError, b58encode, ctx, opt
from ._svm import FEE_LAMPORTS, SvmChain
from ._tokens import TOKEN_2022_PROGRAM_ID, ui_amount

__all__ = ["METHODS"]

_MAX_RANGE = 500_000
_PRECOMPILES = {
    Pubkey.from_string("Ed25519SigVerify111111111111111111111111111"),
    Pubkey.from_string("KeccakSecp256k11111111111111111111111111111"),
    Pubkey.from_string("Secp256r1SigVerify1111111111111111111111111"),
}
_COMPUTE_BUDGET = Pubkey.from_string("ComputeBudget111111111111111111111111111111")


def _status(err: Any) -> dict[str, Any]:
    return {"Ok": None} if err is None else {"Err": err}


def _account_keys(tx: VersionedTransaction) -> list[dict[str, Any]]:
    msg, h = tx.message, tx.message.header
    n, nsig = len(msg.account_keys), h.num_required_signatures

    def writable(i: int) -> bool:
        if i < nsig:
            return i < nsig - h.num_readonly_signed_accounts
        return i < n - h.num_readonly_unsigned_accounts

    return [
        {"pubkey": str(k), "signer": i < nsig, "writable": writable(i), "source": "transaction"}
        for i, k in enumerate(msg.account_keys)
    ]


def _parsed_ix(program: Pubkey, accounts: list[str], data: bytes) -> dict[str, Any] | None:
    """The few instructions wallets show parsed (transfers, mint_to); None: partially decoded."""
    if program == SYSTEM_PROGRAM_ID and len(data) == 12 and data[:4] == b"\x02\0\0\0" and len(accounts) >= 2:
        info = {"source": accounts[0], "destination": accounts[1], "lamports": struct.unpack_from("<Q", data, 4)[0]}
        return {"program": "system", "parsed": {"type": "transfer", "info": info}}
    if program not in (TOKEN_PROGRAM_ID, TOKEN_2022_PROGRAM_ID) or not data:
        return None
    name = "spl-token" if program == TOKEN_PROGRAM_ID else "spl-token-2022"
    tag = data[0]
    if tag in (3, 7) and len(data) >= 9 and len(accounts) >= 3:
        amount = str(struct.unpack_from("<Q", data, 1)[0])
        if tag == 3:
            info = {"source": accounts[0], "destination": accounts[1], "authority": accounts[2], "amount": amount}
            return {"program": name, "parsed": {"type": "transfer", "info": info}}
        info = {"mint": accounts[0], "account": accounts[1], "mintAuthority": accounts[2], "amount": amount}
        return {"program": name, "parsed": {"type": "mintTo", "info": info}}
    if tag == 12 and len(data) >= 10 and len(accounts) >= 4:
        amount_ui = ui_amount(struct.unpack_from("<Q", data, 1)[0], data[9])
        info2 = {
            "source": accounts[0],
            "mint": accounts[1],
            "destination": accounts[2],
            "authority": accounts[3],
            "tokenAmount": amount_ui,
        }
        return {"program": name, "parsed": {"type": "transferChecked", "info": info2}}
    return None


def ui_transaction(tx: VersionedTransaction, parsed: bool) -> dict[str, Any]:
    msg = tx.message
    keys = [str(k) for k in msg.account_keys]
    ixs: list[dict[str, Any]] = []
    for ix in msg.instructions:
        if not parsed:
            ixs.append(
                {"programIdIndex": ix.program_id_index, "accounts": list(ix.accounts), "data": b58encode(ix.data)}
            )
            continue
        accounts = [keys[a] for a in ix.accounts]
        program = msg.account_keys[ix.program_id_index]
        decoded = _parsed_ix(program, accounts, bytes(ix.data))
        if decoded is None:
            decoded = {"accounts": accounts, "data": b58encode(ix.data)}
        ixs.append({**decoded, "programId": str(program), "stackHeight": None})
    h = msg.header
    message: dict[str, Any] = {
        "accountKeys": _account_keys(tx) if parsed else keys,
        "recentBlockhash": str(msg.recent_blockhash),
        "instructions": ixs,
    }
    if not parsed:
        message["header"] = {
            "numRequiredSignatures": h.num_required_signatures,
            "numReadonlySignedAccounts": h.num_readonly_signed_accounts,
            "numReadonlyUnsignedAccounts": h.num_readonly_unsigned_accounts,
        }
    if isinstance(msg, MessageV0):
        message["addressTableLookups"] = []
    return {"signatures": [str(s) for s in tx.signatures], "message": message}


def ui_meta(rec: TxRecord) -> dict[str, Any]:
    n = len(rec.account_keys)
    return {
        "err": rec.err,
        "status": _status(rec.err),
        "fee": rec.fee,
        "preBalances": rec.pre_balances or [0] * n,  # journals written before balances were kept
        "postBalances": rec.post_balances or [0] * n,
        "innerInstructions": [],
        "logMessages": rec.logs,
        "preTokenBalances": rec.pre_token_balances,
        "postTokenBalances": rec.post_token_balances,
        "rewards": [],
        "loadedAddresses": {"writable": [], "readonly": []},
        "computeUnitsConsumed": rec.units,
    }


def _encoded(rec: TxRecord, enc: str | None, details: str = "full") -> dict[str, Any]:
    enc = enc or "json"
    tx = VersionedTransaction.from_bytes(rec.raw)
    field: Any
    if enc == "base58":
        field = [b58encode(rec.raw), "base58"]
    elif enc == "base64":
        field = [base64.b64encode(rec.raw).decode(), "base64"]
    elif enc in ("json", "jsonParsed"):
        field = ui_transaction(tx, enc == "jsonParsed")
    else:
        raise RpcError(-32602, f"Invalid params: encoding {enc!r}")
    if details == "accounts":
        field = {"signatures": [str(s) for s in tx.signatures], "accountKeys": _account_keys(tx)}
    version: Any = 0 if isinstance(tx.message, MessageV0) else "legacy"
    return {"transaction": field, "meta": ui_meta(rec), "version": version}


def get_transaction(chain: SvmChain, params: list[Any]) -> Any:
    rec = chain.history.get(Signature.from_string(params[0]))
    if rec is None or not rec.raw:
        return None
    out = _encoded(rec, opt(params, 1).get("encoding", "json"))
    return {"slot": rec.slot, "blockTime": rec.block_time, **out}


def _block_hash(chain: SvmChain, slot: int) -> str:
    known = chain.blocks.get(slot)
    if known is not None:
        return str(known[0])
    # a slot from before a restart: its hash was not journaled; a stable stand-in
    return str(Hash(hashlib.sha256(b"gridx-local-block" + slot.to_bytes(8, "little")).digest()))


def _has_block(chain: SvmChain, slot: int) -> bool:
    return slot in chain.blocks or slot in chain.by_slot


def _block_time(chain: SvmChain, slot: int) -> int | None:
    known = chain.blocks.get(slot)
    if known is not None:
        return known[1]
    sigs = chain.by_slot.get(slot)
    rec = chain.history.get(sigs[0]) if sigs else None
    return None if rec is None else rec.block_time


def get_block(chain: SvmChain, params: list[Any]) -> Any:
    slot = int(params[0])
    opts = opt(params, 1)
    details = opts.get("transactionDetails", "full")
    with chain.lock:
        if not _has_block(chain, slot):
            raise RpcError(-32004, f"Block not available for slot {slot}")
        recs = [chain.history[s] for s in chain.by_slot.get(slot, []) if s in chain.history]
        block: dict[str, Any] = {
            "blockhash": _block_hash(chain, slot),
            "previousBlockhash": _block_hash(chain, slot - 1),
            "parentSlot": max(slot - 1, 0),
            "blockHeight": slot,
            "blockTime": _block_time(chain, slot),
        }
    recs = [r for r in recs if r.raw]
    if details in ("full", "accounts"):
        block["transactions"] = [_encoded(r, opts.get("encoding", "json"), details) for r in recs]
    elif details == "signatures":
        block["signatures"] = [str(r.signature) for r in recs]
    elif details != "none":
        raise RpcError(-32602, f"Invalid params: transactionDetails {details!r}")
    if opts.get("rewards", True):
        block["rewards"] = []
    return block


def _first_slot(chain: SvmChain) -> int:
    with chain.lock:
        firsts = [next(iter(chain.blocks), chain.slot)]
        if chain.by_slot:
            firsts.append(min(chain.by_slot))
    return min(firsts)


def get_blocks(chain: SvmChain, params: list[Any]) -> Any:
    start = int(params[0])
    end = int(params[1]) if len(params) > 1 and isinstance(params[1], int) else chain.slot
    if end - start > _MAX_RANGE:
        raise RpcError(-32602, f"Slot range too large; max {_MAX_RANGE}")
    end = min(end, chain.slot)
    return [s for s in range(max(start, _first_slot(chain)), end + 1) if _has_block(chain, s)]


def get_blocks_with_limit(chain: SvmChain, params: list[Any]) -> Any:
    start, limit = int(params[0]), int(params[1])
    if not 0 <= limit <= _MAX_RANGE:
        raise RpcError(-32602, f"Limit too large; max {_MAX_RANGE}")
    return get_blocks(chain, [start, start + limit - 1]) if limit else []


def get_block_time(chain: SvmChain, params: list[Any]) -> Any:
    t = _block_time(chain, int(params[0]))
    if t is None:
        raise RpcError(-32004, f"Block not available for slot {params[0]}")
    return t


def message_fee(raw: bytes) -> int:
    """Base fee per signature (the precompiles' signatures included) plus the priority fee."""
    msg = from_bytes_versioned(raw)
    sigs = msg.header.num_required_signatures
    price, limit, n_other = 0, None, 0
    for ix in msg.instructions:
        program, data = msg.account_keys[ix.program_id_index], bytes(ix.data)
        if program in _PRECOMPILES and data:
            sigs += data[0]
        if program == _COMPUTE_BUDGET and data[:1] == b"\x03" and len(data) >= 9:
            price = struct.unpack_from("<Q", data, 1)[0]
        elif program == _COMPUTE_BUDGET and data[:1] == b"\x02" and len(data) >= 5:
            limit = struct.unpack_from("<I", data, 1)[0]
        elif program != _COMPUTE_BUDGET:
            n_other += 1
    units = limit if limit is not None else min(200_000 * n_other, 1_400_000)
    return FEE_LAMPORTS * sigs + -(-price * units // 1_000_000)


def get_fee_for_message(chain: SvmChain, params: list[Any]) -> Any:
    if not params or not isinstance(params[0], str):
        raise RpcError(-32602, "Invalid params: message missing")
    try:
        raw = base64.b64decode(params[0], validate=True)
        msg = from_bytes_versioned(raw)
    except ValueError as exc:
        raise RpcError(-32602, f"failed to deserialize message: {exc}") from exc
    # a message whose blockhash has expired has no fee: null, as a validator answers
    return ctx(chain, message_fee(raw) if chain.blockhash_valid(msg.recent_blockhash) else None)


METHODS = {
    "getTransaction": get_transaction,
    "getBlock": get_block,
    "getBlocks": get_blocks,
    "getBlocksWithLimit": get_blocks_with_limit,
    "getBlockTime": get_block_time,
    "getFeeForMessage": get_fee_for_message,
    "getTransactionCount": lambda chain, _p: chain.tx_count,
    "getFirstAvailableBlock": lambda chain, _p: _first_slot(chain),
    "minimumLedgerSlot": lambda chain, _p: _first_slot(chain),
}

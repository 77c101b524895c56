"""JSON-RPC methods of the local node, in the shapes a Solana validator returns (what
solana-py's Client/AsyncClient and solders' response parsers expect)."""

from __future__ import annotations

import base64
import json
import struct
from collections.abc import Callable
from typing import Any

from solders.account import Account
from solders.hash import Hash
from solders.message import MessageV0
from solders.pubkey import Pubkey
from solders.signature import Signature
from solders.transaction import Transaction, VersionedTransaction

from ._ids import SYSTEM_PROGRAM_ID, TOKEN_PROGRAM_ID
from ._svm import FEE_LAMPORTS, SvmChain

__all__ = ["METHODS", "RpcError", "account_matches", "ui_account"]

_VERSION = {"solana-core": "2.1.0", "feature-set": 0}
_MAX_STATUS = 256


_B58 = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"


def _b58encode(data: bytes) -> str:
    n = int.from_bytes(data, "big")
    out = ""
    while n:
        n, r = divmod(n, 58)
        out = _B58[r] + out
    return "1" * (len(data) - len(data.lstrip(b"\0"))) + out


def _b58decode(s: str) -> bytes:
    n = 0
    for ch in s:
        n = n * 58 + _B58.index(ch)
    body = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return b"\0" * (len(s) - len(s.lstrip("1"))) + body


class RpcError(Exception):
    def __init__(self, code: int, message: str, data: Any = None) -> None:
        super().__init__(message)
        self.code, self.message, self.data = code, message, data


def _ctx(chain: SvmChain, value: Any) -> dict[str, Any]:
    return {"context": {"slot": chain.slot, "apiVersion": _VERSION["solana-core"]}, "value": value}


def _opt(params: list[Any], i: int) -> dict[str, Any]:
    return params[i] if len(params) > i and isinstance(params[i], dict) else {}


def _pubkey(s: Any) -> Pubkey:
    try:
        return Pubkey.from_string(s)
    except (ValueError, TypeError) as exc:
        raise RpcError(-32602, f"Invalid param: {s!r} is not a pubkey") from exc


def ui_account(chain: SvmChain, acct: Account | None, encoding: str) -> dict[str, Any]:
    """An account as a validator renders it; a deleted one (None) as an empty system account."""
    if acct is None:
        acct = Account(0, b"", SYSTEM_PROGRAM_ID, False, 0)
    data = bytes(acct.data)
    if encoding == "base58":
        enc: Any = [_b58encode(data), "base58"]
    else:
        enc = [base64.b64encode(data).decode(), "base64"]
    return {
        "data": enc,
        "executable": acct.executable,
        "lamports": acct.lamports,
        "owner": str(acct.owner),
        "rentEpoch": acct.rent_epoch,
        "space": len(data),
    }


def _decode_tx(params: list[Any]) -> Transaction | VersionedTransaction:
    if not params or not isinstance(params[0], str):
        raise RpcError(-32602, "Invalid params: transaction missing")
    enc = _opt(params, 1).get("encoding", "base58")
    try:
        raw = base64.b64decode(params[0]) if enc == "base64" else _b58decode(params[0])
        return VersionedTransaction.from_bytes(raw)
    except Exception as exc:
        raise RpcError(-32602, f"failed to deserialize transaction: {exc}") from exc


def _preflight_error(err: Any, logs: list[str], units: int) -> RpcError:
    data = {
        "err": err,
        "logs": logs,
        "accounts": None,
        "unitsConsumed": units,
        "returnData": None,
        "innerInstructions": None,
        "replacementBlockhash": None,
    }
    return RpcError(-32002, f"Transaction simulation failed: {json.dumps(err)}", data)


# ---------------------------------------------------------------- methods
def get_latest_blockhash(chain: SvmChain, params: list[Any]) -> Any:
    h, last_valid = chain.latest_blockhash()
    return _ctx(chain, {"blockhash": str(h), "lastValidBlockHeight": last_valid})


def is_blockhash_valid(chain: SvmChain, params: list[Any]) -> Any:
    return _ctx(chain, chain.blockhash_valid(Hash.from_string(params[0])))


def send_transaction(chain: SvmChain, params: list[Any]) -> Any:
    tx = _decode_tx(params)
    preflight = not _opt(params, 1).get("skipPreflight", False)
    res = chain.send(tx, preflight=preflight)
    if res.err is not None and (preflight or res.err in ("BlockhashNotFound", "AlreadyProcessed")):
        raise _preflight_error(res.err, res.logs, res.units)
    return str(res.signature)


def simulate_transaction(chain: SvmChain, params: list[Any]) -> Any:
    opts = _opt(params, 1)
    res = chain.simulate(_decode_tx(params), bool(opts.get("sigVerify")), bool(opts.get("replaceRecentBlockhash")))
    return _ctx(
        chain,
        {
            "err": res.err,
            "logs": res.logs,
            "accounts": None,
            "unitsConsumed": res.units,
            "returnData": None,
            "innerInstructions": None,
            "replacementBlockhash": None,
        },
    )


def get_signature_statuses(chain: SvmChain, params: list[Any]) -> Any:
    sigs = params[0] if params else []
    if len(sigs) > _MAX_STATUS:
        raise RpcError(-32602, f"Too many inputs provided; max {_MAX_STATUS}")
    out: list[Any] = []
    for s in sigs:
        rec = chain.history.get(Signature.from_string(s))
        if rec is None:
            out.append(None)
            continue
        out.append(
            {
                "slot": rec.slot,
                "confirmations": None,
                "err": rec.err,
                "status": {"Ok": None} if rec.err is None else {"Err": rec.err},
                "confirmationStatus": "finalized",
            }
        )
    return _ctx(chain, out)


def _ui_transaction(tx: VersionedTransaction) -> dict[str, Any]:
    msg = tx.message
    h = msg.header
    return {
        "signatures": [str(s) for s in tx.signatures],
        "message": {
            "header": {
                "numRequiredSignatures": h.num_required_signatures,
                "numReadonlySignedAccounts": h.num_readonly_signed_accounts,
                "numReadonlyUnsignedAccounts": h.num_readonly_unsigned_accounts,
            },
            "accountKeys": [str(k) for k in msg.account_keys],
            "recentBlockhash": str(msg.recent_blockhash),
            "instructions": [
                {"programIdIndex": ix.program_id_index, "accounts": list(ix.accounts), "data": _b58encode(ix.data)}
                for ix in msg.instructions
            ],
        },
    }


def get_transaction(chain: SvmChain, params: list[Any]) -> Any:
    rec = chain.history.get(Signature.from_string(params[0]))
    if rec is None or not rec.raw:
        return None
    enc = _opt(params, 1).get("encoding", "json")
    raw = rec.raw
    tx_field: Any = [_b58encode(raw), "base58"] if enc == "base58" else [base64.b64encode(raw).decode(), "base64"]
    if enc in ("json", "jsonParsed"):
        tx_field = _ui_transaction(VersionedTransaction.from_bytes(raw))
    n = len(rec.account_keys)
    meta = {
        "err": rec.err,
        "status": {"Ok": None} if rec.err is None else {"Err": rec.err},
        "fee": FEE_LAMPORTS,
        "preBalances": [0] * n,  # not tracked: reading every balance per tx would halve throughput
        "postBalances": [0] * n,
        "innerInstructions": [],
        "logMessages": rec.logs,
        "preTokenBalances": [],
        "postTokenBalances": [],
        "rewards": [],
        "loadedAddresses": {"writable": [], "readonly": []},
        "computeUnitsConsumed": rec.units,
    }
    version: Any = 0 if isinstance(VersionedTransaction.from_bytes(raw).message, MessageV0) else "legacy"
    return {"slot": rec.slot, "transaction": tx_field, "meta": meta, "blockTime": rec.block_time, "version": version}


def get_signatures_for_address(chain: SvmChain, params: list[Any]) -> Any:
    sigs = chain.by_address.get(_pubkey(params[0]), [])
    opts = _opt(params, 1)
    limit = min(int(opts.get("limit") or 1000), 1000)
    before, until = opts.get("before"), opts.get("until")
    out: list[Any] = []
    started = before is None
    for sig in reversed(sigs):
        s = str(sig)
        if not started:
            started = s == before
            continue
        if s == until or len(out) >= limit:
            break
        rec = chain.history.get(sig)
        if rec is None:
            continue
        out.append(
            {
                "signature": s,
                "slot": rec.slot,
                "err": rec.err,
                "memo": None,
                "blockTime": rec.block_time,
                "confirmationStatus": "finalized",
            }
        )
    return out


def get_account_info(chain: SvmChain, params: list[Any]) -> Any:
    acct = chain.account(_pubkey(params[0]))
    enc = _opt(params, 1).get("encoding", "base64")
    return _ctx(chain, None if acct is None else ui_account(chain, acct, enc))


def get_multiple_accounts(chain: SvmChain, params: list[Any]) -> Any:
    enc = _opt(params, 1).get("encoding", "base64")
    accts = [chain.account(_pubkey(a)) for a in params[0]]
    return _ctx(chain, [None if a is None else ui_account(chain, a, enc) for a in accts])


def get_balance(chain: SvmChain, params: list[Any]) -> Any:
    acct = chain.account(_pubkey(params[0]))
    return _ctx(chain, 0 if acct is None else acct.lamports)


def request_airdrop(chain: SvmChain, params: list[Any]) -> Any:
    return str(chain.airdrop(_pubkey(params[0]), int(params[1])))


def _ui_amount(amount: int, decimals: int) -> dict[str, Any]:
    s = str(amount).rjust(decimals + 1, "0")
    ui = f"{s[:-decimals]}.{s[-decimals:]}".rstrip("0").rstrip(".") if decimals else s
    return {"amount": str(amount), "decimals": decimals, "uiAmount": float(ui), "uiAmountString": ui}


def _token_account(chain: SvmChain, addr: Pubkey) -> tuple[int, int]:
    acct = chain.account(addr)
    if acct is None or acct.owner != TOKEN_PROGRAM_ID or len(acct.data) != 165:
        raise RpcError(-32602, "Invalid param: not a Token account")
    data = bytes(acct.data)
    mint = chain.account(Pubkey.from_bytes(data[:32]))
    decimals = bytes(mint.data)[44] if mint is not None else 0
    return struct.unpack_from("<Q", data, 64)[0], decimals


def get_token_account_balance(chain: SvmChain, params: list[Any]) -> Any:
    amount, decimals = _token_account(chain, _pubkey(params[0]))
    return _ctx(chain, _ui_amount(amount, decimals))


def get_token_supply(chain: SvmChain, params: list[Any]) -> Any:
    acct = chain.account(_pubkey(params[0]))
    if acct is None or acct.owner != TOKEN_PROGRAM_ID or len(acct.data) != 82:
        raise RpcError(-32602, "Invalid param: not a Token mint")
    data = bytes(acct.data)
    return _ctx(chain, _ui_amount(struct.unpack_from("<Q", data, 36)[0], data[44]))


def account_matches(data: bytes, filters: list[dict[str, Any]]) -> bool:
    """getProgramAccounts filters (dataSize, memcmp); a malformed filter is an RpcError."""
    for f in filters:
        if not isinstance(f, dict):
            raise RpcError(-32602, "Invalid params: a filter must be an object")
        if "dataSize" in f and len(data) != int(f["dataSize"]):
            return False
        if "memcmp" in f:
            m = f["memcmp"]
            try:
                raw = m["bytes"]
                want = base64.b64decode(raw) if m.get("encoding") == "base64" else _b58decode(raw)
                off = int(m.get("offset", 0))
            except (KeyError, TypeError, ValueError) as exc:
                raise RpcError(-32602, f"Invalid params: memcmp filter: {exc}") from exc
            if data[off : off + len(want)] != want:
                return False
    return True


def _scan(chain: SvmChain, owner: Pubkey, filters: list[dict[str, Any]]) -> list[tuple[Pubkey, Account]]:
    with chain.lock:
        candidates = list(chain.known)
    out = []
    for addr in candidates:
        acct = chain.account(addr)
        if acct is not None and acct.owner == owner and account_matches(bytes(acct.data), filters):
            out.append((addr, acct))
    return out


def get_program_accounts(chain: SvmChain, params: list[Any]) -> Any:
    opts = _opt(params, 1)
    enc = opts.get("encoding", "base64")
    rows = [
        {"pubkey": str(a), "account": ui_account(chain, acct, enc)}
        for a, acct in _scan(chain, _pubkey(params[0]), opts.get("filters") or [])
    ]
    return _ctx(chain, rows) if opts.get("withContext") else rows


def get_token_accounts_by_owner(chain: SvmChain, params: list[Any]) -> Any:
    owner = _pubkey(params[0])
    sel = _opt(params, 1)
    filters: list[dict[str, Any]] = [{"dataSize": 165}, {"memcmp": {"offset": 32, "bytes": str(owner)}}]
    if "mint" in sel:
        filters.append({"memcmp": {"offset": 0, "bytes": sel["mint"]}})
    enc = _opt(params, 2).get("encoding", "base64")
    found = _scan(chain, TOKEN_PROGRAM_ID, filters)
    rows = [{"pubkey": str(a), "account": ui_account(chain, acct, enc)} for a, acct in found]
    return _ctx(chain, rows)


def get_minimum_balance_for_rent_exemption(chain: SvmChain, params: list[Any]) -> Any:
    with chain.lock:
        return chain.svm.minimum_balance_for_rent_exemption(int(params[0]))


METHODS: dict[str, Callable[[SvmChain, list[Any]], Any]] = {
    "getLatestBlockhash": get_latest_blockhash,
    "isBlockhashValid": is_blockhash_valid,
    "sendTransaction": send_transaction,
    "simulateTransaction": simulate_transaction,
    "getSignatureStatuses": get_signature_statuses,
    "getTransaction": get_transaction,
    "getSignaturesForAddress": get_signatures_for_address,
    "getAccountInfo": get_account_info,
    "getMultipleAccounts": get_multiple_accounts,
    "getBalance": get_balance,
    "requestAirdrop": request_airdrop,
    "getTokenAccountBalance": get_token_account_balance,
    "getTokenSupply": get_token_supply,
    "getProgramAccounts": get_program_accounts,
    "getTokenAccountsByOwner": get_token_accounts_by_owner,
    "getMinimumBalanceForRentExemption": get_minimum_balance_for_rent_exemption,
    "getSlot": lambda chain, _p: chain.slot,
    "getBlockHeight": lambda chain, _p: chain.slot,
    "getHealth": lambda _c, _p: "ok",
    "getVersion": lambda _c, _p: _VERSION,
    "getFeeForMessage": lambda chain, _p: _ctx(chain, FEE_LAMPORTS),
    "getGenesisHash": lambda _c, _p: str(Hash.default()),
}

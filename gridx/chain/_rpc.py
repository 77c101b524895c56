"""JSON-RPC methods of the local node, in the shapes a Solana validator returns (what
solana-py's Client/AsyncClient and solders' response parsers expect)."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from typing import Any

from solders.account import Account
from solders.hash import Hash
from solders.pubkey import Pubkey
from solders.signature import Signature
from solders.transaction import Transaction, VersionedTransaction

from ._ids import SYSTEM_PROGRAM_ID
from ._svm import SvmChain
from ._tokens import TOKEN_PROGRAMS, parsed_account

__all__ = [
    "METHODS",
    "RpcError",
    "account_matches",
    "b58decode",
    "b58encode",
    "ctx",
    "opt",
    "pubkey_param",
    "scan",
    "ui_account",
]

_VERSION = {"solana-core": "2.1.0", "feature-set": 0}
_MAX_STATUS = 256


_B58 = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"


def b58encode(data: bytes) -> str:
    n = int.from_bytes(data, "big")
    out = ""
    while n:
        n, r = divmod(n, 58)
        out = _B58[r] + out
    return "1" * (len(data) - len(data.lstrip(b"\0"))) + out


def b58decode(s: str) -> bytes:
    n = 0
    for ch in s:
        n = n * 58 + _B58.index(ch)
    body = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return b"\0" * (len(s) - len(s.lstrip("1"))) + body


class RpcError(Exception):
    def __init__(self, code: int, message: str, data: Any = None) -> None:
        super().__init__(message)
        self.code, self.message, self.data = code, message, data


def ctx(chain: SvmChain, value: Any) -> dict[str, Any]:
    return {"context": {"slot": chain.slot, "apiVersion": _VERSION["solana-core"]}, "value": value}


def opt(params: list[Any], i: int) -> dict[str, Any]:
    return params[i] if len(params) > i and isinstance(params[i], dict) else {}


def pubkey_param(s: Any) -> Pubkey:
    try:
        return Pubkey.from_string(s)
    except (ValueError, TypeError) as exc:
        raise RpcError(-32602, f"Invalid param: {s!r} is not a pubkey") from exc


def ui_account(chain: SvmChain, acct: Account | None, encoding: str | None) -> dict[str, Any]:
    """An account as a validator renders it; a deleted one (None) as an empty system account."""
    encoding = encoding or "base64"
    if acct is None:
        acct = Account(0, b"", SYSTEM_PROGRAM_ID, False, 0)
    data = bytes(acct.data)
    parsed = None
    if encoding == "jsonParsed" and acct.owner in TOKEN_PROGRAMS:
        parsed = parsed_account(acct.owner, data, chain.mint_decimals)
    if parsed is not None:
        enc: Any = parsed
    elif encoding == "base58":
        enc = [b58encode(data), "base58"]
    elif encoding in ("base64", "base64+zstd", "jsonParsed"):  # zstd: we answer uncompressed, as allowed
        enc = [base64.b64encode(data).decode(), "base64"]
    else:
        raise RpcError(-32602, f"Invalid params: encoding {encoding!r}")
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
    enc = opt(params, 1).get("encoding", "base58")
    try:
        raw = base64.b64decode(params[0]) if enc == "base64" else b58decode(params[0])
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
    return ctx(chain, {"blockhash": str(h), "lastValidBlockHeight": last_valid})


def is_blockhash_valid(chain: SvmChain, params: list[Any]) -> Any:
    return ctx(chain, chain.blockhash_valid(Hash.from_string(params[0])))


def send_transaction(chain: SvmChain, params: list[Any]) -> Any:
    tx = _decode_tx(params)
    preflight = not opt(params, 1).get("skipPreflight", False)
    res = chain.send(tx, preflight=preflight)
    if res.err is not None and (preflight or res.err in ("BlockhashNotFound", "AlreadyProcessed")):
        raise _preflight_error(res.err, res.logs, res.units)
    return str(res.signature)


def simulate_transaction(chain: SvmChain, params: list[Any]) -> Any:
    opts = opt(params, 1)
    want = opts.get("accounts") or {}
    addrs = [pubkey_param(a) for a in want.get("addresses", [])]
    res = chain.simulate(_decode_tx(params), bool(opts.get("sigVerify")), bool(opts.get("replaceRecentBlockhash")))
    post = dict(res.post_accounts)
    accounts = None
    if want:
        enc = want.get("encoding", "base64")
        accounts = [None if (a := post.get(k, chain.account(k))) is None else ui_account(chain, a, enc) for k in addrs]
    return ctx(
        chain,
        {
            "err": res.err,
            "logs": res.logs,
            "accounts": accounts,
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
    return ctx(chain, out)


def get_signatures_for_address(chain: SvmChain, params: list[Any]) -> Any:
    sigs = chain.by_address.get(pubkey_param(params[0]), [])
    opts = opt(params, 1)
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
    acct = chain.account(pubkey_param(params[0]))
    enc = opt(params, 1).get("encoding", "base64")
    return ctx(chain, None if acct is None else ui_account(chain, acct, enc))


def get_multiple_accounts(chain: SvmChain, params: list[Any]) -> Any:
    enc = opt(params, 1).get("encoding", "base64")
    accts = [chain.account(pubkey_param(a)) for a in params[0]]
    return ctx(chain, [None if a is None else ui_account(chain, a, enc) for a in accts])


def get_balance(chain: SvmChain, params: list[Any]) -> Any:
    acct = chain.account(pubkey_param(params[0]))
    return ctx(chain, 0 if acct is None else acct.lamports)


def request_airdrop(chain: SvmChain, params: list[Any]) -> Any:
    return str(chain.airdrop(pubkey_param(params[0]), int(params[1])))


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
                want = base64.b64decode(raw) if m.get("encoding") == "base64" else b58decode(raw)
                off = int(m.get("offset", 0))
            except (KeyError, TypeError, ValueError) as exc:
                raise RpcError(-32602, f"Invalid params: memcmp filter: {exc}") from exc
            if data[off : off + len(want)] != want:
                return False
    return True


def scan(chain: SvmChain, owner: Pubkey, filters: list[dict[str, Any]]) -> list[tuple[Pubkey, Account]]:
    with chain.lock:
        candidates = list(chain.known)
    out = []
    for addr in candidates:
        acct = chain.account(addr)
        if acct is not None and acct.owner == owner and account_matches(bytes(acct.data), filters):
            out.append((addr, acct))
    return out


def get_program_accounts(chain: SvmChain, params: list[Any]) -> Any:
    opts = opt(params, 1)
    enc = opts.get("encoding", "base64")
    rows = [
        {"pubkey": str(a), "account": ui_account(chain, acct, enc)}
        for a, acct in scan(chain, pubkey_param(params[0]), opts.get("filters") or [])
    ]
    return ctx(chain, rows) if opts.get("withContext") else rows


def get_minimum_balance_for_rent_exemption(chain: SvmChain, params: list[Any]) -> Any:
    with chain.lock:
        return chain.svm.minimum_balance_for_rent_exemption(int(params[0]))


METHODS: dict[str, Callable[[SvmChain, list[Any]], Any]] = {
    "getLatestBlockhash": get_latest_blockhash,
    "isBlockhashValid": is_blockhash_valid,
    "sendTransaction": send_transaction,
    "simulateTransaction": simulate_transaction,
    "getSignatureStatuses": get_signature_statuses,
    "getSignaturesForAddress": get_signatures_for_address,
    "getAccountInfo": get_account_info,
    "getMultipleAccounts": get_multiple_accounts,
    "getBalance": get_balance,
    "requestAirdrop": request_airdrop,
    "getProgramAccounts": get_program_accounts,
    "getMinimumBalanceForRentExemption": get_minimum_balance_for_rent_exemption,
    "getSlot": lambda chain, _p: chain.slot,
    "getHealth": lambda _c, _p: "ok",
    "getVersion": lambda _c, _p: _VERSION,
}

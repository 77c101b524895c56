"""Token queries of the JSON-RPC API over SPL Token and Token-2022: balances, supply, accounts by
owner or delegate (``mint`` or ``programId`` selector, as validators require exactly one) and
the largest holders of a mint."""

from __future__ import annotations

from typing import Any

from solders.pubkey import Pubkey

from ._rpc import RpcError, b58encode, ctx, opt, pubkey_param, scan, ui_account
from ._svm import SvmChain
from ._tokens import TOKEN_PROGRAMS, MintLayout, is_mint, is_token_account, token_fields, ui_amount

__all__ = ["METHODS"]

_LARGEST = 20


def _token_account(chain: SvmChain, addr: Pubkey) -> tuple[int, int]:
    acct = chain.account(addr)
    if acct is None or not is_token_account(acct.owner, bytes(acct.data)):
        raise RpcError(-32602, "Invalid param: not a Token account")
    mint, _, amount = token_fields(bytes(acct.data))
    return amount, chain.mint_decimals(mint) or 0


def get_token_account_balance(chain: SvmChain, params: list[Any]) -> Any:
    amount, decimals = _token_account(chain, pubkey_param(params[0]))
    return ctx(chain, ui_amount(amount, decimals))


def get_token_supply(chain: SvmChain, params: list[Any]) -> Any:
    acct = chain.account(pubkey_param(params[0]))
    if acct is None or not is_mint(acct.owner, bytes(acct.data)):
        raise RpcError(-32602, "Invalid param: not a Token mint")
    data = bytes(acct.data)
    m = MintLayout.unpack(data)
    return ctx(chain, ui_amount(m.supply, m.decimals))


def _programs_for(chain: SvmChain, selector: Any) -> tuple[list[Pubkey], list[dict[str, Any]]]:
    """The token programs to scan and the extra filter of a ``{mint}`` / ``{programId}`` selector."""
    if not isinstance(selector, dict) or len(selector) != 1 or not ({"mint", "programId"} & selector.keys()):
        raise RpcError(-32602, 'Invalid params: expected {"mint": ...} or {"programId": ...}')
    if "programId" in selector:
        program = pubkey_param(selector["programId"])
        if program not in TOKEN_PROGRAMS:
            raise RpcError(-32602, "Invalid param: unrecognized Token program id")
        return [program], []
    mint = pubkey_param(selector["mint"])
    acct = chain.account(mint)
    if acct is None or not is_mint(acct.owner, bytes(acct.data)):
        raise RpcError(-32602, "Invalid param: could not find mint")
    return [acct.owner], [{"memcmp": {"offset": 0, "bytes": str(mint)}}]


def _by(chain: SvmChain, params: list[Any], key_filter: list[dict[str, Any]]) -> Any:
    programs, extra = _programs_for(chain, params[1] if len(params) > 1 else None)
    enc = opt(params, 2).get("encoding", "base64")
    rows = []
    for program in programs:
        for addr, acct in scan(chain, program, key_filter + extra):
            if is_token_account(acct.owner, bytes(acct.data)):
                rows.append({"pubkey": str(addr), "account": ui_account(chain, acct, enc)})
    return ctx(chain, rows)


def get_token_accounts_by_owner(chain: SvmChain, params: list[Any]) -> Any:
    owner = pubkey_param(params[0])
    return _by(chain, params, [{"memcmp": {"offset": 32, "bytes": str(owner)}}])


def get_token_accounts_by_delegate(chain: SvmChain, params: list[Any]) -> Any:
    delegate = pubkey_param(params[0])
    tag_some = b58encode(b"\x01\0\0\0")
    return _by(
        chain,
        params,
        [{"memcmp": {"offset": 72, "bytes": tag_some}}, {"memcmp": {"offset": 76, "bytes": str(delegate)}}],
    )


def get_token_largest_accounts(chain: SvmChain, params: list[Any]) -> Any:
    mint = pubkey_param(params[0])
    programs, extra = _programs_for(chain, {"mint": str(mint)})
    decimals = chain.mint_decimals(mint) or 0
    found = [
        (token_fields(bytes(acct.data))[2], addr)
        for addr, acct in scan(chain, programs[0], extra)
        if is_token_account(acct.owner, bytes(acct.data))
    ]
    found.sort(key=lambda t: (-t[0], str(t[1])))
    return ctx(chain, [{"address": str(a), **ui_amount(n, decimals)} for n, a in found[:_LARGEST]])


METHODS = {
    "getTokenAccountBalance": get_token_account_balance,
    "getTokenSupply": get_token_supply,
    "getTokenAccountsByOwner": get_token_accounts_by_owner,
    "getTokenAccountsByDelegate": get_token_accounts_by_delegate,
    "getTokenLargestAccounts": get_token_largest_accounts,
}

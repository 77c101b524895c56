"""What a validator reports around each transaction: lamports of every account key before and
after, token balances of the token accounts it wrote, and the fee actually charged. Read from
LiteSVM under the chain's lock; ``get_balance`` copies no account data, so this stays cheap."""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from solders.account import Account
from solders.pubkey import Pubkey

from ._tokens import TOKEN_PROGRAMS, is_mint, is_token_account, mint_decimals, token_fields, ui_amount

__all__ = ["Decimals", "balances", "fee_charged", "post_balances", "token_balances"]


class Decimals:
    """Mint decimals, cached: they never change once a mint is initialised."""

    def __init__(self, svm: Any) -> None:
        self._svm = svm
        self._cache: dict[Pubkey, int] = {}

    def __call__(self, mint: Pubkey) -> int | None:
        dec = self._cache.get(mint)
        if dec is None:
            acct = self._svm.get_account(mint)
            if acct is None or not is_mint(acct.owner, bytes(acct.data)):
                return None
            dec = self._cache[mint] = mint_decimals(bytes(acct.data))
        return dec


def balances(svm: Any, keys: list[Pubkey], programs: set[Pubkey], program_lamports: dict[Pubkey, int]) -> list[int]:
    """Lamports of every key. LiteSVM copies a whole account even for its balance, and a program
    account holds its ELF: the lamports of invoked programs are read once and cached (a
    transaction cannot change an executable account's balance)."""
    out = []
    for k in keys:
        if k in programs:
            n = program_lamports.get(k)
            if n is None:
                n = program_lamports[k] = svm.get_balance(k) or 0
            out.append(n)
        else:
            out.append(svm.get_balance(k) or 0)
    return out


def post_balances(keys: list[Pubkey], pre: list[int], written: dict[Pubkey, Account | None]) -> list[int]:
    """Lamports after: the written accounts as read back; the others cannot have changed."""
    out = []
    for k, before in zip(keys, pre, strict=True):
        if k in written:
            acct = written[k]
            out.append(0 if acct is None else acct.lamports)
        else:
            out.append(before)
    return out


@lru_cache(maxsize=65536)
def _b58(key: Pubkey) -> str:
    """Mints, owners and token programs recur in every transaction: each is encoded once."""
    return str(key)


def token_balances(
    keys: list[Pubkey], accounts: dict[Pubkey, Account | None], decimals: Decimals
) -> list[dict[str, Any]]:
    """The validator's ``preTokenBalances``/``postTokenBalances`` entries for ``accounts`` (the
    written ones: a read-only token account cannot change within the transaction)."""
    tokens = {k: a for k, a in accounts.items() if a is not None and a.owner in TOKEN_PROGRAMS}
    if not tokens:
        return []
    out = []
    for i, k in enumerate(keys):
        acct = tokens.get(k)
        if acct is None:
            continue
        data = bytes(acct.data)
        if not is_token_account(acct.owner, data):
            continue
        mint, owner, amount = token_fields(data)
        dec = decimals(mint)
        if dec is None:
            continue
        out.append(
            {
                "accountIndex": i,
                "mint": _b58(mint),
                "owner": _b58(owner),
                "programId": _b58(acct.owner),
                "uiTokenAmount": ui_amount(amount, dec),
            }
        )
    return out


def fee_charged(pre: list[int], post: list[int], ok: bool) -> int:
    """Lamports are conserved except the fee: what all accounts lost together (only the fee
    payer's loss for a failed transaction, which moved nothing else)."""
    if not pre:
        return 0
    return sum(pre) - sum(post) if ok else pre[0] - post[0]

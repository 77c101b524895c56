"""SPL Token and Token-2022 account layouts as a validator's RPC renders them (``jsonParsed``,
token balances of a transaction, ``getTokenAccountsBy*``). Pure: bytes in, JSON shapes out."""

from __future__ import annotations

import struct
from typing import Any, NamedTuple

from solders.pubkey import Pubkey

from ._ids import TOKEN_PROGRAM_ID

__all__ = [
    "TOKEN_2022_PROGRAM_ID",
    "TOKEN_PROGRAMS",
    "MintLayout",
    "TokenAccountLayout",
    "is_mint",
    "is_token_account",
    "mint_decimals",
    "parsed_account",
    "token_fields",
    "ui_amount",
]

TOKEN_2022_PROGRAM_ID = Pubkey.from_string("TokenzQdBNbLqP5VEhdkAS6EPFLC1PHnBqCXEpPxuEb")
TOKEN_PROGRAMS = (TOKEN_PROGRAM_ID, TOKEN_2022_PROGRAM_ID)
# SPL Token's Pack layouts (COption<T> = u32 tag + T); every field is read through these.
_ACCOUNT = struct.Struct("<32s32sQI32sBIQQI32s")  # mint owner amount delegate state is_native delegated close
_MINT = struct.Struct("<I32sQBBI32s")  # mint_authority supply decimals is_initialized freeze_authority
_ACCOUNT_LEN, _MINT_LEN = _ACCOUNT.size, _MINT.size  # 165, 82
_HEAD = struct.Struct("<32s32sQ")  # a token account's mint, owner, amount (the hot path)
_MINT_DECIMALS = struct.calcsize("<I32sQ")  # offset of a mint's decimals
_ACCOUNT_TYPE_MINT, _ACCOUNT_TYPE_ACCOUNT = 1, 2  # Token-2022: the byte after the base account
_STATES = {0: "uninitialized", 1: "initialized", 2: "frozen"}
_NATIVE_MINT = Pubkey.from_string("So11111111111111111111111111111111111111112")


def _opt_key(tag: int, key: bytes) -> Pubkey | None:
    return Pubkey.from_bytes(key) if tag == 1 else None


class TokenAccountLayout(NamedTuple):
    mint: Pubkey
    owner: Pubkey
    amount: int
    delegate: Pubkey | None
    state: int
    native_reserve: int | None  # rent-exempt reserve of a wrapped-SOL account
    delegated_amount: int
    close_authority: Pubkey | None

    @classmethod
    def unpack(cls, data: bytes) -> TokenAccountLayout:
        mint, owner, amount, d_tag, d_key, state, n_tag, n_val, delegated, c_tag, c_key = _ACCOUNT.unpack_from(data)
        return cls(
            Pubkey.from_bytes(mint),
            Pubkey.from_bytes(owner),
            amount,
            _opt_key(d_tag, d_key),
            state,
            n_val if n_tag == 1 else None,
            delegated,
            _opt_key(c_tag, c_key),
        )


class MintLayout(NamedTuple):
    mint_authority: Pubkey | None
    supply: int
    decimals: int
    is_initialized: bool
    freeze_authority: Pubkey | None

    @classmethod
    def unpack(cls, data: bytes) -> MintLayout:
        a_tag, a_key, supply, decimals, init, f_tag, f_key = _MINT.unpack_from(data)
        return cls(_opt_key(a_tag, a_key), supply, decimals, bool(init), _opt_key(f_tag, f_key))


def is_token_account(owner: Pubkey, data: bytes) -> bool:
    if owner == TOKEN_PROGRAM_ID:
        return len(data) == _ACCOUNT_LEN
    return (
        owner == TOKEN_2022_PROGRAM_ID
        and len(data) >= _ACCOUNT_LEN
        and (len(data) == _ACCOUNT_LEN or data[_ACCOUNT_LEN] == _ACCOUNT_TYPE_ACCOUNT)
    )


def is_mint(owner: Pubkey, data: bytes) -> bool:
    if owner == TOKEN_PROGRAM_ID:
        return len(data) == _MINT_LEN
    # Token-2022 pads a mint with extensions to the account length, then the type byte
    return owner == TOKEN_2022_PROGRAM_ID and (
        len(data) == _MINT_LEN or (len(data) > _ACCOUNT_LEN and data[_ACCOUNT_LEN] == _ACCOUNT_TYPE_MINT)
    )


def token_fields(data: bytes) -> tuple[Pubkey, Pubkey, int]:
    """(mint, owner, amount) of a token account."""
    mint, owner, amount = _HEAD.unpack_from(data)
    return Pubkey.from_bytes(mint), Pubkey.from_bytes(owner), amount


def mint_decimals(data: bytes) -> int:
    return int(data[_MINT_DECIMALS])


def ui_amount(amount: int, decimals: int) -> dict[str, Any]:
    """Exact ``uiAmountString``; ``uiAmount`` is the float a validator also sends (display only)."""
    s = str(amount).rjust(decimals + 1, "0")
    ui = f"{s[:-decimals]}.{s[-decimals:]}".rstrip("0").rstrip(".") if decimals else s
    return {"amount": str(amount), "decimals": decimals, "uiAmount": float(ui), "uiAmountString": ui}


def _account_info(data: bytes, decimals: int) -> dict[str, Any]:
    acc = TokenAccountLayout.unpack(data)
    info: dict[str, Any] = {
        "isNative": acc.native_reserve is not None,
        "mint": str(acc.mint),
        "owner": str(acc.owner),
        "state": _STATES.get(acc.state, "uninitialized"),
        "tokenAmount": ui_amount(acc.amount, decimals),
    }
    if acc.delegate is not None:
        info["delegate"] = str(acc.delegate)
        info["delegatedAmount"] = ui_amount(acc.delegated_amount, decimals)
    if acc.close_authority is not None:
        info["closeAuthority"] = str(acc.close_authority)
    if acc.native_reserve is not None:
        info["rentExemptReserve"] = ui_amount(acc.native_reserve, decimals)
    return info


def _mint_info(data: bytes) -> dict[str, Any]:
    m = MintLayout.unpack(data)
    return {
        "decimals": m.decimals,
        "freezeAuthority": None if m.freeze_authority is None else str(m.freeze_authority),
        "isInitialized": m.is_initialized,
        "mintAuthority": None if m.mint_authority is None else str(m.mint_authority),
        "supply": str(m.supply),
    }


def parsed_account(owner: Pubkey, data: bytes, decimals_of: Any) -> dict[str, Any] | None:
    """The ``jsonParsed`` data of a token account or mint; None when it is neither (the caller
    falls back to base64, as validators do). ``decimals_of(mint) -> int | None``."""
    program = "spl-token" if owner == TOKEN_PROGRAM_ID else "spl-token-2022"
    if is_token_account(owner, data):
        mint = token_fields(data)[0]
        decimals = 9 if mint == _NATIVE_MINT else decimals_of(mint)
        if decimals is None:
            return None
        parsed: dict[str, Any] = {"info": _account_info(data, decimals), "type": "account"}
    elif is_mint(owner, data):
        parsed = {"info": _mint_info(data), "type": "mint"}
    else:
        return None
    return {"program": program, "parsed": parsed, "space": len(data)}

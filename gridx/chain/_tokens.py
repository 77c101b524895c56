"""SPL Token and Token-2022 account layouts as a validator's RPC renders them (``jsonParsed``,
token balances of a transaction, ``getTokenAccountsBy*``). Pure: bytes in, JSON shapes out."""

from __future__ import annotations

import struct
from typing import Any

from solders.pubkey import Pubkey

from ._ids import TOKEN_PROGRAM_ID

__all__ = [
    "TOKEN_2022_PROGRAM_ID",
    "TOKEN_PROGRAMS",
    "is_mint",
    "is_token_account",
    "mint_decimals",
    "parsed_account",
    "token_fields",
    "ui_amount",
]

TOKEN_2022_PROGRAM_ID = Pubkey.from_string("TokenzQdBNbLqP5VEhdkAS6EPFLC1PHnBqCXEpPxuEb")
TOKEN_PROGRAMS = (TOKEN_PROGRAM_ID, TOKEN_2022_PROGRAM_ID)
_ACCOUNT_LEN, _MINT_LEN = 165, 82
_ACCOUNT_TYPE_MINT, _ACCOUNT_TYPE_ACCOUNT = 1, 2  # Token-2022: the byte after the base account
_STATES = {0: "uninitialized", 1: "initialized", 2: "frozen"}
_NATIVE_MINT = Pubkey.from_string("So11111111111111111111111111111111111111112")


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
    return Pubkey.from_bytes(data[:32]), Pubkey.from_bytes(data[32:64]), struct.unpack_from("<Q", data, 64)[0]


def mint_decimals(data: bytes) -> int:
    return data[44]


def ui_amount(amount: int, decimals: int) -> dict[str, Any]:
    """Exact ``uiAmountString``; ``uiAmount`` is the float a validator also sends (display only)."""
    s = str(amount).rjust(decimals + 1, "0")
    ui = f"{s[:-decimals]}.{s[-decimals:]}".rstrip("0").rstrip(".") if decimals else s
    return {"amount": str(amount), "decimals": decimals, "uiAmount": float(ui), "uiAmountString": ui}


def _coption_key(data: bytes, off: int) -> str | None:
    (tag,) = struct.unpack_from("<I", data, off)
    return str(Pubkey.from_bytes(data[off + 4 : off + 36])) if tag == 1 else None


def _account_info(data: bytes, decimals: int) -> dict[str, Any]:
    mint, owner, amount = token_fields(data)
    info: dict[str, Any] = {
        "isNative": struct.unpack_from("<I", data, 109)[0] == 1,
        "mint": str(mint),
        "owner": str(owner),
        "state": _STATES.get(data[108], "uninitialized"),
        "tokenAmount": ui_amount(amount, decimals),
    }
    delegate = _coption_key(data, 72)
    if delegate is not None:
        info["delegate"] = delegate
        info["delegatedAmount"] = ui_amount(struct.unpack_from("<Q", data, 121)[0], decimals)
    close = _coption_key(data, 129)
    if close is not None:
        info["closeAuthority"] = close
    if info["isNative"]:
        info["rentExemptReserve"] = ui_amount(struct.unpack_from("<Q", data, 113)[0], decimals)
    return info


def _mint_info(data: bytes) -> dict[str, Any]:
    return {
        "decimals": data[44],
        "freezeAuthority": _coption_key(data, 46),
        "isInitialized": bool(data[45]),
        "mintAuthority": _coption_key(data, 0),
        "supply": str(struct.unpack_from("<Q", data, 36)[0]),
    }


def parsed_account(owner: Pubkey, data: bytes, decimals_of: Any) -> dict[str, Any] | None:
    """The ``jsonParsed`` data of a token account or mint; None when it is neither (the caller
    falls back to base64, as validators do). ``decimals_of(mint) -> int | None``."""
    program = "spl-token" if owner == TOKEN_PROGRAM_ID else "spl-token-2022"
    if is_token_account(owner, data):
        mint = Pubkey.from_bytes(data[:32])
        decimals = 9 if mint == _NATIVE_MINT else decimals_of(mint)
        if decimals is None:
            return None
        parsed: dict[str, Any] = {"info": _account_info(data, decimals), "type": "account"}
    elif is_mint(owner, data):
        parsed = {"info": _mint_info(data), "type": "mint"}
    else:
        return None
    return {"program": program, "parsed": parsed, "space": len(data)}

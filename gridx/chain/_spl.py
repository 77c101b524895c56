"""Raw SPL Token / Associated Token Account instructions (the few we need; no spl-token dep)."""

from __future__ import annotations

import struct

from solders.instruction import AccountMeta, Instruction
from solders.pubkey import Pubkey
from solders.system_program import CreateAccountParams, create_account

from ._ids import ATA_PROGRAM_ID, SYSTEM_PROGRAM_ID, TOKEN_PROGRAM_ID, ata_address
from ._tokens import token_fields

__all__ = [
    "MINT_LEN",
    "TOKEN_ACCOUNT_LEN",
    "create_ata_ix",
    "create_mint_ixs",
    "mint_to_ix",
    "token_account_amount",
    "token_account_owner",
    "transfer_ix",
]

MINT_LEN = 82
TOKEN_ACCOUNT_LEN = 165


def create_ata_ix(payer: Pubkey, owner: Pubkey, mint: Pubkey) -> Instruction:
    """CreateIdempotent: safe to repeat, so callers never need to check first."""
    return Instruction(
        ATA_PROGRAM_ID,
        bytes([1]),
        [
            AccountMeta(payer, True, True),
            AccountMeta(ata_address(owner, mint), False, True),
            AccountMeta(owner, False, False),
            AccountMeta(mint, False, False),
            AccountMeta(SYSTEM_PROGRAM_ID, False, False),
            AccountMeta(TOKEN_PROGRAM_ID, False, False),
        ],
    )


def create_mint_ixs(
    payer: Pubkey, mint: Pubkey, decimals: int, authority: Pubkey, rent_lamports: int
) -> list[Instruction]:
    """System create_account + InitializeMint2 (no freeze authority); ``mint`` must sign."""
    return [
        create_account(
            CreateAccountParams(
                from_pubkey=payer, to_pubkey=mint, lamports=rent_lamports, space=MINT_LEN, owner=TOKEN_PROGRAM_ID
            )
        ),
        Instruction(
            TOKEN_PROGRAM_ID, bytes([20, decimals]) + bytes(authority) + bytes([0]), [AccountMeta(mint, False, True)]
        ),
    ]


def mint_to_ix(mint: Pubkey, dest: Pubkey, authority: Pubkey, amount: int) -> Instruction:
    return Instruction(
        TOKEN_PROGRAM_ID,
        bytes([7]) + struct.pack("<Q", amount),
        [AccountMeta(mint, False, True), AccountMeta(dest, False, True), AccountMeta(authority, True, False)],
    )


def transfer_ix(source: Pubkey, dest: Pubkey, owner: Pubkey, amount: int) -> Instruction:
    return Instruction(
        TOKEN_PROGRAM_ID,
        bytes([3]) + struct.pack("<Q", amount),
        [AccountMeta(source, False, True), AccountMeta(dest, False, True), AccountMeta(owner, True, False)],
    )


def token_account_amount(data: bytes) -> int:
    """Amount of an SPL token account."""
    return token_fields(data)[2]


def token_account_owner(data: bytes) -> Pubkey:
    return token_fields(data)[1]

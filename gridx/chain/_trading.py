"""Transactions a user signs (non-custodial, DESIGN §9): the API builds the message, the
wallet signs it elsewhere, and the API accepts it back only if its message is exactly the
bytes it built and every required signature verifies."""

from __future__ import annotations

import base64
import binascii
from collections.abc import Sequence
from typing import TYPE_CHECKING

from solders.hash import Hash
from solders.instruction import Instruction
from solders.keypair import Keypair
from solders.message import Message
from solders.pubkey import Pubkey
from solders.transaction import Transaction

from gridx.errors import ChainError

from ._client import rpc_call

if TYPE_CHECKING:
    from solana.rpc.async_api import AsyncClient

__all__ = [
    "blockhash_valid",
    "blockhash_with_height",
    "check_signed_tx",
    "cosign_prepared_tx",
    "sign_prepared_tx",
    "unsigned_tx",
]


async def blockhash_with_height(client: AsyncClient) -> tuple[Hash, int]:
    """(recent blockhash, last block height at which a transaction using it can land)."""
    value = (await rpc_call(client.get_latest_blockhash())).value
    return value.blockhash, value.last_valid_block_height


async def blockhash_valid(client: AsyncClient, last_valid_height: int) -> bool:
    """Can a transaction whose blockhash lasts until ``last_valid_height`` still land? (Once
    this is False and its signature is unknown, it never will: safe to build a new one.)"""
    return int((await rpc_call(client.get_block_height())).value) <= last_valid_height


def unsigned_tx(ixs: Sequence[Instruction], payer: Pubkey, blockhash: Hash) -> tuple[bytes, bytes]:
    """(wire transaction with empty signatures, its message bytes). ``payer`` pays the fee."""
    msg = Message.new_with_blockhash(list(ixs), payer, blockhash)
    return bytes(Transaction.new_unsigned(msg)), bytes(msg)


def sign_prepared_tx(wire: bytes, signers: Sequence[Keypair]) -> bytes:
    """What a wallet does with a prepared transaction: sign its message as it is. Only the
    slots of ``signers`` are filled: a co-signer's slot (the registry authority approving an
    enrolment) stays for the API to fill once it has the wallet's signature."""
    tx = Transaction.from_bytes(wire)
    tx.partial_sign(list(signers), tx.message.recent_blockhash)
    return bytes(tx)


def cosign_prepared_tx(wire_b64: str, expected_message: bytes, signer: Keypair) -> str:
    """``wire_b64`` with ``signer``'s slot signed, if its message is exactly
    ``expected_message``; otherwise returned unchanged, for :func:`check_signed_tx` to refuse
    (the co-signer never signs bytes it did not build)."""
    try:
        tx = Transaction.from_bytes(base64.b64decode(wire_b64, validate=True))
    except (binascii.Error, ValueError):
        return wire_b64
    if bytes(tx.message) != expected_message or len(tx.signatures) != tx.message.header.num_required_signatures:
        return wire_b64
    tx.partial_sign([signer], tx.message.recent_blockhash)
    return base64.b64encode(bytes(tx)).decode()


def check_signed_tx(wire_b64: str, expected_message: bytes) -> Transaction:
    """The signed transaction, if it is exactly the prepared one, fully signed. ChainError
    codes: TxMalformed, TxAltered (any byte of the message differs), TxSignatureInvalid."""
    try:
        tx = Transaction.from_bytes(base64.b64decode(wire_b64, validate=True))
    except (binascii.Error, ValueError) as exc:
        raise ChainError(f"not a base64 wire transaction: {exc}", "TxMalformed") from exc
    if bytes(tx.message) != expected_message:
        raise ChainError("the transaction differs from the one the API built", "TxAltered")
    if len(tx.signatures) != tx.message.header.num_required_signatures:
        raise ChainError("wrong number of signatures", "TxSignatureInvalid")
    try:
        tx.verify()
    except Exception as exc:  # solders raises its own error type for a bad signature
        raise ChainError("a required signature is missing or does not verify", "TxSignatureInvalid") from exc
    return tx

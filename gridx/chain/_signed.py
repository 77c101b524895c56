"""Instructions that carry meter signatures: the Ed25519-program check and ``mint_readings``.

The chain trusts no gateway: a mint carries the readings' canonical bytes (gridx/wire.py) and
is valid only when the instruction just before it is an Ed25519-program check, one signature
per reading by the meter's enrolled key, whose messages point into the mint instruction's own
data (so the bytes travel once). Enrolment works the same way with a proof of possession.
"""

from __future__ import annotations

import struct
from collections.abc import Sequence
from dataclasses import dataclass

from nacl.signing import SigningKey
from solders.instruction import AccountMeta, Instruction
from solders.pubkey import Pubkey

from gridx.wire import Reading, canonical_bytes, enrolment_bytes, sign_enrolment_proof

from ._idl import idl_program
from ._ids import (
    SYSTEM_PROGRAM_ID,
    TOKEN_PROGRAM_ID,
    ata_address,
    grxe_mint_pda,
    meter_pda,
    mint_authority_pda,
    mint_state_pda,
    minter_pda,
    program_ids,
    token_config_pda,
    user_pda,
)

__all__ = [
    "ED25519_PROGRAM_ID",
    "INSTRUCTIONS_SYSVAR_ID",
    "MAX_READINGS_PER_MINT",
    "SignedReading",
    "build_mint_readings_ixs",
    "ed25519_ix",
    "enrolment_message",
    "mint_data",
    "sign_enrolment",
    "signed_reading",
]

ED25519_PROGRAM_ID = Pubkey.from_string("Ed25519SigVerify111111111111111111111111111")
INSTRUCTIONS_SYSVAR_ID = Pubkey.from_string("Sysvar1nstructions1111111111111111111111111")
MAX_READINGS_PER_MINT = 8
_SELF = 0xFFFF  # "this instruction" in an Ed25519 offsets entry
_OFFSETS = struct.Struct("<HHHHHHH")


@dataclass(frozen=True)
class SignedReading:
    """One reading as the chain sees it: its canonical bytes and the meter's signature."""

    canonical: bytes
    sig: bytes


def enrolment_message(meter: Pubkey, owner: Pubkey, edge_id: str | bytes) -> bytes:
    """What a meter key signs to prove possession at enrolment (``gridx.wire.enrolment_bytes``)."""
    return enrolment_bytes(bytes(meter), bytes(owner), edge_id)


def sign_enrolment(key: SigningKey, owner: Pubkey, edge_id: str | bytes) -> bytes:
    """The meter's proof of possession for enrolment (run where the meter key lives)."""
    return sign_enrolment_proof(key, bytes(owner), edge_id)


def signed_reading(r: Reading) -> SignedReading:
    """A wire reading as the chain takes it."""
    return SignedReading(canonical_bytes(r), bytes.fromhex(r.sig))


def ed25519_ix(
    pubkey: bytes, sigs: bytes | Sequence[bytes], msg: bytes | None = None, spans: Sequence[tuple[int, int, int]] = ()
) -> Instruction:
    """An Ed25519-program instruction: one key, one or more signatures.

    With ``msg`` the (single) message travels inside this instruction; otherwise ``spans``
    gives (instruction index, offset, size) of each signed message elsewhere in the transaction.
    """
    sig_list = [sigs] if isinstance(sigs, bytes) else list(sigs)
    n = len(sig_list)
    pk_at = 2 + 14 * n
    sig_at = pk_at + 32
    msg_at = sig_at + 64 * n
    if msg is not None:
        spans = [(_SELF, msg_at, len(msg))]
    if len(spans) != n:
        raise ValueError("one message span per signature")
    head = bytes((n, 0)) + b"".join(
        _OFFSETS.pack(sig_at + 64 * i, _SELF, pk_at, _SELF, off, size, ix) for i, (ix, off, size) in enumerate(spans)
    )
    return Instruction(ED25519_PROGRAM_ID, head + pubkey + b"".join(sig_list) + (msg or b""), [])


def mint_data(readings: Sequence[SignedReading]) -> tuple[bytes, list[tuple[int, int]]]:
    """mint_readings instruction data (borsh ``Vec<bytes>``) and each reading's (offset, size)."""
    disc = idl_program("energy_token").instructions["mint_readings"].discriminator
    parts = [disc, struct.pack("<I", len(readings))]
    spans: list[tuple[int, int]] = []
    pos = len(disc) + 4
    for r in readings:
        parts += [struct.pack("<I", len(r.canonical)), r.canonical]
        spans.append((pos + 4, len(r.canonical)))
        pos += 4 + len(r.canonical)
    return b"".join(parts), spans


def build_mint_readings_ixs(
    minter: Pubkey,
    meter: Pubkey,
    owner: Pubkey,
    edge_id: str | bytes,
    readings: Sequence[SignedReading],
    first_index: int = 0,
) -> list[Instruction]:
    """[Ed25519 check, mint_readings] for consecutive windows of one meter; the pair sits at
    instruction indices ``first_index`` and ``first_index + 1`` of its transaction."""
    if not 1 <= len(readings) <= MAX_READINGS_PER_MINT:
        raise ValueError(f"1..{MAX_READINGS_PER_MINT} readings per mint")
    data, spans = mint_data(readings)
    check = ed25519_ix(bytes(meter), [r.sig for r in readings], spans=[(first_index + 1, o, s) for o, s in spans])
    grxe = grxe_mint_pda()
    keys = (
        (minter, True, True),
        (minter_pda(minter, edge_id), False, True),
        (token_config_pda(), False, True),
        (meter_pda(meter), False, False),
        (user_pda(owner), False, False),
        (mint_state_pda(meter), False, True),
        (grxe, False, True),
        (mint_authority_pda(), False, False),
        (ata_address(owner, grxe), False, True),
        (TOKEN_PROGRAM_ID, False, False),
        (SYSTEM_PROGRAM_ID, False, False),
        (INSTRUCTIONS_SYSVAR_ID, False, False),
    )
    mint = Instruction(program_ids().energy_token, data, [AccountMeta(k, s, w) for k, s, w in keys])
    return [check, mint]

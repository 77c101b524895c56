"""Shapes shared by the three program specs: account-meta helpers, type names, common errors."""

from __future__ import annotations


# account meta helpers: (name, writable, signer, docs)
def acc(name, w=False, s=False, docs=None, address=None):
    d = {"name": name}
    if w:
        d["writable"] = True
    if s:
        d["signer"] = True
    if docs:
        d["docs"] = [docs]
    if address:
        d["address"] = address
    return d


SYSTEM = "11111111111111111111111111111111"
TOKEN = "TokenkegQfeZyiNwAJbNbGKPFXCWuBvf9Ss623VQ5DA"
INSTRUCTIONS_SYSVAR = "Sysvar1nstructions1111111111111111111111111"


def sys_prog():
    return acc("system_program", address=SYSTEM)


def tok_prog():
    return acc("token_program", address=TOKEN)


PK = "pubkey"
ARR32 = {"array": ["u8", 32]}


COMMON_ERRORS = [
    ("Unauthorized", "Signer is not the required authority"),
    ("MissingSignature", "A required signer did not sign"),
    ("InvalidPda", "Account address does not match the expected PDA"),
    ("InvalidAccountOwner", "Account is owned by an unexpected program"),
    ("InvalidDiscriminator", "Account data has the wrong discriminator or size"),
    ("InvalidInstruction", "Unknown instruction discriminator or malformed instruction data"),
    ("ArithmeticOverflow", "Checked arithmetic overflowed"),
    ("InvalidProgramAccount", "A program account (system/token/registry) is not the expected one"),
    ("NotWritable", "An account that must be writable is not"),
    ("InvalidArgument", "An instruction argument is out of range"),
]

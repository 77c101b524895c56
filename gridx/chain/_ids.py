"""Program ids, well-known program addresses and every PDA our three programs derive.

Seeds are the programs' own (programs/README.md, programs/*/src/lib.rs); a wrong seed here
shows up as the program's ``InvalidPda`` error, never as silent misbehaviour.
"""

from __future__ import annotations

import hashlib
import json
import os
import struct
from dataclasses import dataclass
from functools import cache, lru_cache
from pathlib import Path

from solders.keypair import Keypair
from solders.pubkey import Pubkey

from gridx.errors import ConfigError
from gridx.paths import ROOT

__all__ = [
    "ATA_PROGRAM_ID",
    "PROGRAMS",
    "SYSTEM_PROGRAM_ID",
    "TOKEN_PROGRAM_ID",
    "ProgramIds",
    "ata_address",
    "deployer_keypair",
    "edge_seed",
    "energy_vault_pda",
    "grxe_mint_pda",
    "idl_dir",
    "market_pda",
    "meter_pda",
    "mint_authority_pda",
    "mint_state_pda",
    "minter_pda",
    "order_pda",
    "payment_vault_pda",
    "program_dir",
    "program_ids",
    "registry_config_pda",
    "token_config_pda",
    "user_pda",
]

SYSTEM_PROGRAM_ID = Pubkey.from_string("11111111111111111111111111111111")
TOKEN_PROGRAM_ID = Pubkey.from_string("TokenkegQfeZyiNwAJbNbGKPFXCWuBvf9Ss623VQ5DA")
ATA_PROGRAM_ID = Pubkey.from_string("ATokenGPvbdGVxr1b2hvZbsiqW5xWH25efTNsLJA8knL")

PROGRAMS: tuple[str, ...] = ("registry", "energy_token", "trading")


@dataclass(frozen=True)
class ProgramIds:
    registry: Pubkey
    energy_token: Pubkey
    trading: Pubkey

    def by_name(self, name: str) -> Pubkey:
        key: Pubkey = getattr(self, name)
        return key


def program_dir() -> Path:
    """Where the SBF ``.so`` files are: ``$GRIDX_PROGRAM_DIR`` (CI builds) or programs/deploy/."""
    return Path(os.environ.get("GRIDX_PROGRAM_DIR", ROOT / "programs" / "deploy"))


def idl_dir() -> Path:
    return ROOT / "programs" / "idl"


@cache
def program_ids() -> ProgramIds:
    path = ROOT / "programs" / "program_ids.json"
    try:
        raw = json.loads(path.read_text())
        return ProgramIds(**{name: Pubkey.from_string(raw[name]) for name in PROGRAMS})
    except (OSError, KeyError, ValueError) as exc:
        raise ConfigError(f"cannot read program ids from {path}: {exc}") from exc


# PDAs of a fixed key set are hot in the gateway's mint path; caching is safe (pure functions).
def _pda(program: str, *seeds: bytes) -> Pubkey:
    return Pubkey.find_program_address(list(seeds), program_ids().by_name(program))[0]


# ---- registry
@cache
def registry_config_pda() -> Pubkey:
    return _pda("registry", b"registry")


@lru_cache(maxsize=65536)
def user_pda(wallet: Pubkey) -> Pubkey:
    return _pda("registry", b"user", bytes(wallet))


@lru_cache(maxsize=65536)
def meter_pda(meter: Pubkey) -> Pubkey:
    return _pda("registry", b"meter", bytes(meter))


# ---- energy_token
@cache
def token_config_pda() -> Pubkey:
    return _pda("energy_token", b"config")


@cache
def grxe_mint_pda() -> Pubkey:
    return _pda("energy_token", b"mint")


@cache
def mint_authority_pda() -> Pubkey:
    return _pda("energy_token", b"mint_authority")


def edge_seed(edge_id: str | bytes) -> bytes:
    """An edge id as the programs store it: its bytes, zero-padded to 32."""
    raw = edge_id.encode() if isinstance(edge_id, str) else edge_id
    if len(raw) > 32:
        raise ValueError("edge_id longer than 32 bytes")
    return raw.ljust(32, b"\0")


@lru_cache(maxsize=65536)
def minter_pda(minter: Pubkey, edge_id: str | bytes) -> Pubkey:
    """A minter's authorisation for the meters of one edge."""
    return _pda("energy_token", b"minter", bytes(minter), edge_seed(edge_id))


@lru_cache(maxsize=65536)
def mint_state_pda(meter: Pubkey) -> Pubkey:
    """The meter's mint high-water mark: the end of its last minted window."""
    return _pda("energy_token", b"mint_state", bytes(meter))


def deployer_keypair() -> Keypair:
    """The key compiled into registry and energy_token as the only one allowed to initialise.

    Local chains use the public derivation recorded in programs/program_ids.json; a cluster
    deployment sets its own ``deployer`` there, rebuilds, and passes its own keypair."""
    raw = json.loads((ROOT / "programs" / "program_ids.json").read_text())
    kp = Keypair.from_seed(hashlib.sha256(b"gridtokenx/deployer").digest())
    if str(kp.pubkey()) != raw.get("deployer"):
        raise ConfigError("programs/program_ids.json names a deployer whose key is not the local one")
    return kp


# ---- trading
def market_pda(energy_mint: Pubkey, payment_mint: Pubkey) -> Pubkey:
    return _pda("trading", b"market", bytes(energy_mint), bytes(payment_mint))


def energy_vault_pda(market: Pubkey) -> Pubkey:
    return _pda("trading", b"energy_vault", bytes(market))


def payment_vault_pda(market: Pubkey) -> Pubkey:
    return _pda("trading", b"payment_vault", bytes(market))


def order_pda(owner: Pubkey, order_id: int) -> Pubkey:
    return _pda("trading", b"order", bytes(owner), struct.pack("<Q", order_id))


# ---- SPL
@lru_cache(maxsize=65536)
def ata_address(owner: Pubkey, mint: Pubkey) -> Pubkey:
    return Pubkey.find_program_address([bytes(owner), bytes(TOKEN_PROGRAM_ID), bytes(mint)], ATA_PROGRAM_ID)[0]

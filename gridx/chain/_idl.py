"""The committed Anchor-spec IDLs, read once: instruction encoding, account and event decoding,
and the custom error table (code -> name) for every program."""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import cache
from typing import Any

from solders.instruction import AccountMeta, Instruction
from solders.pubkey import Pubkey

from gridx.errors import ChainError, ConfigError

from ._ids import PROGRAMS, idl_dir, program_ids

__all__ = ["Event", "IdlProgram", "decode_account", "decode_events", "error_name", "idl_program"]


@dataclass(frozen=True)
class Event:
    program: str
    name: str
    data: Any  # anchorpy Container: fields as attributes


@dataclass(frozen=True)
class _IxSpec:
    accounts: tuple[tuple[str, bool, bool, Pubkey | None], ...]  # name, writable, signer, fixed address
    discriminator: bytes


class IdlProgram:
    """One program's IDL with an anchorpy ``Coder`` (no provider, no network)."""

    def __init__(self, name: str, raw: Mapping[str, Any]) -> None:
        from anchorpy import Idl
        from anchorpy.coder.coder import Coder

        self.name = name
        self.program_id = program_ids().by_name(name)
        self.coder = Coder(Idl.from_json(json.dumps(raw)))
        self.errors: dict[int, str] = {int(e["code"]): str(e["name"]) for e in raw.get("errors", [])}
        self.instructions: dict[str, _IxSpec] = {
            ix["name"]: _IxSpec(
                accounts=tuple(
                    (
                        a["name"],
                        bool(a.get("writable")),
                        bool(a.get("signer")),
                        Pubkey.from_string(a["address"]) if a.get("address") else None,
                    )
                    for a in ix["accounts"]
                ),
                discriminator=bytes(ix["discriminator"]),
            )
            for ix in raw["instructions"]
        }
        self._event_discs = {bytes(e["discriminator"]) for e in raw.get("events", [])}

    def build(self, ix_name: str, args: Mapping[str, Any], accounts: Mapping[str, Pubkey]) -> Instruction:
        """Encode ``ix_name`` with anchorpy; accounts by IDL name (fixed program addresses may be omitted)."""
        spec = self.instructions[ix_name]
        metas = []
        for name, writable, signer, fixed in spec.accounts:
            key = accounts.get(name, fixed)
            if key is None:
                raise ChainError(f"{self.name}.{ix_name}: account {name!r} missing", "MissingAccount")
            metas.append(AccountMeta(key, signer, writable))
        data = self.coder.instruction.encode(ix_name, dict(args))
        return Instruction(self.program_id, data, metas)

    def decode_account(self, data: bytes) -> Any:
        return self.coder.accounts.decode(data)

    def decode_event(self, raw: bytes) -> Event | None:
        if raw[:8] not in self._event_discs:
            return None
        ev = self.coder.events.parse(raw)
        return None if ev is None else Event(self.name, ev.name, ev.data)


@cache
def idl_program(name: str) -> IdlProgram:
    path = idl_dir() / f"{name}.json"
    try:
        raw = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise ConfigError(f"cannot read IDL {path}: {exc}") from exc
    return IdlProgram(name, raw)


def _by_id() -> dict[Pubkey, IdlProgram]:
    return {idl_program(n).program_id: idl_program(n) for n in PROGRAMS}


def decode_account(program: str, data: bytes) -> Any:
    """Decode an account's data by its Anchor discriminator; raises ChainError if unknown."""
    try:
        return idl_program(program).decode_account(data)
    except Exception as exc:  # construct raises many types; callers want one
        raise ChainError(f"cannot decode {program} account: {exc}", "InvalidAccountData") from exc


def decode_events(logs: Iterable[str]) -> list[Event]:
    """Events of our programs from a transaction's logs ("Program data: <base64>"), in order.

    Tracks the invoke stack so a CPI's data lines are attributed to the program that wrote
    them, not to its caller."""
    progs = _by_id()
    stack: list[str] = []
    out: list[Event] = []
    for line in logs:
        if line.startswith("Program ") and " invoke [" in line:
            stack.append(line.split()[1])
        elif line.startswith("Program ") and (line.endswith(" success") or " failed" in line):
            if stack:
                stack.pop()
        elif line.startswith("Program data: ") and stack:
            prog = progs.get(Pubkey.from_string(stack[-1]))
            if prog is None:
                continue
            try:
                raw = base64.b64decode(line[len("Program data: ") :])
            except binascii.Error:
                continue
            ev = prog.decode_event(raw)
            if ev is not None:
                out.append(ev)
    return out


def error_name(program_id: Pubkey, code: int) -> str | None:
    """The IDL name of custom error ``code`` raised by ``program_id``, if it is one of ours."""
    prog = _by_id().get(program_id)
    return None if prog is None else prog.errors.get(code)

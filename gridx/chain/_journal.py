"""Append-only account journal: the local node's durability.

LiteSVM keeps state in memory only. After every committed transaction the node appends the
post-state of the accounts it wrote; on start it replays the file (last write wins), so a
stopped and restarted node keeps users, meters, mint records, balances and orders. A torn
last record (killed mid-write) is dropped. Each start rewrites the file compacted (one record
per live account) through a temp file + rename, so it never grows without bound.

Written with flush() (survives a killed process, not a power cut; pass fsync=True for that).
"""

from __future__ import annotations

import os
import struct
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import BinaryIO

from solders.account import Account
from solders.pubkey import Pubkey

__all__ = ["Journal"]

_REC = struct.Struct("<IQH")  # payload length, slot, account count
_ACC = struct.Struct("<32sQ32s?QI")  # address, lamports, owner, executable, rent_epoch, data length


def _encode(slot: int, accounts: Iterable[tuple[Pubkey, Account]]) -> bytes:
    parts = []
    n = 0
    for addr, acct in accounts:
        data = bytes(acct.data)
        parts.append(
            _ACC.pack(bytes(addr), acct.lamports, bytes(acct.owner), acct.executable, acct.rent_epoch, len(data)) + data
        )
        n += 1
    body = b"".join(parts)
    return _REC.pack(len(body), slot, n) + body


def _decode(buf: bytes) -> Iterator[tuple[int, int, list[tuple[Pubkey, Account]]]]:
    """Yields (end offset, slot, accounts) per complete record; stops at a torn tail."""
    off = 0
    while off + _REC.size <= len(buf):
        length, slot, count = _REC.unpack_from(buf, off)
        end = off + _REC.size + length
        if end > len(buf):
            return
        pos = off + _REC.size
        accounts = []
        for _ in range(count):
            addr, lamports, owner, executable, rent_epoch, dlen = _ACC.unpack_from(buf, pos)
            pos += _ACC.size
            data = buf[pos : pos + dlen]
            pos += dlen
            accounts.append(
                (
                    Pubkey.from_bytes(addr),
                    Account(lamports, data, Pubkey.from_bytes(owner), executable, rent_epoch),
                )
            )
        yield end, slot, accounts
        off = end


class Journal:
    def __init__(self, path: Path, fsync: bool = False) -> None:
        self.path = path
        self._fsync = fsync
        self._fh: BinaryIO | None = None

    def load(self) -> tuple[int, dict[Pubkey, Account]]:
        """Replay the file: (highest slot, live accounts). Compacts it on the way."""
        state: dict[Pubkey, Account] = {}
        slot = 0
        if self.path.exists():
            for _end, rec_slot, accounts in _decode(self.path.read_bytes()):
                slot = max(slot, rec_slot)
                for addr, acct in accounts:
                    state[addr] = acct
        state = {a: acct for a, acct in state.items() if acct.lamports > 0}
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(".tmp")
        tmp.write_bytes(_encode(slot, state.items()) if state else b"")
        os.replace(tmp, self.path)
        return slot, state

    def append(self, slot: int, accounts: Iterable[tuple[Pubkey, Account]]) -> None:
        if self._fh is None:
            self._fh = open(self.path, "ab")  # held open for the node's lifetime
        fh = self._fh
        fh.write(_encode(slot, accounts))
        fh.flush()
        if self._fsync:
            os.fsync(fh.fileno())

    def close(self) -> None:
        if self._fh is not None:
            self._fh.close()
            self._fh = None

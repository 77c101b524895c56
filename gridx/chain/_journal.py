"""Append-only journal: the local node's durability.

LiteSVM keeps state in memory only. After every recorded transaction the node appends one
record: the transaction (signature, slot, error, logs, bytes, account keys) and the
post-state of the accounts it wrote. On start the file is replayed: accounts last-write-wins,
transactions rebuild the history behind getSignatureStatuses / getTransaction /
getSignaturesForAddress, so a restarted node keeps users, meters, mint records, balances,
orders and the event history an indexer may not have read yet. A torn last record (killed
mid-write) is dropped whole: a transaction and its effects persist together or not at all.
Each start rewrites the file compacted (one snapshot of live accounts, then the retained
transactions) through a temp file + rename.

Written with flush() (survives a killed process, not a power cut; pass fsync=True for that).
"""

from __future__ import annotations

import fcntl
import json
import os
import struct
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

from solders.account import Account
from solders.pubkey import Pubkey
from solders.signature import Signature

from gridx.errors import ServiceError

__all__ = ["Journal", "TxRecord"]

_MAGIC = b"GXJ2"
_REC = struct.Struct("<IQ")  # payload length, slot
_ACC = struct.Struct("<32sQ32s?QI")  # address, lamports, owner, executable, rent_epoch, data length
_U32 = struct.Struct("<I")
_U16 = struct.Struct("<H")


@dataclass
class TxRecord:
    signature: Signature
    slot: int
    raw: bytes  # wire transaction; empty for a faucet airdrop
    err: Any  # validator JSON shape, None on success
    logs: list[str]
    units: int
    block_time: int
    account_keys: list[Pubkey] = field(default_factory=list)
    fee: int = 0
    pre_balances: list[int] = field(default_factory=list)  # lamports of every account key
    post_balances: list[int] = field(default_factory=list)
    pre_token_balances: list[dict[str, Any]] = field(default_factory=list)  # validator JSON shape
    post_token_balances: list[dict[str, Any]] = field(default_factory=list)


def _encode_tx(tx: TxRecord | None) -> bytes:
    if tx is None:
        return _U32.pack(0)
    meta = json.dumps(
        {
            "err": tx.err,
            "logs": tx.logs,
            "units": tx.units,
            "time": tx.block_time,
            "fee": tx.fee,
            "balances": [tx.pre_balances, tx.post_balances],
            "tokens": [tx.pre_token_balances, tx.post_token_balances],
        }
    ).encode()
    blob = b"".join(
        (
            bytes(tx.signature),
            _U32.pack(len(meta)),
            meta,
            _U32.pack(len(tx.raw)),
            tx.raw,
            _U16.pack(len(tx.account_keys)),
            *(bytes(k) for k in tx.account_keys),
        )
    )
    return _U32.pack(len(blob)) + blob


def _encode(slot: int, accounts: Iterable[tuple[Pubkey, Account]], tx: TxRecord | None = None) -> bytes:
    parts = []
    for addr, acct in accounts:
        data = bytes(acct.data)
        parts.append(
            _ACC.pack(bytes(addr), acct.lamports, bytes(acct.owner), acct.executable, acct.rent_epoch, len(data)) + data
        )
    body = _encode_tx(tx) + _U32.pack(len(parts)) + b"".join(parts)
    return _REC.pack(len(body), slot) + body


def _decode_tx(buf: bytes, pos: int, slot: int) -> tuple[TxRecord | None, int]:
    (blen,) = _U32.unpack_from(buf, pos)
    pos += _U32.size
    if blen == 0:
        return None, pos
    end = pos + blen
    sig = Signature.from_bytes(buf[pos : pos + 64])
    pos += 64
    (mlen,) = _U32.unpack_from(buf, pos)
    meta = json.loads(buf[pos + 4 : pos + 4 + mlen])
    pos += 4 + mlen
    (rlen,) = _U32.unpack_from(buf, pos)
    raw = buf[pos + 4 : pos + 4 + rlen]
    pos += 4 + rlen
    (nkeys,) = _U16.unpack_from(buf, pos)
    pos += 2
    keys = [Pubkey.from_bytes(buf[pos + 32 * i : pos + 32 * (i + 1)]) for i in range(nkeys)]
    pre, post = meta.get("balances", ([], []))
    pre_tok, post_tok = meta.get("tokens", ([], []))
    rec = TxRecord(
        sig, slot, raw, meta["err"], meta["logs"], meta["units"], meta["time"], keys, meta.get("fee", 0), pre, post
    )
    rec.pre_token_balances, rec.post_token_balances = pre_tok, post_tok
    return rec, end


def _decode(buf: bytes) -> Iterator[tuple[int, TxRecord | None, list[tuple[Pubkey, Account]]]]:
    """Yields (slot, transaction, accounts) per complete record; stops at a torn tail."""
    off = len(_MAGIC)
    while off + _REC.size <= len(buf):
        length, slot = _REC.unpack_from(buf, off)
        end = off + _REC.size + length
        if end > len(buf):
            return
        tx, pos = _decode_tx(buf, off + _REC.size, slot)
        (count,) = _U32.unpack_from(buf, pos)
        pos += _U32.size
        accounts = []
        for _ in range(count):
            addr, lamports, owner, executable, rent_epoch, dlen = _ACC.unpack_from(buf, pos)
            pos += _ACC.size
            acct = Account(lamports, buf[pos : pos + dlen], Pubkey.from_bytes(owner), executable, rent_epoch)
            accounts.append((Pubkey.from_bytes(addr), acct))
            pos += dlen
        yield slot, tx, accounts
        off = end


class Journal:
    def __init__(self, path: Path, fsync: bool = False, keep_txs: int = 200_000) -> None:
        self.path = path
        self._fsync = fsync
        self._keep = keep_txs
        self._fh: BinaryIO | None = None
        self._lock_fd: int | None = None
        self._slot = 0  # the highest slot on file

    def _lock(self) -> None:
        # two nodes appending to one journal would interleave records: refuse the second
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path.with_suffix(".lock"), os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            os.close(fd)
            raise ServiceError(f"journal {self.path} is in use by another chain node") from exc
        self._lock_fd = fd

    def load(self) -> tuple[int, dict[Pubkey, Account], list[TxRecord]]:
        """Replay the file: (highest slot, live accounts, transactions oldest first); compacts it."""
        self._lock()
        state: dict[Pubkey, Account] = {}
        txs: list[TxRecord] = []
        slot = 0
        if self.path.exists():
            buf = self.path.read_bytes()
            if buf and not buf.startswith(_MAGIC):
                raise ServiceError(f"{self.path} is not a chain journal (or an older format): move it away")
            for rec_slot, tx, accounts in _decode(buf):
                slot = max(slot, rec_slot)
                if tx is not None:
                    txs.append(tx)
                for addr, acct in accounts:
                    state[addr] = acct
        state = {a: acct for a, acct in state.items() if acct.lamports > 0}
        txs = txs[-self._keep :]
        tmp = self.path.with_suffix(".tmp")
        with open(tmp, "wb") as fh:
            fh.write(_MAGIC + _encode(slot, state.items()))
            for tx in txs:
                fh.write(_encode(tx.slot, (), tx))
        os.replace(tmp, self.path)
        self._slot = slot
        return slot, state, txs

    def append(self, slot: int, accounts: Iterable[tuple[Pubkey, Account]], tx: TxRecord | None = None) -> None:
        if self._fh is None:
            self._fh = open(self.path, "ab")  # held open for the node's lifetime
        self._fh.write(_encode(slot, accounts, tx))
        self._slot = max(self._slot, slot)
        self._fh.flush()
        if self._fsync:
            os.fsync(self._fh.fileno())

    def mark_slot(self, slot: int) -> None:
        """Record the slot clock (idle slots write nothing): a restart does not go back in height."""
        if slot > self._slot:
            self.append(slot, ())

    def close(self) -> None:
        if self._fh is not None:
            self._fh.close()
            self._fh = None
        if self._lock_fd is not None:
            os.close(self._lock_fd)  # releases the flock
            self._lock_fd = None

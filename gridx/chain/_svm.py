"""The local chain's state machine: LiteSVM with our programs, a slot/blockhash model, a
transaction history and an optional account journal. Thread-safe: one lock around LiteSVM.

Slot model (deterministic, no wall clock): the slot advances when a client asks for a
blockhash after transactions were processed since the last one; the last 150 blockhashes
stay valid (as on a real cluster), so concurrent clients holding a recent blockhash work.
"""

from __future__ import annotations

import collections
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from solders.account import Account
from solders.clock import Clock
from solders.hash import Hash
from solders.pubkey import Pubkey
from solders.signature import Signature
from solders.transaction import Transaction, VersionedTransaction

from gridx.errors import ConfigError

from ._errors import err_to_json
from ._ids import PROGRAMS, program_dir, program_ids
from ._journal import Journal, TxRecord

__all__ = ["SvmChain", "TxRecord"]

BLOCKHASH_VALIDITY = 150
FEE_LAMPORTS = 5000
_HISTORY = 200_000


@dataclass(frozen=True)
class SendResult:
    signature: Signature
    err: Any
    logs: list[str]
    units: int


def _writable(tx: Transaction | VersionedTransaction, keys: list[Pubkey]) -> list[Pubkey]:
    h = tx.message.header
    nsig = h.num_required_signatures
    signed_rw = nsig - h.num_readonly_signed_accounts
    unsigned_rw_end = len(keys) - h.num_readonly_unsigned_accounts
    return [k for i, k in enumerate(keys) if i < signed_rw or nsig <= i < unsigned_rw_end]


class SvmChain:
    def __init__(self, programs: Path | None = None, journal: Path | None = None) -> None:
        from solders.litesvm import LiteSVM

        self.lock = threading.RLock()
        self.svm = LiteSVM().with_sigverify(True).with_blockhash_check(False).with_transaction_history(0)
        so_dir = programs or program_dir()
        ids = program_ids()
        for name in PROGRAMS:
            path = so_dir / f"{name}.so"
            if not path.exists():
                raise ConfigError(f"program {path} not found (set GRIDX_PROGRAM_DIR or build programs/)")
            self.svm.add_program_from_file(ids.by_name(name), path)
        self.known: set[Pubkey] = set()  # every address ever touched: LiteSVM cannot enumerate
        self.history: dict[Signature, TxRecord] = {}
        self._order: collections.deque[Signature] = collections.deque()
        self.by_address: dict[Pubkey, list[Signature]] = collections.defaultdict(list)
        self.slot = 1
        self._recent: collections.OrderedDict[Hash, int] = collections.OrderedDict()
        self._dirty = False
        self.clock_offset_s = 0  # tests only (time_travel): the clock is wall time otherwise
        self._journal = Journal(journal) if journal is not None else None
        if self._journal is not None:
            slot, accounts, txs = self._journal.load()
            for addr, acct in accounts.items():
                self.svm.set_account(addr, acct)
                self.known.add(addr)
            for rec in txs:
                self._index(rec)
            self.slot = max(self.slot, slot + 1)
        self._new_block()

    # ------------------------------------------------------------------ blocks
    def _new_block(self) -> None:
        self.svm.expire_blockhash()
        self.svm.set_clock(Clock(self.slot, 0, 0, 0, int(time.time()) + self.clock_offset_s))
        self._recent[self.svm.latest_blockhash()] = self.slot
        while len(self._recent) > BLOCKHASH_VALIDITY:
            self._recent.popitem(last=False)
        self._dirty = False

    def time_travel(self, unix_ts: int) -> None:
        """Tests only: from the next block on, the cluster clock reads ``unix_ts`` (then runs on
        with wall time). Enrolling a meter "yesterday" lets a test mint yesterday's windows."""
        with self.lock:
            self.clock_offset_s = unix_ts - int(time.time())
            self.slot += 1
            self._new_block()

    def latest_blockhash(self) -> tuple[Hash, int]:
        """(blockhash, last valid block height); opens a new block if the last one has txs."""
        with self.lock:
            if self._dirty:
                self.slot += 1
                self._new_block()
            else:
                # no new block, but the cluster clock follows wall time: an idle chain must not
                # refuse a just-ended window as "in the future" forever
                self.svm.set_clock(Clock(self.slot, 0, 0, 0, int(time.time()) + self.clock_offset_s))
            return self.svm.latest_blockhash(), self.slot + BLOCKHASH_VALIDITY

    def blockhash_valid(self, h: Hash) -> bool:
        with self.lock:
            return h in self._recent

    # ------------------------------------------------------------------ transactions
    def simulate(
        self, tx: Transaction | VersionedTransaction, sig_verify: bool = False, replace_blockhash: bool = False
    ) -> SendResult:
        """As a validator's simulateTransaction: signatures unchecked unless asked (so unsigned
        transactions can be simulated), blockhash checked unless it is to be replaced."""
        from solders.transaction_metadata import FailedTransactionMetadata

        with self.lock:
            if not replace_blockhash and tx.message.recent_blockhash not in self._recent:
                return SendResult(tx.signatures[0], "BlockhashNotFound", [], 0)
            self.svm.with_sigverify(sig_verify)  # mutates in place
            try:
                res = self.svm.simulate_transaction(tx)
            finally:
                self.svm.with_sigverify(True)
        meta = res.meta()
        err = err_to_json(res.err()) if isinstance(res, FailedTransactionMetadata) else None
        return SendResult(tx.signatures[0], err, list(meta.logs()), meta.compute_units_consumed())

    def send(self, tx: Transaction | VersionedTransaction, preflight: bool = True) -> SendResult:
        """Execute once. A failure with ``preflight`` leaves no trace (fee refunded, nothing
        recorded), as a validator's preflight rejection; without it the failure is recorded and
        the fee charged. Duplicate detection is ours (LiteSVM's history is off) so that only
        recorded transactions count as processed."""
        from solders.transaction_metadata import FailedTransactionMetadata

        with self.lock:
            sig = tx.signatures[0]
            if tx.message.recent_blockhash not in self._recent:
                return SendResult(sig, "BlockhashNotFound", [], 0)
            if sig in self.history:
                return SendResult(sig, "AlreadyProcessed", [], 0)
            keys = list(tx.message.account_keys)
            payer_before = self.svm.get_account(keys[0]) if preflight else None
            res = self.svm.send_transaction(tx)
            if isinstance(res, FailedTransactionMetadata):
                meta, err = res.meta(), err_to_json(res.err())
            else:
                meta, err = res, None
            out = SendResult(sig, err, list(meta.logs()), meta.compute_units_consumed())
            if err is not None and preflight:
                # a failed transaction only charges its fee payer: undo that, and it never happened
                if payer_before is not None:
                    self.svm.set_account(keys[0], payer_before)
                return out
            rec = TxRecord(sig, self.slot, bytes(tx), err, out.logs, out.units, int(time.time()), keys)
            self._record(rec, _writable(tx, keys) if err is None else keys[:1])
            return out

    def _index(self, rec: TxRecord) -> None:
        self.history[rec.signature] = rec
        self._order.append(rec.signature)
        if len(self._order) > _HISTORY:
            old = self.history.pop(self._order.popleft(), None)
            if old is not None:
                for k in old.account_keys:
                    sigs = self.by_address.get(k)
                    if sigs and sigs[0] == old.signature:
                        sigs.pop(0)
        for k in rec.account_keys:
            self.by_address[k].append(rec.signature)
        self.known.update(rec.account_keys)

    def _record(self, rec: TxRecord, written: list[Pubkey]) -> None:
        """Index a processed transaction and journal it with the accounts it wrote."""
        self._index(rec)
        self._dirty = True
        if self._journal is not None:
            rows = []
            for a in written:
                acct = self.svm.get_account(a)
                rows.append((a, acct if acct is not None else Account(0, b"", Pubkey.default(), False, 0)))
            self._journal.append(self.slot, rows, rec)

    def airdrop(self, to: Pubkey, lamports: int) -> Signature:
        from solders.transaction_metadata import FailedTransactionMetadata

        with self.lock:
            if self._dirty:  # own block: LiteSVM's faucet tx would repeat its signature otherwise
                self.slot += 1
                self._new_block()
            res = self.svm.airdrop(to, lamports)
            if isinstance(res, FailedTransactionMetadata):
                meta, err = res.meta(), err_to_json(res.err())
            else:
                meta, err = res, None
            sig = meta.signature()
            rec = TxRecord(sig, self.slot, b"", err, list(meta.logs()), 0, int(time.time()), [to])
            self._record(rec, [to] if err is None else [])
            return sig

    # ------------------------------------------------------------------ reads
    def account(self, addr: Pubkey) -> Account | None:
        with self.lock:
            acct = self.svm.get_account(addr)
        return None if acct is None or (acct.lamports == 0 and not acct.data) else acct

    def close(self) -> None:
        with self.lock:
            if self._journal is not None:
                self._journal.close()

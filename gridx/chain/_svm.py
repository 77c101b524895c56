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
from typing import Any, Protocol

from solders.account import Account
from solders.clock import Clock
from solders.hash import Hash
from solders.keypair import Keypair
from solders.pubkey import Pubkey
from solders.signature import Signature
from solders.transaction import Transaction, VersionedTransaction

from gridx.errors import ConfigError

from ._balances import Decimals, balances, fee_charged, post_balances, token_balances
from ._errors import err_to_json
from ._ids import PROGRAMS, SYSTEM_PROGRAM_ID, program_dir, program_ids
from ._journal import Journal, TxRecord
from ._tokens import TOKEN_PROGRAMS

__all__ = ["ChainListener", "SvmChain", "TxRecord"]

BLOCKHASH_VALIDITY = 150
FEE_LAMPORTS = 5000
_HISTORY = 200_000
_FAUCET_LAMPORTS = 10**18


@dataclass(frozen=True)
class SendResult:
    signature: Signature
    err: Any
    logs: list[str]
    units: int
    post_accounts: tuple[tuple[Pubkey, Account], ...] = ()  # simulations only


class ChainListener(Protocol):
    """Told of every committed transaction and every new slot, under the chain's lock (so the
    accounts it reads are the post-state of that transaction): must be quick."""

    def committed(self, rec: TxRecord, written: list[Pubkey]) -> None: ...

    def slot_opened(self, slot: int) -> None: ...


def _writable(header: Any, keys: list[Pubkey]) -> list[Pubkey]:
    """The writable signers, then the writable others (slices: clamped, so that a malformed
    header selects nothing rather than wrapping around)."""
    nsig = header.num_required_signatures
    signed_rw = max(0, nsig - header.num_readonly_signed_accounts)
    unsigned_rw_end = max(0, len(keys) - header.num_readonly_unsigned_accounts)
    return keys[: min(signed_rw, len(keys))] + keys[nsig:unsigned_rw_end]


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
        self.listener: ChainListener | None = None  # the node's PubSub
        self.tx_count = 0
        self.blocks: collections.OrderedDict[int, tuple[Hash, int]] = collections.OrderedDict()  # slot: hash, time
        self.by_slot: dict[int, list[Signature]] = collections.defaultdict(list)
        self._decimals = Decimals(self.svm)
        self._token_accounts: set[Pubkey] = set()  # whose pre-state a transaction must read
        self._program_lamports: dict[Pubkey, int] = {}
        self._faucet = Keypair()
        self.svm.set_account(self._faucet.pubkey(), Account(_FAUCET_LAMPORTS, b"", SYSTEM_PROGRAM_ID, False, 0))
        self._journal = Journal(journal) if journal is not None else None
        if self._journal is not None:
            slot, accounts, txs = self._journal.load()
            for addr, acct in accounts.items():
                self.svm.set_account(addr, acct)
                self.known.add(addr)
                if acct.owner in TOKEN_PROGRAMS:
                    self._token_accounts.add(addr)
            for rec in txs:
                self._index(rec)
            self.tx_count = len(txs)
            self.slot = max(self.slot, slot + 1)
        self._new_block()

    # ------------------------------------------------------------------ blocks
    def _new_block(self) -> None:
        self.svm.expire_blockhash()
        now = int(time.time()) + self.clock_offset_s
        self.svm.set_clock(Clock(self.slot, 0, 0, 0, now))
        self._recent[self.svm.latest_blockhash()] = self.slot
        self.blocks[self.slot] = (self.svm.latest_blockhash(), now)
        while len(self.blocks) > _HISTORY:
            self.blocks.popitem(last=False)
        while len(self._recent) > BLOCKHASH_VALIDITY:
            self._recent.popitem(last=False)
        self._dirty = False
        if self.listener is not None:
            self.listener.slot_opened(self.slot)

    def tick(self) -> None:
        """The slot clock: a new block (and block height) even when idle, as a validator's
        leader schedule does, so a blockhash expires after its last valid block height."""
        with self.lock:
            self.slot += 1
            self._new_block()

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
        meta, sig = res.meta(), tx.signatures[0]
        if isinstance(res, FailedTransactionMetadata):
            return SendResult(sig, err_to_json(res.err()), list(meta.logs()), meta.compute_units_consumed())
        return SendResult(sig, None, list(meta.logs()), meta.compute_units_consumed(), tuple(res.post_accounts()))

    def send(self, tx: Transaction | VersionedTransaction, preflight: bool = True) -> SendResult:
        """Execute once. A failure with ``preflight`` leaves no trace (fee refunded, nothing
        recorded), as a validator's preflight rejection; without it the failure is recorded and
        the fee charged. Duplicate detection is ours (LiteSVM's history is off) so that only
        recorded transactions count as processed."""
        from solders.transaction_metadata import FailedTransactionMetadata

        with self.lock:
            sig, msg = tx.signatures[0], tx.message  # each solders accessor builds a new object
            if msg.recent_blockhash not in self._recent:
                return SendResult(sig, "BlockhashNotFound", [], 0)
            if sig in self.history:
                return SendResult(sig, "AlreadyProcessed", [], 0)
            keys = msg.account_keys
            writable = _writable(msg.header, keys)
            programs = {keys[ix.program_id_index] for ix in msg.instructions}
            pre_bal = balances(self.svm, keys, programs, self._program_lamports)
            # only a token account has a pre-state worth copying (its token balance); the payer for
            # the refund below. An account becomes a token account only by being created here.
            pre_acc = {k: self.svm.get_account(k) for k in writable if k in self._token_accounts or k == keys[0]}
            res = self.svm.send_transaction(tx)
            if isinstance(res, FailedTransactionMetadata):
                meta, err = res.meta(), err_to_json(res.err())
            else:
                meta, err = res, None
            out = SendResult(sig, err, list(meta.logs()), meta.compute_units_consumed())
            if err is not None and preflight:
                # a failed transaction only charges its fee payer: undo that, and it never happened
                payer_before = pre_acc.get(keys[0])
                if payer_before is not None:
                    self.svm.set_account(keys[0], payer_before)
                return out
            post_acc = {k: self.svm.get_account(k) for k in (writable if err is None else keys[:1])}
            # a read-only account's lamports cannot change within the transaction
            post_bal = post_balances(keys, pre_bal, post_acc)
            self._token_accounts.update(k for k, a in post_acc.items() if a is not None and a.owner in TOKEN_PROGRAMS)
            rec = TxRecord(sig, self.slot, bytes(tx), err, out.logs, out.units, int(time.time()), keys)
            rec.fee = fee_charged(pre_bal, post_bal, err is None)
            rec.pre_balances, rec.post_balances = pre_bal, post_bal
            rec.pre_token_balances = token_balances(keys, pre_acc, self._decimals)
            rec.post_token_balances = token_balances(keys, post_acc if err is None else pre_acc, self._decimals)
            self._record(rec, post_acc)
            return out

    def _index(self, rec: TxRecord) -> None:
        self.history[rec.signature] = rec
        self._order.append(rec.signature)
        if len(self._order) > _HISTORY:
            old = self.history.pop(self._order.popleft(), None)
            if old is not None:
                in_slot = self.by_slot.get(old.slot)
                if in_slot and in_slot[0] == old.signature:
                    in_slot.pop(0)
                    if not in_slot:
                        del self.by_slot[old.slot]
                for k in old.account_keys:
                    sigs = self.by_address.get(k)
                    if sigs and sigs[0] == old.signature:
                        sigs.pop(0)
        self.by_slot[rec.slot].append(rec.signature)
        for k in rec.account_keys:
            self.by_address[k].append(rec.signature)
        self.known.update(rec.account_keys)

    def _record(self, rec: TxRecord, written: dict[Pubkey, Account | None]) -> None:
        """Index a processed transaction and journal it with the accounts it wrote (post-state)."""
        self._index(rec)
        self._dirty = True
        self.tx_count += 1
        if self._journal is not None:
            empty = Account(0, b"", Pubkey.default(), False, 0)
            self._journal.append(self.slot, [(a, acct or empty) for a, acct in written.items()], rec)
        if self.listener is not None:  # after the journal: nothing is announced that a crash could lose
            self.listener.committed(rec, list(written))

    def airdrop(self, to: Pubkey, lamports: int) -> Signature:
        """A real transfer from the node's faucet (as a test validator's faucet), so the airdrop
        has a transaction to show in getTransaction, with balances and fee."""
        from solders.system_program import TransferParams, transfer

        with self.lock:
            if self._dirty:  # own block, so the same airdrop twice never repeats a signature
                self.slot += 1
                self._new_block()
            ix = transfer(TransferParams(from_pubkey=self._faucet.pubkey(), to_pubkey=to, lamports=lamports))
            tx = Transaction.new_signed_with_payer(
                [ix], self._faucet.pubkey(), [self._faucet], self.svm.latest_blockhash()
            )
            return self.send(tx, preflight=False).signature

    # ------------------------------------------------------------------ reads
    def account(self, addr: Pubkey) -> Account | None:
        with self.lock:
            acct = self.svm.get_account(addr)
        return None if acct is None or (acct.lamports == 0 and not acct.data) else acct

    def mint_decimals(self, mint: Pubkey) -> int | None:
        with self.lock:
            return self._decimals(mint)

    def close(self) -> None:
        with self.lock:
            if self._journal is not None:
                self._journal.mark_slot(self.slot)
                self._journal.close()

"""Shared helpers of the smoke run: one LiteSVM with the three programs, anchorpy instruction
building and decoding, raw SPL token instructions, and meter-signed readings."""

from __future__ import annotations

import hashlib
import json
import struct
from pathlib import Path

from anchorpy import Context, EventParser, Idl, Program, Provider, Wallet
from nacl.signing import SigningKey
from solana.rpc.async_api import AsyncClient
from solders.instruction import AccountMeta, Instruction
from solders.keypair import Keypair
from solders.litesvm import LiteSVM
from solders.message import Message
from solders.pubkey import Pubkey
from solders.transaction import Transaction
from solders.transaction_metadata import FailedTransactionMetadata

PROGRAMS_DIR = Path(__file__).resolve().parent.parent
IDS = {
    k: Pubkey.from_string(v)
    for k, v in json.loads((PROGRAMS_DIR / "program_ids.json").read_text()).items()
    if not k.startswith("_") and k != "deployer"
}
INSTRUCTIONS = Pubkey.from_string("Sysvar1nstructions1111111111111111111111111")
# The compiled-in deployer of local chains (program_ids.json "deployer"): only it may initialise.
DEPLOYER = Keypair.from_seed(hashlib.sha256(b"gridtokenx/deployer").digest())
SYSTEM = Pubkey.from_string("11111111111111111111111111111111")
TOKEN = Pubkey.from_string("TokenkegQfeZyiNwAJbNbGKPFXCWuBvf9Ss623VQ5DA")
ATA = Pubkey.from_string("ATokenGPvbdGVxr1b2hvZbsiqW5xWH25efTNsLJA8knL")


def pda(prog: str, *seeds: bytes) -> Pubkey:
    return Pubkey.find_program_address(list(seeds), IDS[prog])[0]


class Chain:
    """The LiteSVM with registry, energy_token and trading loaded from `so_dir`, and their anchorpy clients."""

    def __init__(self, so_dir: Path) -> None:
        self.svm = LiteSVM()
        for name, pid in IDS.items():
            self.svm.add_program_from_file(pid, str(so_dir / f"{name}.so"))
        self.progs: dict[str, Program] = {}
        provider = Provider(AsyncClient("http://127.0.0.1:8899"), Wallet(Keypair()))  # never contacted
        for name, pid in IDS.items():
            idl = Idl.from_json((PROGRAMS_DIR / "idl" / f"{name}.json").read_text())
            self.progs[name] = Program(idl, pid, provider)

    def funded(self) -> Keypair:
        kp = Keypair()
        self.svm.airdrop(kp.pubkey(), 100 * 10**9)
        return kp

    def ix(self, prog: str, name: str, *args, accounts: dict) -> Instruction:
        return self.progs[prog].instruction[name](*args, ctx=Context(accounts=accounts))

    def send(self, ixs, signers, expect_error: str | None = None):
        """Send one transaction; exit on an unexpected outcome (failure, or success when `expect_error`)."""
        svm = self.svm
        payer = signers[0]
        msg = Message.new_with_blockhash(
            ixs if isinstance(ixs, list) else [ixs], payer.pubkey(), svm.latest_blockhash()
        )
        tx = Transaction(signers, msg, svm.latest_blockhash())
        res = svm.send_transaction(tx)
        # a fresh blockhash per transaction, so identical retries are not rejected as duplicates
        svm.expire_blockhash()
        failed = isinstance(res, FailedTransactionMetadata)
        logs = list(res.meta().logs() if failed else res.logs())
        if expect_error is not None:
            if not failed:
                raise SystemExit(f"expected failure {expect_error!r} but tx succeeded:\n" + "\n".join(logs))
            text = str(res.err()) + "\n".join(logs)
            if expect_error not in text:
                raise SystemExit(f"expected {expect_error!r}, got {res.err()}:\n" + "\n".join(logs))
            return res
        if failed:
            raise SystemExit(f"tx failed: {res.err()}\n" + "\n".join(logs))
        return res

    def events(self, prog: str, res) -> list:
        """Decode this program's Anchor events ("Program data: <base64>") with anchorpy's EventParser."""
        out: list = []
        EventParser(IDS[prog], self.progs[prog].coder).parse_logs(list(res.logs()), out.append)
        return out

    def fetch(self, prog: str, addr: Pubkey):
        acct = self.svm.get_account(addr)
        assert acct is not None, f"no account {addr}"
        return self.progs[prog].coder.accounts.decode(bytes(acct.data))

    def custom_err(self, prog: str, name: str) -> str:
        code = next(e.code for e in self.progs[prog].idl.errors if e.name == name)
        return f"Custom({code})"

    def closed(self, addr: Pubkey) -> bool:
        acct = self.svm.get_account(addr)
        return acct is None or acct.lamports == 0

    def set_clock(self, unix_ts: int) -> None:
        from solders.clock import Clock

        self.svm.set_clock(Clock(1, 0, 0, 0, unix_ts))

    # ------------------------------------------------------------ SPL token (raw instructions)

    def token_balance(self, acct: Pubkey) -> int:
        a = self.svm.get_account(acct)
        return struct.unpack_from("<Q", bytes(a.data), 64)[0] if a else 0

    def create_mint_ixs(self, payer: Keypair, mint: Keypair, decimals: int, authority: Pubkey) -> list[Instruction]:
        from solders.system_program import CreateAccountParams, create_account

        lamports = self.svm.minimum_balance_for_rent_exemption(82)
        return [
            create_account(
                CreateAccountParams(
                    from_pubkey=payer.pubkey(), to_pubkey=mint.pubkey(), lamports=lamports, space=82, owner=TOKEN
                )
            ),
            Instruction(
                TOKEN, bytes([20, decimals]) + bytes(authority) + bytes([0]), [AccountMeta(mint.pubkey(), False, True)]
            ),
        ]


def ata(owner: Pubkey, mint: Pubkey) -> Pubkey:
    return Pubkey.find_program_address([bytes(owner), bytes(TOKEN), bytes(mint)], ATA)[0]


def create_ata_ix(payer: Pubkey, owner: Pubkey, mint: Pubkey) -> Instruction:
    return Instruction(
        ATA,
        bytes([1]),
        [  # CreateIdempotent
            AccountMeta(payer, True, True),
            AccountMeta(ata(owner, mint), False, True),
            AccountMeta(owner, False, False),
            AccountMeta(mint, False, False),
            AccountMeta(SYSTEM, False, False),
            AccountMeta(TOKEN, False, False),
        ],
    )


def mint_to_ix(mint: Pubkey, dest: Pubkey, authority: Pubkey, amount: int) -> Instruction:
    return Instruction(
        TOKEN,
        bytes([7]) + struct.pack("<Q", amount),
        [AccountMeta(mint, False, True), AccountMeta(dest, False, True), AccountMeta(authority, True, False)],
    )


# ------------------------------------------------------------ meter keys and readings


def proof_ix(key: SigningKey, owner: Pubkey, edge_id: bytes) -> Instruction:
    """The meter key's proof of possession (Ed25519-program check) for register_meter."""
    from gridx.chain import ed25519_ix, enrolment_message

    msg = enrolment_message(Pubkey.from_bytes(key.verify_key.encode()), owner, edge_id)
    return ed25519_ix(key.verify_key.encode(), bytes(key.sign(msg).signature), msg)


def reading(key: SigningKey, seq: int, start: int, produced: int, consumed: int = 0) -> tuple[bytes, bytes]:
    """(canonical bytes, signature) of one 900 s reading (gridx/wire.py)."""
    from gridx.wire import UnsignedReading, canonical_bytes

    u = UnsignedReading(
        meter_id="smoke",
        seq=seq,
        window_start=start,
        window_end=start + 900,
        produced_wh=produced,
        consumed_wh=consumed,
        produced_total_wh=produced * seq,
        consumed_total_wh=consumed * seq,
    )
    raw = canonical_bytes(u)
    return raw, bytes(key.sign(raw).signature)

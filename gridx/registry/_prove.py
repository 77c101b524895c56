"""``gridx prove``: the signed readings behind a mint, verified from the database and the chain.

An auditor's question is "which energy, signed by which meter, backs these tokens?". The mint
transaction itself carries the readings' canonical bytes (DESIGN §4), so the chain alone
answers most of it; the database adds the readings around them (the hash chain). Checked:

1. the transaction succeeded and its TokensMinted event names the meter, the amount and the
   hash of the last reading it covers;
2. each reading's signature (taken from the transaction's Ed25519 instruction) verifies against
   the meter key enrolled in the on-chain registry;
3. each reading is stored in the database with the same bytes and signature;
4. the hash chain: each covered reading's ``prev_hash`` is the hash of the meter's previous
   reading — stored, or quarantined with zero credit while the meter's chain moved past it
   (its signature checked too) — and the event's committed hash is the hash of the last
   covered reading;
5. the sum: (produced - consumed) x 1,000 over the covered readings equals the event's amount,
   the recorded token_mints rows, and the owner's credit.
"""

from __future__ import annotations

import hashlib
import itertools
import struct
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, cast

import psycopg
from nacl.exceptions import BadSignatureError
from nacl.signing import VerifyKey
from pydantic import ValidationError
from solders.pubkey import Pubkey
from solders.signature import Signature

from gridx.chain import ED25519_PROGRAM_ID, decode_account, decode_events, fetch_account, meter_pda, program_ids
from gridx.errors import ChainError
from gridx.wire import DOMAIN_TAG, Reading, reading_hash, verify_reading

if TYPE_CHECKING:
    from solana.rpc.async_api import AsyncClient
    from solders.transaction import VersionedTransaction

__all__ = ["Check", "Proof", "prove"]

_TAIL = struct.Struct(">QqqqqQQ32s")


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    detail: str = ""


@dataclass
class Proof:
    signature: str
    meter: str = ""
    owner: str = ""
    amount: int = 0
    readings: list[dict[str, Any]] = field(default_factory=list)
    checks: list[Check] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return bool(self.checks) and all(c.ok for c in self.checks)

    def check(self, name: str, ok: bool, detail: str = "") -> None:
        self.checks.append(Check(name, ok, detail))


def _parse(b: bytes) -> dict[str, Any]:
    """Canonical reading bytes (gridx/wire.py) back to their fields."""
    head = len(DOMAIN_TAG) + 1
    n = b[head + 2]
    seq, ws, we, prod, cons, _ptot, _ctot, prev = _TAIL.unpack(b[head + 3 + n :])
    return {
        "meter_id": b[head + 3 : head + 3 + n].decode("ascii"),
        "seq": seq,
        "window_start": ws,
        "window_end": we,
        "produced_wh": prod,
        "consumed_wh": cons,
        "prev_hash": prev.hex(),
        "hash": hashlib.sha256(b).hexdigest(),
    }


def _readings(data: bytes) -> list[bytes]:
    """mint_readings instruction data: discriminator, then borsh Vec<bytes>."""
    (n,) = struct.unpack_from("<I", data, 8)
    out, pos = [], 12
    for _ in range(n):
        (size,) = struct.unpack_from("<I", data, pos)
        out.append(data[pos + 4 : pos + 4 + size])
        pos += 4 + size
    return out


def _sigs(ed: bytes) -> list[bytes]:
    """The signatures of an Ed25519-program instruction, in entry order (offsets into itself)."""
    return [ed[off : off + 64] for off in (struct.unpack_from("<H", ed, 2 + 14 * i)[0] for i in range(ed[0]))]


async def _resolve(conn: psycopg.Connection, target: str) -> str:
    """A transaction signature, or ``meter_id@window_start`` (unix seconds) of a minted window."""
    if "@" not in target:
        return target
    meter_id, start = target.rsplit("@", 1)
    with conn.transaction():
        row = conn.execute(
            "SELECT tx_signature FROM token_mints WHERE meter_id = %s AND window_start = to_timestamp(%s)",
            (meter_id, int(start)),
        ).fetchone()
    if row is None:
        raise ChainError(f"no mint recorded for {target}", "NotMinted")
    return str(row[0])


async def _from_chain(client: AsyncClient, p: Proof) -> list[tuple[bytes, bytes]]:
    """Check the transaction and its event; returns (canonical bytes, signature) per reading."""
    resp = await client.get_transaction(
        Signature.from_string(p.signature), encoding="base64", max_supported_transaction_version=0
    )
    if resp.value is None:
        raise ChainError(f"transaction {p.signature} not found", "NotFound")
    meta, tx = resp.value.transaction.meta, resp.value.transaction.transaction
    p.check("transaction succeeded", meta is not None and meta.err is None)
    msg = cast("VersionedTransaction", tx).message
    keys = msg.account_keys
    energy = program_ids().energy_token
    signed: list[tuple[bytes, bytes]] = []
    for i, ix in enumerate(msg.instructions):
        if keys[ix.program_id_index] == energy and i > 0:
            before = msg.instructions[i - 1]
            if keys[before.program_id_index] == ED25519_PROGRAM_ID:
                p.meter = str(keys[ix.accounts[3]])  # the registry's meter account
                signed += list(zip(_readings(bytes(ix.data)), _sigs(bytes(before.data)), strict=True))
    events = [e for e in decode_events(meta.log_messages or []) if e.name == "TokensMinted"] if meta else []
    p.check("one TokensMinted event", len(events) == 1, f"{len(events)} found")
    if events:
        ev = events[0].data
        p.owner, p.amount = str(ev.owner), int(ev.amount)
        p.meter = str(ev.meter)
        last = hashlib.sha256(signed[-1][0]).hexdigest() if signed else ""
        p.check("event commits to the last reading", bytes(ev.last_reading_hash).hex() == last, last)
    return signed


def _stored(conn: psycopg.Connection, meter_id: str, first_seq: int, last_seq: int) -> list[tuple[Any, ...]]:
    with conn.transaction():
        return conn.execute(
            """SELECT seq, extract(epoch FROM window_start)::bigint, extract(epoch FROM window_end)::bigint,
                      produced_wh, consumed_wh, produced_total_wh, consumed_total_wh, prev_hash, hash, sig
                 FROM readings WHERE meter_id = %s AND seq BETWEEN %s AND %s ORDER BY seq""",
            (meter_id, first_seq - 1, last_seq),
        ).fetchall()


def _zero_credit(
    conn: psycopg.Connection, key: VerifyKey, meter_id: str, first: int, last: int
) -> dict[int, tuple[Any, ...]]:
    """Links of the meter's chain that were refused with zero credit (``chain_advanced``): the
    gateway quarantined them, yet the next reading chains on them. Only ones whose payload is a
    reading signed by the enrolled key count as links."""
    with conn.transaction():
        rows = conn.execute(
            """SELECT payload FROM quarantine
                WHERE meter_id = %s AND chain_advanced AND seq BETWEEN %s AND %s""",
            (meter_id, first - 1, last),
        ).fetchall()
    out: dict[int, tuple[Any, ...]] = {}
    for (payload,) in rows:
        try:
            r = Reading.model_validate_json(payload)
        except ValidationError:
            continue
        if r.meter_id == meter_id and verify_reading(r, key):
            out[r.seq] = (r.seq, r.window_start, r.window_end, 0, 0, 0, 0, r.prev_hash, reading_hash(r), r.sig)
    return out


async def prove(client: AsyncClient, conn: psycopg.Connection, target: str) -> Proof:
    """Every check of the module docstring for the mint ``target`` (a signature or meter@window)."""
    p = Proof(await _resolve(conn, target))
    signed = await _from_chain(client, p)
    if not signed:
        p.check("the transaction carries meter-signed readings", False)
        return p
    meter = Pubkey.from_string(p.meter)
    acct = await fetch_account(client, meter_pda(meter))
    enrolled = decode_account("registry", acct).meter if acct else None
    p.check("meter enrolled in the on-chain registry", enrolled == meter, str(meter))
    key = VerifyKey(bytes(meter))
    for canonical, sig in signed:
        r = _parse(canonical)
        try:
            key.verify(canonical, sig)
            good = True
        except BadSignatureError:
            good = False
        p.check(f"signature of seq {r['seq']} by the enrolled key", good)
        p.readings.append({**r, "sig": sig.hex()})
    rs = p.readings
    stored = {row[0]: row for row in _stored(conn, rs[0]["meter_id"], rs[0]["seq"], rs[-1]["seq"])}
    for r in rs:
        row = stored.get(r["seq"])
        same = row is not None and (row[1], row[2], row[3], row[4], row[8], row[9]) == (
            r["window_start"],
            r["window_end"],
            r["produced_wh"],
            r["consumed_wh"],
            r["hash"],
            r["sig"],
        )
        p.check(f"seq {r['seq']} stored with the same bytes and signature", same)
    # the chain of hashes: from the reading before the first covered one to the last covered one
    chain = {**_zero_credit(conn, key, rs[0]["meter_id"], rs[0]["seq"], rs[-1]["seq"]), **stored}
    prev = chain.get(rs[0]["seq"] - 1)
    links = [row for seq, row in sorted(chain.items())]
    ok = all(b[7] == a[8] for a, b in itertools.pairwise(links))
    if prev is None and rs[0]["seq"] > 1:
        ok = False
    p.check("hash chain unbroken up to the committed hash", ok and bool(links) and links[-1][8] == rs[-1]["hash"])
    total = sum((r["produced_wh"] - r["consumed_wh"]) * 1000 for r in rs)
    with conn.transaction():
        row = conn.execute(
            "SELECT coalesce(sum(amount), 0)::bigint FROM token_mints WHERE tx_signature = %s", (p.signature,)
        ).fetchone()
    recorded = int(row[0]) if row else 0
    p.check("sum of signed surplus = minted amount = recorded", total == p.amount == recorded, f"{total}")
    return p

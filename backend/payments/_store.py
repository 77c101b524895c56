"""PostgreSQL records of swaps and of every relayer step (sql/050_payments.sql)."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import psycopg
from psycopg.rows import dict_row

from backend.payments._swap import FINAL, Leg, SwapStatus

__all__ = [
    "SwapRecord",
    "history",
    "insert_swap",
    "load_swap",
    "open_swaps",
    "record_step",
    "save_legs",
    "set_buyer_secret",
]


@dataclass(frozen=True)
class SwapRecord:
    swap_id: uuid.UUID
    buyer_wallet: str
    seller_wallet: str
    buyer_evm: str
    seller_evm: str
    sell_order_id: int
    grxe: int
    grx: int
    thb_per_grx: Decimal
    thbc: int
    hashlock: bytes
    evm_lock_id: bytes | None = None
    evm_deadline: int | None = None
    sol_deadline: int | None = None
    evm_leg: Leg = Leg.NONE
    sol_leg: Leg = Leg.NONE
    status: SwapStatus = SwapStatus.QUOTED
    buyer_secret: bytes | None = None
    preimage: bytes | None = None


_COLS = [
    "swap_id", "buyer_wallet", "seller_wallet", "buyer_evm", "seller_evm", "sell_order_id", "grxe", "grx",
    "thb_per_grx", "thbc", "hashlock", "evm_lock_id", "evm_deadline", "sol_deadline", "evm_leg", "sol_leg",
    "status", "buyer_secret", "preimage",
]  # fmt: skip


def _row(r: dict[str, Any]) -> SwapRecord:
    d = {k: r[k] for k in _COLS}
    for k in ("hashlock", "evm_lock_id", "buyer_secret", "preimage"):
        d[k] = bytes(d[k]) if d[k] is not None else None
    d["thbc"] = int(d["thbc"])
    d["evm_leg"], d["sol_leg"], d["status"] = Leg(d["evm_leg"]), Leg(d["sol_leg"]), SwapStatus(d["status"])
    return SwapRecord(**d)


def insert_swap(conn: psycopg.Connection, s: SwapRecord) -> None:
    vals = [getattr(s, k) for k in _COLS]
    vals = [v.value if isinstance(v, Leg | SwapStatus) else v for v in vals]
    with conn.transaction():
        conn.execute(
            f"INSERT INTO payment_swaps ({', '.join(_COLS)}) VALUES ({', '.join(['%s'] * len(_COLS))})",  # noqa: S608
            vals,
        )
        record_step(conn, s.swap_id, "quoted", {"grxe": s.grxe, "thbc": s.thbc, "rate": str(s.thb_per_grx)})


def load_swap(conn: psycopg.Connection, swap_id: uuid.UUID) -> SwapRecord:
    with conn.cursor(row_factory=dict_row) as cur:
        row = cur.execute("SELECT * FROM payment_swaps WHERE swap_id = %s", [swap_id]).fetchone()
    if row is None:
        raise KeyError(swap_id)
    return _row(row)


def open_swaps(conn: psycopg.Connection) -> list[SwapRecord]:
    final = [s.value for s in FINAL]
    with conn.cursor(row_factory=dict_row) as cur:
        rows = cur.execute(
            "SELECT * FROM payment_swaps WHERE status <> ALL(%s) ORDER BY created_at", [final]
        ).fetchall()
    return [_row(r) for r in rows]


def history(conn: psycopg.Connection, wallet: str, limit: int = 100) -> list[SwapRecord]:
    with conn.cursor(row_factory=dict_row) as cur:
        rows = cur.execute(
            "SELECT * FROM payment_swaps WHERE buyer_wallet = %s OR seller_wallet = %s"
            " ORDER BY created_at DESC LIMIT %s",
            [wallet, wallet, limit],
        ).fetchall()
    return [_row(r) for r in rows]


def record_step(conn: psycopg.Connection, swap_id: uuid.UUID, step: str, detail: dict[str, Any]) -> None:
    conn.execute(
        "INSERT INTO payment_swap_steps (swap_id, step, detail) VALUES (%s, %s, %s::jsonb)",
        [swap_id, step, json.dumps(detail)],
    )


def save_legs(conn: psycopg.Connection, s: SwapRecord, **changes: Any) -> SwapRecord:
    """Store what the relayer observed (legs, status, deadlines, lock id, revealed secret)."""
    from dataclasses import replace

    new = replace(s, **changes)
    done = new.status in (SwapStatus.COMPLETED, SwapStatus.REFUNDED)
    with conn.transaction():
        conn.execute(
            """UPDATE payment_swaps SET evm_leg = %s, sol_leg = %s, status = %s, evm_lock_id = %s,
                   evm_deadline = %s, sol_deadline = %s, preimage = %s, updated_at = now(),
                   completed_at = CASE WHEN %s THEN now() ELSE completed_at END
               WHERE swap_id = %s""",
            [
                new.evm_leg.value, new.sol_leg.value, new.status.value, new.evm_lock_id,
                new.evm_deadline, new.sol_deadline, new.preimage, done, s.swap_id,
            ],
        )  # fmt: skip
        record_step(
            conn,
            s.swap_id,
            "observed",
            {"evm": new.evm_leg.value, "sol": new.sol_leg.value, "status": new.status.value},
        )
    return new


def set_buyer_secret(conn: psycopg.Connection, swap_id: uuid.UUID, secret: bytes) -> None:
    """The buyer asks the relayer to claim its GRXE: it hands over the secret (public once used)."""
    with conn.transaction():
        conn.execute(
            "UPDATE payment_swaps SET buyer_secret = %s, updated_at = now() WHERE swap_id = %s", [secret, swap_id]
        )
        record_step(conn, swap_id, "claim_requested", {})

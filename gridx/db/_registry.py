"""Registry writes (enrol, revoke) and listing: used by ``gridx meters`` and the benchmark.
Sync: these are operator actions, not the hot path."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal

import psycopg
from psycopg.rows import class_row

from gridx.errors import GridxError

__all__ = ["EnrolmentError", "MeterRecord", "enroll_meter", "list_meters", "revoke_meter"]


class EnrolmentError(GridxError):
    """The meter cannot be enrolled or revoked as asked."""


@dataclass(frozen=True)
class MeterRecord:
    meter_id: str
    pubkey: str
    owner_wallet: str
    edge_id: str
    rated_power_w: int
    status: str
    created_at: datetime
    updated_at: datetime


def enroll_meter(
    conn: psycopg.Connection,
    *,
    meter_id: str,
    pubkey_hex: str,
    owner_wallet: str,
    edge_id: str,
    rated_power_w: int,
    owner_type: Literal["prosumer", "consumer"] = "prosumer",
    interval_s: int = 900,
) -> None:
    """Enrol a meter (creating its owner if needed), in one transaction. ``interval_s`` is
    the meter's window length: the gateway credits only windows aligned to it."""
    try:
        with conn.transaction():
            conn.execute(
                "INSERT INTO users (wallet, user_type) VALUES (%s, %s) ON CONFLICT (wallet) DO NOTHING",
                (owner_wallet, owner_type),
            )
            conn.execute(
                """INSERT INTO meters (meter_id, pubkey, owner_wallet, edge_id, rated_power_w, interval_s)
                   VALUES (%s, %s, %s, %s, %s, %s)""",
                (meter_id, pubkey_hex.lower(), owner_wallet, edge_id, rated_power_w, interval_s),
            )
    except psycopg.errors.UniqueViolation as exc:
        raise EnrolmentError(f"meter {meter_id!r} or its public key is already enrolled") from exc
    except psycopg.errors.CheckViolation as exc:
        raise EnrolmentError(f"invalid enrolment: {exc.diag.constraint_name}") from exc


def revoke_meter(conn: psycopg.Connection, meter_id: str) -> None:
    with conn.transaction():
        cur = conn.execute("UPDATE meters SET status = 'revoked', updated_at = now() WHERE meter_id = %s", (meter_id,))
        if cur.rowcount != 1:
            raise EnrolmentError(f"meter {meter_id!r} is not enrolled")


def list_meters(conn: psycopg.Connection) -> list[MeterRecord]:
    with conn.cursor(row_factory=class_row(MeterRecord)) as cur:
        cur.execute(
            """SELECT meter_id, pubkey, owner_wallet, edge_id, rated_power_w, status, created_at, updated_at
                 FROM meters ORDER BY meter_id"""
        )
        return cur.fetchall()

"""Operator actions on a meter's registry row and chain state (``gridx meters …``), database
side. Each is one transaction with an audit row in ``meter_events``. Registry fields the chain
owns (status, key, edge, rated power, interval) are refused for a meter enrolled on chain: the
mirror would silently undo them; the command acts on chain first (``gateway._meter_chain``) and
the mirror follows."""

from __future__ import annotations

import psycopg
from psycopg import sql

from gridx.errors import GridxError
from gridx.wire import GENESIS_HASH

__all__ = ["MeterOpError", "check_db_only", "rebaseline", "set_registry_field", "stalled", "unrevoke"]


class MeterOpError(GridxError):
    """The operator action cannot be done as asked."""


def _meter(conn: psycopg.Connection, meter_id: str) -> tuple[str, bool]:
    row = conn.execute("SELECT status, on_chain FROM meters WHERE meter_id = %s FOR UPDATE", (meter_id,)).fetchone()
    if row is None:
        raise MeterOpError(f"meter {meter_id!r} is not enrolled")
    return str(row[0]), bool(row[1])


def _event(conn: psycopg.Connection, meter_id: str, action: str, detail: str) -> None:
    conn.execute("INSERT INTO meter_events (meter_id, action, detail) VALUES (%s, %s, %s)", (meter_id, action, detail))


def _db_only_allowed(meter_id: str, on_chain: bool, chain_done: bool, what: str) -> None:
    if on_chain and not chain_done:
        raise MeterOpError(
            f"meter {meter_id!r} is enrolled on chain: {what} goes on chain first (pass --rpc-url); "
            "a database-only change would be undone by the registry mirror"
        )


def check_db_only(conn: psycopg.Connection, meter_id: str, what: str) -> None:
    """Refuse a database-only change of a chain-enrolled meter (e.g. a revoke)."""
    with conn.transaction():
        _, on_chain = _meter(conn, meter_id)
        _db_only_allowed(meter_id, on_chain, False, what)


def rebaseline(conn: psycopg.Connection, meter_id: str, seq: int = 0, last_hash: str = GENESIS_HASH) -> int:
    """Restart the meter's chain after ``seq``/``last_hash`` (default: from genesis, e.g. a new
    edge device that starts again at seq 1). Credited windows never go back: the last credited
    window end stays, so nothing already credited can be credited again. Held readings of the
    meter are closed. Returns how many held readings were closed."""
    if seq < 0 or len(last_hash) != 64:
        raise MeterOpError("seq must be >= 0 and the hash 64 hex characters")
    with conn.transaction():
        _meter(conn, meter_id)
        conn.execute(
            """UPDATE meter_state SET last_seq = %s, last_hash = %s, produced_total_wh = NULL,
                      consumed_total_wh = NULL, updated_at = now() WHERE meter_id = %s""",
            (seq, last_hash, meter_id),
        )
        cur = conn.execute(
            """UPDATE quarantine SET closed_at = now(), detail = left(detail || ' | closed: rebaselined', 2000)
                WHERE meter_id = %s AND reason = 'chain_gap' AND readmitted_at IS NULL AND closed_at IS NULL""",
            (meter_id,),
        )
        _event(conn, meter_id, "rebaseline", f"after seq {seq} hash {last_hash}")
        return cur.rowcount


def unrevoke(conn: psycopg.Connection, meter_id: str, *, chain_done: bool = False) -> None:
    with conn.transaction():
        status, on_chain = _meter(conn, meter_id)
        if status == "active":
            raise MeterOpError(f"meter {meter_id!r} is not revoked")
        _db_only_allowed(meter_id, on_chain, chain_done, "un-revoking")
        conn.execute("UPDATE meters SET status = 'active', updated_at = now() WHERE meter_id = %s", (meter_id,))
        _event(conn, meter_id, "unrevoke", "")


_FIELDS = {
    "pubkey": "rotate_key",
    "rated_power_w": "set_rated_power",
    "edge_id": "move_edge",
    "interval_s": "set_interval",
}


def set_registry_field(
    conn: psycopg.Connection, meter_id: str, column: str, value: str | int, *, chain_done: bool = False
) -> None:
    """Key rotation, rated power, the serving edge, the interval: all the chain's for a
    chain-enrolled meter (the program checks each minted window against the interval too)."""
    action = _FIELDS.get(column)
    if action is None:
        raise MeterOpError(f"unknown registry field {column!r}")
    with conn.transaction():
        _, on_chain = _meter(conn, meter_id)
        _db_only_allowed(meter_id, on_chain, chain_done, action.replace("_", " "))
        try:
            conn.execute(
                sql.SQL("UPDATE meters SET {} = %s, updated_at = now() WHERE meter_id = %s").format(
                    sql.Identifier(column)
                ),
                (value, meter_id),
            )
        except (psycopg.errors.CheckViolation, psycopg.errors.UniqueViolation) as exc:
            raise MeterOpError(f"refused: {exc.diag.message_primary}") from None
        _event(conn, meter_id, action, str(value))


def stalled(conn: psycopg.Connection, intervals: int = 3) -> list[tuple[str, int, int]]:
    """Active meters whose chain has not moved for ``intervals`` of their intervals:
    (meter_id, seconds since it last moved, held readings)."""
    rows = conn.execute(
        """SELECT m.meter_id, extract(epoch FROM now() - s.updated_at)::bigint,
                  (SELECT count(*) FROM quarantine q WHERE q.meter_id = m.meter_id AND q.reason = 'chain_gap'
                      AND q.readmitted_at IS NULL AND q.closed_at IS NULL)
             FROM meters m JOIN meter_state s ON s.meter_id = m.meter_id
            WHERE m.status = 'active' AND s.updated_at < now() - make_interval(secs => %s * m.interval_s)
            ORDER BY s.updated_at""",
        (intervals,),
    ).fetchall()
    return [(str(a), int(b), int(c)) for a, b, c in rows]

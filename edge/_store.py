"""Durable edge state: per-meter chain state and the outbox, in one SQLite file (WAL).

One poll cycle is one transaction: the signed readings enter the outbox together with the
meter states they advance, so after any crash the two agree and a seq is never signed twice
with different content. ``synchronous=FULL``: in WAL mode NORMAL survives a process kill but
may lose the last commits on power loss, and then the agent would re-sign an already
published seq with a different window (a fork the gateway must reject). One fsync per poll
cycle (~1/s) is cheap even on an SD card.

Rows leave the outbox only after the broker's PUBACK (see ``_publisher``).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable
from pathlib import Path

from edge._intervals import MeterState
from gridx.paths import ensure_private_dir

__all__ = ["Outbox", "open_db"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meter_state (
    meter_id TEXT PRIMARY KEY,
    seq INTEGER NOT NULL,
    window_end INTEGER NOT NULL,
    produced_total_wh INTEGER NOT NULL,
    consumed_total_wh INTEGER NOT NULL,
    last_hash TEXT NOT NULL,
    still_mwh INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS outbox (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    meter_id TEXT NOT NULL,
    seq INTEGER NOT NULL,
    body TEXT NOT NULL,
    UNIQUE (meter_id, seq)
);
"""


def open_db(path: Path) -> sqlite3.Connection:
    """One connection per thread; WAL lets the publisher read while the poller writes."""
    ensure_private_dir(path.parent)
    conn = sqlite3.connect(path, timeout=30.0, isolation_level=None, check_same_thread=True)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=FULL")
    conn.execute("PRAGMA busy_timeout=30000")
    conn.executescript(_SCHEMA)
    return conn


class Outbox:
    def __init__(self, path: Path) -> None:
        self.path = path
        self.conn = open_db(path)

    def close(self) -> None:
        self.conn.close()

    def load_states(self) -> dict[str, MeterState]:
        rows = self.conn.execute(
            "SELECT meter_id, seq, window_end, produced_total_wh, consumed_total_wh, last_hash, still_mwh "
            "FROM meter_state"
        ).fetchall()
        return {r[0]: MeterState(*r) for r in rows}

    def commit_cycle(self, states: Iterable[MeterState], readings: Iterable[tuple[str, int, str]]) -> None:
        """Store the advanced states and the new (meter_id, seq, reading json) rows atomically."""
        c = self.conn
        c.execute("BEGIN IMMEDIATE")
        try:
            c.executemany(
                "INSERT INTO meter_state VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (meter_id) DO UPDATE SET "
                "seq=excluded.seq, window_end=excluded.window_end, produced_total_wh=excluded.produced_total_wh, "
                "consumed_total_wh=excluded.consumed_total_wh, last_hash=excluded.last_hash, "
                "still_mwh=excluded.still_mwh",
                [
                    (
                        s.meter_id,
                        s.seq,
                        s.window_end,
                        s.produced_total_wh,
                        s.consumed_total_wh,
                        s.last_hash,
                        s.still_mwh,
                    )
                    for s in states
                ],
            )
            c.executemany("INSERT INTO outbox (meter_id, seq, body) VALUES (?, ?, ?)", list(readings))
        except BaseException:
            c.execute("ROLLBACK")
            raise
        c.execute("COMMIT")

    def fetch_after(self, cursor: int, limit: int) -> list[tuple[int, str]]:
        return self.conn.execute(
            "SELECT id, body FROM outbox WHERE id > ? ORDER BY id LIMIT ?", (cursor, limit)
        ).fetchall()

    def delete_range(self, lo: int, hi: int) -> None:
        self.conn.execute("DELETE FROM outbox WHERE id BETWEEN ? AND ?", (lo, hi))

    def pending(self) -> int:
        row = self.conn.execute("SELECT count(*) FROM outbox").fetchone()
        return int(row[0])

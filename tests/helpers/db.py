"""Readings written straight into the database (the read side's tests need no gateway)."""

from __future__ import annotations

from datetime import datetime, timedelta

import psycopg

__all__ = ["insert_reading"]


def insert_reading(
    conn: psycopg.Connection, meter: str, start: datetime, produced: int, consumed: int, seq: int
) -> None:
    conn.execute(
        """INSERT INTO readings (meter_id, window_start, window_end, seq, produced_wh, consumed_wh, surplus_wh,
                                 produced_total_wh, consumed_total_wh, prev_hash, hash, sig, edge_id, sent_at_ms)
           VALUES (%s, %s, %s, %s, %s, %s, %s, 0, 0, '', '', '', 'e', 0)""",
        (meter, start, start + timedelta(minutes=15), seq, produced, consumed, produced - consumed),
    )

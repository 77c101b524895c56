"""The chain's MeterRegistered → the ``meters`` row, for an enrolment the API prepared. Run by
whichever applies the confirmed transaction first (the submit path or the indexer, in the
caller's transaction), so a submit that died after sending is healed by the indexer."""

from __future__ import annotations

from typing import Any

import psycopg
from solders.pubkey import Pubkey

from gridx.errors import GridxError

__all__ = ["EnrolmentConflict", "apply_meter_registered"]


class EnrolmentConflict(GridxError):
    """The chain enrolled a key whose requested meter id another key took meanwhile: kept as
    the event's apply error (and counted) rather than a row under a made-up id."""


def _edge(raw: Any) -> str:
    # the event's [u8; 32], as the indexer stores it (a list of ints or hex)
    data = bytes.fromhex(raw) if isinstance(raw, str) else bytes(raw)
    return data.rstrip(b"\0").decode(errors="replace")


async def apply_meter_registered(conn: psycopg.AsyncConnection, sig: str, d: dict[str, Any]) -> None:
    """Insert the meter under the meter id its enrolment asked for, with the chain's rated
    power and interval. The enrolment submitted as this transaction if there is one, else the
    latest for this key (signed and sent elsewhere: the API never prepares a key under two
    ids at once). A key enrolled outside the API (``gridx meters enroll`` writes its own
    mirror row) has no enrolment here and is left to that path and the registry mirror."""
    pubkey = bytes(Pubkey.from_string(d["meter"])).hex()
    params = {"pubkey": pubkey, "owner": d["owner"], "edge": _edge(d["edge_id"]), "sig": sig}
    row = await (
        await conn.execute(
            """SELECT e.meter_id, e.owner_type FROM meter_enrolments e JOIN prepared_txs p ON p.id = e.tx_id
                WHERE e.pubkey = %(pubkey)s AND e.owner_wallet = %(owner)s AND e.edge_id = %(edge)s
                ORDER BY p.tx_signature IS NOT DISTINCT FROM %(sig)s DESC, e.tx_id DESC LIMIT 1""",
            params,
        )
    ).fetchone()
    if row is None:
        return
    meter_id, owner_type = row
    await conn.execute(
        "INSERT INTO users (wallet, user_type) VALUES (%s, %s) ON CONFLICT (wallet) DO NOTHING",
        (d["owner"], owner_type),
    )
    cur = await conn.execute(
        """INSERT INTO meters (meter_id, pubkey, owner_wallet, edge_id, rated_power_w, interval_s, on_chain)
           VALUES (%(meter_id)s, %(pubkey)s, %(owner)s, %(edge)s, %(rated)s, %(interval)s, true)
           ON CONFLICT DO NOTHING""",
        {**params, "meter_id": meter_id, "rated": d["rated_power_w"], "interval": d["interval_s"]},
    )
    if cur.rowcount == 0:
        taken = await (await conn.execute("SELECT 1 FROM meters WHERE pubkey = %s", (pubkey,))).fetchone()
        if taken is None:
            raise EnrolmentConflict(f"meter id {meter_id!r} belongs to another key; key {pubkey} is not mirrored")

"""``gridx meters`` operator repairs, against a real database: rebaseline a meter whose new
edge device restarts at seq 1, un-revoke, rotate a key, change rated power and interval, and
the refusal of database-only changes to a chain-enrolled meter."""

from __future__ import annotations

from typing import Any

import psycopg
from typer.testing import CliRunner

from gateway._judge import Candidate
from gridx.cli import app
from gridx.wire import GENESIS_HASH, reading_hash
from tests.gateway.test_gateway_defects import _flush
from tests.helpers.gateway import INTERVAL, Meter, scalar, setup_db


def cli(dsn: str, *args: str) -> Any:
    return CliRunner().invoke(app, ["meters", *args], env={"GRIDX_DSN": dsn})


def entry_of(dsn: str, m: Meter) -> Any:
    from gateway._checks import RegistryEntry

    with psycopg.connect(dsn) as c:
        row = c.execute(
            "SELECT meter_id, pubkey, owner_wallet, edge_id, rated_power_w, status = 'active', interval_s,"
            " extract(epoch FROM created_at)::bigint FROM meters WHERE meter_id = %s",
            (m.meter_id,),
        ).fetchone()
    return RegistryEntry(*row)


def send(dsn: str, m: Meter, readings: list[Any]) -> None:
    e = entry_of(dsn, m)
    _flush(dsn, [Candidate("msg", r, e, reading_hash(r), 0.0, 0) for r in readings], [])


def test_a_new_edge_device_restarting_at_seq_1_flows_after_rebaseline(pg_dsn):
    setup_db(pg_dsn)
    m = Meter("pi", "edge-a").enroll(pg_dsn)
    send(pg_dsn, m, [m.next() for _ in range(3)])
    assert scalar(pg_dsn, "SELECT count(*) FROM readings") == 3
    # the replacement Pi starts its chain again at seq 1 (its counters carry on)
    m.seq, m.last_hash = 0, GENESIS_HASH
    fresh = [m.next() for _ in range(2)]
    send(pg_dsn, m, fresh[:1])
    assert scalar(pg_dsn, "SELECT reason FROM quarantine") == "forked"  # stranded until repaired
    res = cli(pg_dsn, "rebaseline", "--meter-id", "pi")
    assert res.exit_code == 0, res.output
    send(pg_dsn, m, fresh)
    assert scalar(pg_dsn, "SELECT count(*) FROM readings") == 5
    assert scalar(pg_dsn, "SELECT sum(produced_wh) FROM readings") == 5 * 50  # nothing twice
    assert scalar(pg_dsn, "SELECT action FROM meter_events") == "rebaseline"


def test_unrevoke_rotate_rated_power_interval_and_chain_owned_fields(pg_dsn):
    setup_db(pg_dsn)
    Meter("op", "edge-a").enroll(pg_dsn)
    assert cli(pg_dsn, "revoke", "--meter-id", "op").exit_code == 0
    assert cli(pg_dsn, "unrevoke", "--meter-id", "op").exit_code == 0
    assert scalar(pg_dsn, "SELECT status FROM meters") == "active"
    assert cli(pg_dsn, "unrevoke", "--meter-id", "op").exit_code == 1  # not revoked
    new_key = Meter("x", "edge-a").pubkey_hex
    assert cli(pg_dsn, "rotate-key", "--meter-id", "op", "--pubkey", new_key).exit_code == 0
    assert scalar(pg_dsn, "SELECT pubkey FROM meters") == new_key
    assert cli(pg_dsn, "set-rated-power", "--meter-id", "op", "--watts", "7000").exit_code == 0
    assert scalar(pg_dsn, "SELECT rated_power_w FROM meters") == 7000
    assert cli(pg_dsn, "set-interval", "--meter-id", "op", "--interval-s", "7").exit_code == 1  # 86400 % 7
    assert cli(pg_dsn, "set-interval", "--meter-id", "op", "--interval-s", str(INTERVAL * 5)).exit_code == 0
    # a chain-enrolled meter: a database-only revoke would be undone by the mirror
    with psycopg.connect(pg_dsn) as c:
        c.execute("UPDATE meters SET on_chain = true")
    for args in (["revoke"], ["set-rated-power", "--watts", "1"], ["rotate-key", "--pubkey", new_key]):
        res = cli(pg_dsn, args[0], "--meter-id", "op", *args[1:])
        assert res.exit_code == 1 and "on chain" in res.output, res.output
    assert scalar(pg_dsn, "SELECT status FROM meters") == "active"

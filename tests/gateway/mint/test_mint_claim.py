"""Claims of concurrent mint workers take turns (several loops per process, or processes).

Two overlapping claims could each read candidates before the other committed its leases: the
later one could then lock a row the earlier one left unchosen, of a meter that now has a
transaction in flight, and send that later window first; the chain's high-water mark would
then refuse the earlier windows for good (seen as 'refused' rows and a supply short of the
readings in ``gridx bench mint`` with two workers)."""

from __future__ import annotations

import threading

import psycopg
from solders.keypair import Keypair

from gateway.mint._plan import MintJob
from gateway.mint._store import claim_jobs
from gridx.db import connect, enroll_meter, migrate
from tests.helpers.gateway import wait_until

_WAITING = "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'claim-b' AND wait_event_type = 'Lock'"


def _outbox(dsn: str, meter: str, windows: int, age_s: float = 120.0) -> None:
    """Outbox rows without their readings (``age_s`` old: past the claim's grace by default)."""
    with connect(dsn) as conn, conn.transaction():
        enroll_meter(
            conn,
            meter_id=meter,
            pubkey_hex=bytes(Keypair().pubkey()).hex(),
            owner_wallet=str(Keypair().pubkey()),
            edge_id="edge",
            rated_power_w=1_000,
        )
        for w in range(windows):
            conn.execute(
                "INSERT INTO mint_outbox (meter_id, window_start, window_end, surplus_wh, amount, created_at)"
                " VALUES (%s, to_timestamp(%s), to_timestamp(%s), 1, 1000, now() - make_interval(secs => %s))",
                (meter, 900 * w, 900 * (w + 1), age_s),
            )


def test_a_claim_waits_for_the_open_one_and_skips_its_meter(pg_dsn: str) -> None:
    migrate(pg_dsn)
    _outbox(pg_dsn, "m1", 4)
    got_b: list[MintJob] = []
    b_done = threading.Event()

    def claim_b() -> None:
        with connect(pg_dsn, app="claim-b") as conn:
            got_b.extend(claim_jobs(conn, 100, 30.0, lambda js: js, per_meter=4))
        b_done.set()

    b = threading.Thread(target=claim_b)

    def choose_a(jobs: list[MintJob]) -> list[MintJob]:
        # A's claim is open (its candidates locked): B starts now and must wait for A's commit
        b.start()
        with psycopg.connect(pg_dsn, autocommit=True) as watch:

            def b_waits_or_ends() -> bool:
                row = watch.execute(_WAITING).fetchone()
                return b_done.is_set() or bool(row and row[0])

            wait_until(b_waits_or_ends, 30, "claim B waiting on the claim lock, or done")
        assert not b_done.is_set(), "claim B ran while claim A was open"
        return sorted(jobs, key=lambda j: j.outbox_id)[:3]  # A sends windows 0-2, leaves 3 (no readings here)

    with connect(pg_dsn, app="claim-a") as conn:
        got_a = claim_jobs(conn, 100, 30.0, choose_a, per_meter=4)
    b.join()
    assert sorted(j.outbox_id for j in got_a) == [1, 2, 3]
    # m1 has a transaction in flight: its window 3 must wait for it, not overtake it
    assert got_b == []


def test_a_row_whose_reading_is_not_visible_yet_waits_and_is_not_failed(pg_dsn: str) -> None:
    """A reading is committed with its outbox row, but a claim planned just before a new
    hypertable chunk appeared can miss it: the row must wait for a later claim, not fail."""
    migrate(pg_dsn)
    _outbox(pg_dsn, "fresh", 1, age_s=0)
    _outbox(pg_dsn, "stale", 1)
    with connect(pg_dsn) as conn:
        got = claim_jobs(conn, 100, 30.0, lambda js: js)
    assert [j.meter_id for j in got] == ["stale"]  # claimed, and then failed alone as unpackable
    with connect(pg_dsn) as conn:
        row = conn.execute("SELECT status, attempts FROM mint_outbox WHERE meter_id = 'fresh'").fetchone()
    assert row == ("pending", 0)


def test_overlapping_passes_never_share_a_meter_and_serve_the_oldest_first(pg_dsn: str) -> None:
    """A worker claims its next pass before the last one is recorded: the meters of a pass in
    flight (a live lease) are in no later claim, and a claim smaller than the backlog takes the
    meters that waited longest (ids in arrival order), not the lowest meter ids."""
    migrate(pg_dsn)
    for meter in ("m-z", "m-a", "m-b"):  # m-z's rows arrived first
        _outbox(pg_dsn, meter, 2)
    claims = []
    with connect(pg_dsn) as conn:
        for _ in range(4):  # nothing recorded in between: every pass is still in flight
            claims.append(sorted({j.meter_id for j in claim_jobs(conn, 2, 30.0, lambda js: js, per_meter=2)}))
    assert claims == [["m-z"], ["m-a"], ["m-b"], []]

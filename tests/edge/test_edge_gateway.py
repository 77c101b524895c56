"""Producer meets consumer: simulated meters → edge agent → mosquitto → the real gateway →
PostgreSQL. Every reading the edge signs passes every gateway check, also across an edge
restart (the re-sent copies are recognised, nothing is stored twice) and a meter's counter
reset (the chain goes on)."""

from __future__ import annotations

from pathlib import Path

import psycopg
from solders.keypair import Keypair

from edge.cli import SIM_RATED_POWER_W
from firmware_sim._fleet import Fault, Fleet, FleetConfig
from firmware_sim._server import serve_in_thread
from gridx.db import enroll_meter
from gridx.services import MosquittoBroker
from tests.helpers.edge import AgentThread, modbus_ports, provision_edge, wait_until
from tests.helpers.gateway import GatewayThread, gateway_config, scalar, setup_db

SPEED = 30.0
NOON_BKK = 1_700_000_000 // 86400 * 86400 + 5 * 3600


def test_edge_readings_pass_the_gateway(broker: MosquittoBroker, pg_dsn: str, tmp_path: Path) -> None:
    n = 8
    port = modbus_ports()
    fleet = Fleet(FleetConfig(count=n, seed=2, speed=SPEED, start_s=NOON_BKK))
    cfg, keys = provision_edge(
        tmp_path, broker, "edge-g", n, port, interval_s=1, poll_period_s=0.5, max_power_w=5_000_000
    )
    setup_db(pg_dsn)
    with psycopg.connect(pg_dsn) as conn:
        for i, (mid, key) in enumerate(keys.items()):
            enroll_meter(
                conn,
                meter_id=mid,
                pubkey_hex=key.encode().hex(),
                owner_wallet=str(Keypair().pubkey()),
                edge_id="edge-g",
                rated_power_w=int(SIM_RATED_POWER_W * SPEED),
                owner_type="prosumer" if fleet.profile(i).prosumer else "consumer",
                interval_s=1,
            )
    gw = GatewayThread(gateway_config(broker, pg_dsn)).start()
    stored = lambda: scalar(pg_dsn, "SELECT count(*) FROM readings")  # noqa: E731
    try:
        with serve_in_thread(fleet, "127.0.0.1", port):
            agent = AgentThread(cfg).start()
            wait_until(lambda: stored() >= 3 * n, 60, "readings stored")
            agent.stop()
            # a restarted agent resumes the chains from its own database
            agent = AgentThread(cfg).start()
            before = stored()
            wait_until(lambda: stored() >= before + 3 * n, 60, "readings after the restart")
            # a meter's counters reset to zero: the chain goes on, nothing is quarantined
            first = sorted(keys)[0]
            reset_at = scalar(pg_dsn, "SELECT max(seq) FROM readings WHERE meter_id = %s", first)
            fleet.set_fault(0, Fault.ROLLBACK)
            wait_until(
                lambda: scalar(pg_dsn, "SELECT max(seq) FROM readings WHERE meter_id = %s", first) >= reset_at + 3,
                60,
                "readings of the reset meter",
            )
            agent.stop()
    finally:
        gw.stop()

    reasons = dict(psycopg.connect(pg_dsn).execute("SELECT reason, count(*) FROM quarantine GROUP BY 1").fetchall())
    # a graceful restart leaves nothing to re-send; anything else would be a real rejection
    assert reasons == {}, reasons
    with psycopg.connect(pg_dsn) as c:
        rows = c.execute(
            "SELECT meter_id, count(*), max(seq), count(DISTINCT seq) FROM readings GROUP BY meter_id"
        ).fetchall()
        assert len(rows) == n
        for mid, count, max_seq, distinct in rows:
            assert count == distinct == max_seq, f"{mid}: stored seqs are not 1..n"
        surplus = c.execute("SELECT count(*) FROM readings WHERE produced_wh > consumed_wh").fetchone()
        minted = c.execute("SELECT count(*) FROM mint_outbox").fetchone()
        assert surplus == minted
        low = c.execute(
            "SELECT min(produced_total_wh) FROM readings WHERE meter_id = %s AND seq > %s", (first, reset_at)
        ).fetchone()
        high = c.execute(
            "SELECT max(produced_total_wh) FROM readings WHERE meter_id = %s AND seq <= %s", (first, reset_at)
        ).fetchone()
        assert low is not None and high is not None and low[0] < high[0], "the reset reached the gateway"

from __future__ import annotations

import re

from tests.helpers.gateway import GatewayThread, Meter, Publisher, gateway_config, scalar, setup_db, wait_until


def test_readings_flow_end_to_end(broker, pg_dsn):
    setup_db(pg_dsn)
    meters = [Meter(f"m{i}", "edge-a").enroll(pg_dsn) for i in range(3)]
    # a non-default loopback address: /metrics must be served where the settings say
    gw = GatewayThread(gateway_config(broker, pg_dsn, metrics_host="127.0.0.2")).start()
    pub = Publisher(broker, "edge-a")
    try:
        for _ in range(4):
            pub.publish([m.next() for m in meters])
        wait_until(lambda: scalar(pg_dsn, "SELECT count(*) FROM readings") == 12, 20, "12 readings")
        wait_until(pub.all_acked, 10, "acks")
        assert scalar(pg_dsn, "SELECT count(*) FROM mint_outbox") == 12
        assert scalar(pg_dsn, "SELECT sum(amount) FROM mint_outbox") == 12 * 30 * 1000
        assert scalar(pg_dsn, "SELECT count(*) FROM quarantine") == 0
        import urllib.request

        with urllib.request.urlopen(f"http://127.0.0.2:{gw.gw.metrics_port}/metrics", timeout=5) as resp:
            text = resp.read().decode()
        names = set(re.findall(r"^(gridx_[a-z0-9_]+)", text, re.M))
        assert names and all(n.startswith("gridx_gateway_") for n in names), names  # its own registry only
        assert "gridx_gateway_readings_accepted_total 12.0" in text
        assert 'gridx_gateway_readings_rejected_total{reason="bad_signature"} 0.0' in text
        assert "gridx_gateway_e2e_latency_seconds_count 4.0" in text
    finally:
        pub.close()
        gw.stop()


def test_meters_cli_enroll_list_revoke(pg_dsn):
    from typer.testing import CliRunner

    from gridx.cli import app

    runner = CliRunner()
    env = {"GRIDX_DSN": pg_dsn}
    assert runner.invoke(app, ["db", "migrate"], env=env).exit_code == 0
    assert "up to date" in runner.invoke(app, ["db", "migrate"], env=env).output
    m = Meter("cli-1", "edge-c")
    args = ["meters", "enroll", "--meter-id", m.meter_id, "--pubkey", m.pubkey_hex, "--owner", m.owner]
    args += ["--edge", "edge-c", "--rated-power-w", "4000", "--owner-type", "consumer"]
    res = runner.invoke(app, args, env=env)
    assert res.exit_code == 0, res.output
    assert runner.invoke(app, args, env=env).exit_code == 1  # enrolled once
    assert scalar(pg_dsn, "SELECT user_type FROM users WHERE wallet = %s", m.owner) == "consumer"
    out = runner.invoke(app, ["meters", "list"], env=env).output
    assert "cli-1\tactive\tedge-c\t4000 W" in out
    assert runner.invoke(app, ["meters", "revoke", "--meter-id", "cli-1"], env=env).exit_code == 0
    assert "cli-1\trevoked" in runner.invoke(app, ["meters", "list"], env=env).output
    assert runner.invoke(app, ["meters", "revoke", "--meter-id", "nope"], env=env).exit_code == 1

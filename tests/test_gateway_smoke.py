from __future__ import annotations

from _gateway_helpers import GatewayThread, Meter, Publisher, gateway_config, scalar, setup_db, wait_until


def test_readings_flow_end_to_end(broker, pg_dsn):
    setup_db(pg_dsn)
    meters = [Meter(f"m{i}", "edge-a").enroll(pg_dsn) for i in range(3)]
    gw = GatewayThread(gateway_config(broker, pg_dsn)).start()
    pub = Publisher(broker, "edge-a")
    try:
        for _ in range(4):
            pub.publish([m.next() for m in meters])
        wait_until(lambda: scalar(pg_dsn, "SELECT count(*) FROM readings") == 12, 20, "12 readings")
        wait_until(pub.all_acked, 10, "acks")
        assert scalar(pg_dsn, "SELECT count(*) FROM mint_outbox") == 12
        assert scalar(pg_dsn, "SELECT sum(amount) FROM mint_outbox") == 12 * 30 * 1000
        assert scalar(pg_dsn, "SELECT count(*) FROM quarantine") == 0
    finally:
        pub.close()
        gw.stop()

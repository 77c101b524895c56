"""Every verdict, crafted and sent through the real broker and database: each bad reading is
quarantined under its reason while the good readings travelling beside it are stored."""

from __future__ import annotations

import json
import time
from collections import Counter
from collections.abc import Callable

import psycopg
from nacl.signing import SigningKey

from gridx.db import revoke_meter
from gridx.errors import Reason
from gridx.wire import MAX_BATCH_BYTES, MAX_BATCH_READINGS, Batch, UnsignedReading, reading_hash
from tests.helpers.gateway import (
    INTERVAL,
    GatewayThread,
    Meter,
    Publisher,
    gateway_config,
    scalar,
    setup_db,
    wait_until,
)

MAX_AGE = 6 * 3600


def quarantined(dsn: str) -> Counter[str]:
    with psycopg.connect(dsn) as c:
        return Counter({r: n for r, n in c.execute("SELECT reason, count(*) FROM quarantine GROUP BY reason")})


def test_every_reason_is_quarantined_and_good_readings_survive(broker, pg_dsn):
    setup_db(pg_dsn)
    g1, g2 = Meter("good-1", "edge-a").enroll(pg_dsn), Meter("good-2", "edge-a").enroll(pg_dsn)
    # a long-running meter: its counters are far above what one window can hold, so a counter
    # going back is a fault, not a reset to zero (which the gateway lets the chain continue through)
    v = Meter("victim", "edge-a", rated_power_w=5000, produced_total=1_000_000, consumed_total=1_000_000)
    v.enroll(pg_dsn)
    other = Meter("other-edge", "edge-b").enroll(pg_dsn)
    rev = Meter("revoked", "edge-a").enroll(pg_dsn)
    ghost = Meter("ghost", "edge-a")  # never enrolled
    gw = GatewayThread(gateway_config(broker, pg_dsn, max_age_s=MAX_AGE, gap_grace_s=600)).start()
    pub = Publisher(broker, "edge-a")
    try:
        v0 = v.next()
        pub.publish([g1.next(), g2.next(), v0, rev.next()])
        wait_until(lambda: scalar(pg_dsn, "SELECT count(*) FROM readings") == 4, 20, "baseline readings")

        # revocation reaches the gateway's cache through NOTIFY, not through a restart
        before = gw.gw._registry.invalidations
        with psycopg.connect(pg_dsn) as c:
            revoke_meter(c, "revoked")
        wait_until(lambda: gw.gw._registry.invalidations > before, 5, "registry invalidation")

        now = int(time.time()) // INTERVAL * INTERVAL
        expect: Counter[str] = Counter()

        def bad(reason: Reason, item: object) -> object:
            expect[reason.value] += 1
            return item

        def refused(reason: Reason, u: UnsignedReading) -> object:
            """Signed and linked, refused for its content: the chain moves on, nothing credited."""
            r = bad(reason, v.sign(u))
            end = v.window_end
            v.advance(u)
            v.window_end = end
            return r

        crafted = [
            g1.next(),
            bad(Reason.MALFORMED, {"meter_id": "victim", "seq": "two"}),
            bad(Reason.UNSUPPORTED_VERSION, v.sign(v.unsigned(v=2))),
            bad(Reason.UNKNOWN_METER, ghost.next()),
            bad(Reason.REVOKED_METER, rev.next()),
            bad(Reason.WRONG_EDGE, other.next()),
            bad(Reason.BAD_SIGNATURE, v.sign(v.unsigned(), key=SigningKey.generate())),  # forged
            bad(Reason.BAD_SIGNATURE, v.sign(v.unsigned(), key=g2.key)),  # another meter's key
            bad(Reason.REPLAYED, v0),
            bad(Reason.FORKED, v.sign(v.unsigned(prev_hash="ab" * 32))),  # not on the last reading
            refused(Reason.DUPLICATE, v.unsigned(window_start=v0.window_start, window_end=v0.window_end)),
            refused(
                Reason.STALE_OR_FUTURE, v.unsigned(window_start=now - 2 * MAX_AGE, window_end=now - 2 * MAX_AGE + 60)
            ),
            refused(Reason.STALE_OR_FUTURE, v.unsigned(window_start=now + 3600, window_end=now + 3660)),
            refused(Reason.IMPLAUSIBLE, v.unsigned(produced=5000 * INTERVAL // 3600 + 1)),  # above rated power
            refused(Reason.IMPLAUSIBLE, v.unsigned(produced=-1)),
            refused(Reason.IMPLAUSIBLE, v.unsigned(produced=0, produced_total_wh=v.produced_total - 1)),
            bad(
                Reason.CHAIN_GAP,
                v.sign(
                    v.unsigned(
                        seq=v.seq + 5,
                        prev_hash="cd" * 32,
                        window_start=v.window_end + 5 * INTERVAL,
                        window_end=v.window_end + 6 * INTERVAL,
                    )
                ),
            ),  # a hole: held in the quarantine (the grace is longer than this test)
            g2.next(),
        ]
        pub.publish(crafted)

        _unreadable_messages(pub, bad, g1)
        v_seq = v.seq
        g1.seq -= 1  # that reading was never accepted: chain the next one on its predecessor
        g1.last_hash, g1.window_end = reading_hash(crafted[0]), crafted[0].window_end
        g1.produced_total, g1.consumed_total = crafted[0].produced_total_wh, crafted[0].consumed_total_wh
        pub.publish([g1.next(), v.next()])  # the victim's chain is intact: its next good reading is accepted

        total = sum(expect.values())
        wait_until(lambda: sum(quarantined(pg_dsn).values()) >= total, 20, f"{total} quarantined")
        wait_until(pub.all_acked, 10, "every message acknowledged")
        assert quarantined(pg_dsn) == expect
        # db_refused and unexpected have their own tests (a database trigger, a poisoned intake)
        assert set(expect) | {"db_refused", "unexpected"} == {r.value for r in Reason}, "a reason has no case"
        assert scalar(pg_dsn, "SELECT count(*) FROM readings") == 4 + 2 + 2
        assert scalar(pg_dsn, "SELECT count(*) FROM readings WHERE meter_id = 'victim'") == 2
        assert scalar(pg_dsn, "SELECT last_seq FROM meter_state WHERE meter_id = 'victim'") == v_seq + 1
        assert scalar(pg_dsn, "SELECT count(*) FROM quarantine WHERE chain_advanced") == 6
        # metrics count what the quarantine holds
        assert gw.gw.rejected[Reason.IMPLAUSIBLE] == 3
        assert scalar(pg_dsn, "SELECT count(*) FROM quarantine WHERE payload = '' OR edge_id <> 'edge-a'") == 0
    finally:
        pub.close()
        gw.stop()


def _unreadable_messages(pub: Publisher, bad: Callable[[Reason, object], object], g1: Meter) -> None:
    """Whole messages that cannot be read are quarantined once, with the edge they came from."""
    pub.publish_raw(bad(Reason.MALFORMED, b"this is not json"))
    pub.publish_raw(bad(Reason.UNSUPPORTED_VERSION, json.dumps({"v": 2, "edge_id": "edge-a"}).encode()))
    pub.publish_raw(bad(Reason.OVERSIZED, b"{" + b" " * (MAX_BATCH_BYTES + 1) + b"}"))
    too_many = json.dumps({"v": 1, "edge_id": "edge-a", "sent_at_ms": 0, "readings": [{}] * (MAX_BATCH_READINGS + 1)})
    pub.publish_raw(bad(Reason.OVERSIZED, too_many.encode()))
    pub.publish_raw(
        bad(
            Reason.WRONG_EDGE,
            Batch(edge_id="edge-b", sent_at_ms=0, readings=[g1.next()]).model_dump_json().encode(),
        )
    )


def test_a_reading_the_database_refuses_is_quarantined_alone(broker, pg_dsn):
    """Not an outage: the database rejects one row (here a test trigger). Retrying the batch
    would loop forever; the gateway stores the rest and quarantines that one."""
    setup_db(pg_dsn)
    good, poison = Meter("fine", "edge-a").enroll(pg_dsn), Meter("poison", "edge-a").enroll(pg_dsn)
    with psycopg.connect(pg_dsn) as c:
        c.execute(
            """CREATE FUNCTION refuse_poison() RETURNS trigger LANGUAGE plpgsql AS $$
               BEGIN
                   IF NEW.meter_id = 'poison' THEN RAISE EXCEPTION 'refused by the test trigger'; END IF;
                   RETURN NEW;
               END $$"""
        )
        c.execute("CREATE TRIGGER refuse BEFORE INSERT ON readings FOR EACH ROW EXECUTE FUNCTION refuse_poison()")
    gw = GatewayThread(gateway_config(broker, pg_dsn)).start()
    pub = Publisher(broker, "edge-a")
    try:
        pub.publish([good.next(), poison.next(), good.next()])
        wait_until(lambda: scalar(pg_dsn, "SELECT count(*) FROM quarantine") == 1, 20, "the refused reading")
        assert scalar(pg_dsn, "SELECT count(*) FROM readings WHERE meter_id = 'fine'") == 2
        assert "refused by the test trigger" in scalar(
            pg_dsn, "SELECT detail FROM quarantine WHERE reason = 'db_refused'"
        )
        pub.publish([good.next()])  # and the gateway carries on
        wait_until(lambda: scalar(pg_dsn, "SELECT count(*) FROM readings") == 3, 20, "the next reading")
        wait_until(pub.all_acked, 10, "acks")
    finally:
        pub.close()
        gw.stop()


def test_a_chain_gap_is_readmitted_when_the_missing_reading_arrives(broker, pg_dsn):
    """A reading whose predecessor is missing longer than the grace is quarantined as
    chain_gap; when the predecessor is accepted later, the gateway judges it again."""
    setup_db(pg_dsn)
    m = Meter("late", "edge-a").enroll(pg_dsn)
    gw = GatewayThread(gateway_config(broker, pg_dsn, gap_grace_s=600)).start()
    pub = Publisher(broker, "edge-a")
    try:
        r1, r2, r3 = m.next(), m.next(), m.next()
        pub.publish([r2])
        wait_until(lambda: scalar(pg_dsn, "SELECT count(*) FROM quarantine WHERE reason = 'chain_gap'") == 1, 20, "gap")
        wait_until(pub.all_acked, 10, "the gap's message acknowledged")
        pub.publish([r1])
        wait_until(lambda: scalar(pg_dsn, "SELECT count(*) FROM readings") == 2, 20, "r1 and the readmitted r2")
        assert scalar(pg_dsn, "SELECT count(*) FROM quarantine WHERE readmitted_at IS NOT NULL") == 1
        pub.publish([r3])
        wait_until(lambda: scalar(pg_dsn, "SELECT max(seq) FROM readings") == 3, 20, "r3 on the healed chain")
        assert scalar(pg_dsn, "SELECT count(*) FROM quarantine") == 1
        assert scalar(pg_dsn, "SELECT count(*) FROM mint_outbox") == 3
    finally:
        pub.close()
        gw.stop()


def test_a_hole_past_the_grace_is_skipped_recorded_and_backfilled(broker, pg_dsn):
    """seq 1 and 2 are late beyond the gap grace: seq 3 is accepted across the hole (recorded),
    the meter flows on, and when the missing readings turn up (lowest first, as an edge outbox
    re-sends) each is credited once its successor's prev_hash proves it."""
    setup_db(pg_dsn)
    m = Meter("lost", "edge-a").enroll(pg_dsn)
    gw = GatewayThread(gateway_config(broker, pg_dsn, gap_grace_s=0.3)).start()
    pub = Publisher(broker, "edge-a")
    try:
        r1, r2, r3, r4 = m.next(), m.next(), m.next(), m.next()
        pub.publish([r3])
        wait_until(lambda: scalar(pg_dsn, "SELECT count(*) FROM readings") == 1, 20, "seq 3 across the hole")
        assert scalar(pg_dsn, "SELECT after_seq || '-' || before_seq FROM chain_holes") == "0-3"
        pub.publish([r4])
        wait_until(lambda: scalar(pg_dsn, "SELECT max(seq) FROM readings") == 4, 20, "seq 4")
        pub.publish([r1])  # not provable yet: held until seq 2 is in
        wait_until(pub.all_acked, 20, "seq 1 held")
        assert scalar(pg_dsn, "SELECT count(*) FROM readings") == 2
        pub.publish([r2])
        wait_until(lambda: scalar(pg_dsn, "SELECT count(*) FROM readings") == 4, 20, "seq 2 and then seq 1")
        assert scalar(pg_dsn, "SELECT sum(produced_wh) FROM readings") == 4 * 50
        assert scalar(pg_dsn, "SELECT count(*) FROM mint_outbox") == 4
        assert scalar(pg_dsn, "SELECT last_seq FROM meter_state") == 4
        pub.publish([r1, r2])  # and a second copy is a replay, credited nothing
        wait_until(lambda: scalar(pg_dsn, "SELECT count(*) FROM quarantine WHERE reason = 'replayed'") == 2, 20, "dup")
        assert scalar(pg_dsn, "SELECT count(*) FROM readings") == 4
    finally:
        pub.close()
        gw.stop()

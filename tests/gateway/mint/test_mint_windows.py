"""What the gateway credits, the chain mints. A window that starts before the meter's
registration on chain (inside the interval of its enrolment), or one that spans two intervals
(an edge that missed a boundary under load), is refused at the gateway: quarantined with zero
credit while the meter's chain moves on. Before, both were stored, counted in the day's
surplus and then refused by the program, so the day's surplus and its GRXE disagreed.
Real mosquitto, PostgreSQL, gateway and SBF programs in the local LiteSVM node."""

from __future__ import annotations

import psycopg
from solana.rpc.async_api import AsyncClient

from gridx.chain import run_on_chain
from gridx.registry import Proof, prove
from gridx.services import MosquittoBroker
from tests.helpers.gateway import GatewayThread, Publisher, gateway_config, scalar, wait_until
from tests.helpers.mint import EDGE, HOUR, ChainSetup, MintThread, hourly, outbox_counts, reading


def _quarantined(dsn: str) -> int:
    return int(scalar(dsn, "SELECT count(*) FROM quarantine WHERE reason = 'implausible'"))


def test_windows_the_chain_refuses_are_not_credited(chain: ChainSetup, broker: MosquittoBroker) -> None:
    m = hourly("win-rules")
    owner = chain.enroll(m, at=m.window_end + HOUR // 2)  # registered half-way through a window
    early = reading(m, 2_000, 500)  # the window of the registration: it began before it
    u = m.unsigned(4_000, 1_000, window_end=m.window_end + 2 * HOUR)  # two intervals in one
    m.advance(u)
    double = m.sign(u)
    good = reading(m, 3_000, 1_000)
    gw = GatewayThread(gateway_config(broker, chain.dsn)).start()
    worker = MintThread(chain.settings()).start()
    pub = Publisher(broker, EDGE)
    try:
        pub.publish([early, double, good])
        settled = lambda: sum(outbox_counts(chain.dsn).values()) + _quarantined(chain.dsn) == 3  # noqa: E731
        wait_until(settled, 30, "every reading credited or quarantined")
        wait_until(lambda: set(outbox_counts(chain.dsn)) == {"confirmed"}, 30, "the credited window minted")
    finally:
        pub.close()
        worker.stop()
        gw.stop()
    assert outbox_counts(chain.dsn) == {"confirmed": 1}
    assert _quarantined(chain.dsn) == 2
    # the stored day is exactly what was minted
    assert scalar(chain.dsn, "SELECT sum(surplus_wh)::bigint FROM readings WHERE surplus_wh > 0") == 2_000
    assert chain.grxe_balance(str(owner.pubkey())) == 2_000_000
    assert chain.reconcile().drift == 0
    # the proof walks the meter's chain through the two zero-credit links (seq 1 and 2, kept in
    # the quarantine) to the minted seq 3; before, it failed for want of seq 2 in readings
    proof = run_on_chain(chain.url, lambda c: _prove(c, chain.dsn, f"{m.meter_id}@{good.window_start}"))
    assert proof.ok, [ch for ch in proof.checks if not ch.ok]
    assert [r["seq"] for r in proof.readings] == [3] and proof.amount == 2_000_000


async def _prove(client: AsyncClient, dsn: str, target: str) -> Proof:
    with psycopg.connect(dsn) as conn:
        return await prove(client, conn, target)

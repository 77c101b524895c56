"""The operator's dashboard in headless Chromium against a running stack: a second API process
(``GRIDX_API_DASHBOARD=true``, serving the feed of the matcher in the first) on the same
PostgreSQL and chain node. The book and trades must arrive live over the WebSocket; the other
panels must show exactly what the database holds. A screenshot is kept in .run/artifacts/."""

from __future__ import annotations

import os
import secrets
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest
from solders.signature import Signature

from gridx.paths import ROOT
from gridx.services import stop_process
from tests.backend.api.conftest import UNIT, Stack, mint_grxe, start_api
from tests.helpers.browser import Browser
from tests.helpers.db import insert_reading
from tests.helpers.gateway import wait_until

ARTIFACTS = ROOT / ".run" / "artifacts"
ROWS = "[...document.querySelectorAll('{sel}')].map(r => ({{...r.dataset}}))"


@pytest.fixture(scope="module")
def dashboard_url(stack: Stack, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    run = tmp_path_factory.mktemp("dashboard")
    env = {"GRIDX_API_DASHBOARD": "true", "GRIDX_API_MATCHER": "false", "GRIDX_API_INDEXER": "false"}
    proc, url, _log = start_api(stack.dsn, stack.rpc_url, stack.keys, run, **env)
    try:
        yield url
    finally:
        stop_process(proc)


def _seed_ingest(stack: Stack, owner: str) -> dict[str, Any]:
    """What the gateway, the mint worker and the relayer write: 3 hours of readings of one
    meter that has since stopped advancing, refused readings, a mint, a swap under way."""
    meter = f"dash-{secrets.token_hex(4)}"
    hour = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) - timedelta(hours=2)
    produced = [[100 * h + q for q in range(4)] for h in range(1, 4)]
    sig = str(Signature.from_bytes(secrets.token_bytes(64)))
    swap = uuid.uuid4()
    with psycopg.connect(stack.dsn, autocommit=True) as conn:
        conn.execute(
            """INSERT INTO meters (meter_id, pubkey, owner_wallet, edge_id, rated_power_w)
               VALUES (%s, %s, %s, 'dash-edge', 5000)""",
            (meter, secrets.token_hex(32), owner),
        )
        for h, row in enumerate(produced):
            for q, wh in enumerate(row):
                start = hour + timedelta(hours=h, minutes=15 * q)
                insert_reading(conn, meter, start, wh, 30, 1 + 4 * h + q)
        conn.execute("UPDATE meter_state SET updated_at = now() - interval '2 hours' WHERE meter_id = %s", (meter,))
        for reason in ("bad_signature", "bad_signature", "implausible"):
            conn.execute(
                "INSERT INTO quarantine (reason, meter_id, edge_id, payload) VALUES (%s, %s, 'dash-edge', '{}')",
                (reason, meter),
            )
        conn.execute(
            """INSERT INTO token_mints (meter_id, window_start, window_end, amount, surplus_wh, tx_signature, slot)
               VALUES (%s, %s, %s, 7000000, 7000, %s, 42)""",
            (meter, hour, hour + timedelta(minutes=15), sig),
        )
        conn.execute(
            """INSERT INTO payment_swaps (swap_id, buyer_wallet, seller_wallet, buyer_evm, seller_evm, sell_order_id,
                                          grxe, grx, thb_per_grx, thbc, hashlock, evm_leg, status)
               VALUES (%s, %s, %s, '0x01', '0x02', 1, 15000000, 45000000, 10, 450000000, %s, 'locked',
                       'buyer_locked')""",
            (swap, owner, owner, secrets.token_bytes(32)),
        )
    hourly = [[sum(row), 30 * 4] for row in produced]
    return {"meter": meter, "hourly": hourly, "signature": sig, "swap": str(swap)}


def _dom(b: Browser, sel: str) -> list[dict[str, str]]:
    out: list[dict[str, str]] = b.eval(ROWS.format(sel=sel))
    return out


def _levels(b: Browser, side: str) -> list[dict[str, int]]:
    return [{"price": int(r["price"]), "amount": int(r["amount"])} for r in _dom(b, f"#{side}s tr")]


def _book_matches(b: Browser, stack_client: Any) -> bool:
    book = stack_client.book()
    rest_asks = [{"price": lv["price"], "amount": lv["amount"]} for lv in book["asks"]]
    rest_bids = [{"price": lv["price"], "amount": lv["amount"]} for lv in book["bids"]]
    # the page shows asks highest first, so the best ask sits next to the best bid
    return _levels(b, "ask")[::-1] == rest_asks and _levels(b, "bid") == rest_bids


def _check_static_panels(b: Browser, stack: Stack, seeded: dict[str, Any]) -> None:
    accepted = stack.sql("SELECT count(*) FROM readings")[0][0]
    assert b.eval("document.getElementById('accepted').textContent") == str(accepted)
    quarantined = dict(stack.sql("SELECT reason, count(*) FROM quarantine WHERE readmitted_at IS NULL GROUP BY 1"))
    shown = {r["reason"]: int(r["count"]) for r in _dom(b, "#quarantine tr")}
    assert shown == quarantined and shown["bad_signature"] >= 2 and shown["implausible"] >= 1
    assert seeded["meter"] in [r["meter"] for r in _dom(b, "#stalled tr")]
    bars = b.eval(
        f"""[...document.querySelectorAll('svg[data-meter="{seeded["meter"]}"] rect.produced')]
             .map((r, i) => [+r.dataset.wh, +document.querySelectorAll(
                 'svg[data-meter="{seeded["meter"]}"] rect.consumed')[i].dataset.wh])"""
    )
    assert bars == seeded["hourly"]
    mints = {r["signature"]: r for r in _dom(b, "#mints tr")}
    assert mints[seeded["signature"]]["amount"] == "7000000"
    href = b.eval(f"document.querySelector('#mints tr[data-signature=\"{seeded['signature']}\"] a').href")
    assert href.endswith(f"/dashboard/proofs/{seeded['signature']}")
    swaps = {r["swap"]: r["status"] for r in _dom(b, "#swaps tr")}
    assert swaps[seeded["swap"]] == "buyer_locked"


def test_dashboard_live_in_headless_chromium(stack: Stack, dashboard_url: str, tmp_path: Path) -> None:
    a, b, c = stack.user("prosumer"), stack.user("consumer"), stack.user("prosumer")
    seeded = _seed_ingest(stack, c.wallet)
    mint_grxe(stack, a.keypair, [5 * UNIT])
    b.faucet(10 * UNIT)
    with Browser(tmp_path / "chromium") as page:
        page.navigate(f"{dashboard_url}/dashboard/")
        wait_until(lambda: page.eval("document.body.dataset.feed") == "live", 60, "the feed connected")
        wait_until(lambda: int(page.eval("document.body.dataset.overview || 0")) >= 1, 60, "the first overview")
        _check_static_panels(page, stack, seeded)
        # live: orders placed through the first API reach the page over the second one's feed
        low, high = a.sell(2 * UNIT, 3 * UNIT), a.sell(1 * UNIT, 4 * UNIT)
        wait_until(lambda: {"price": 4 * UNIT, "amount": UNIT} in _levels(page, "ask"), 30, "asks on the page")
        wait_until(lambda: _book_matches(page, a), 30, "page book equals the REST book")
        b.buy(1 * UNIT, 3 * UNIT)
        traded = {"amount": str(UNIT), "price": str(3 * UNIT)}

        def trade_shown(status: str) -> bool:
            rows = page.eval(
                "[...document.querySelectorAll('#trades tr')].map(r => [r.dataset.amount, "
                "r.dataset.price, r.lastChild.textContent])"
            )
            return [traded["amount"], traded["price"], status] in rows

        wait_until(lambda: trade_shown("matched") or trade_shown("confirmed"), 30, "the trade on the page")
        wait_until(lambda: _book_matches(page, a), 30, "book after the trade")
        assert {"price": 3 * UNIT, "amount": UNIT} in _levels(page, "ask")
        wait_until(lambda: trade_shown("confirmed"), 60, "the trade settled on the page")
        shot = page.screenshot(ARTIFACTS / f"dashboard-{os.getpid()}.png")
        assert shot.stat().st_size > 10_000
    for order in (low, high):
        a.cancel(order["order_id"])  # the package's other tests expect an empty book
    wait_until(lambda: a.book()["asks"] == [], 30, "book empty again")
    # and no swap but their own (test_api_thb reads every payment_swaps row)
    stack.sql("DELETE FROM payment_swaps WHERE swap_id = %s", uuid.UUID(seeded["swap"]))


def test_dashboard_proof_and_refusals(stack: Stack, dashboard_url: str) -> None:
    # a well-formed signature of no transaction: a named 404, not a chain outage
    unknown = str(Signature.from_bytes(secrets.token_bytes(64)))
    proof = httpx.get(f"{dashboard_url}/dashboard/proofs/{unknown}", timeout=60)
    assert proof.status_code == 404 and proof.json()["code"] == "not_found", proof.text
    assert "not found" in proof.json()["detail"]
    bad = httpx.get(f"{dashboard_url}/dashboard/proofs/not-a-signature", timeout=30)
    assert bad.status_code == 400 and bad.json()["code"] == "invalid_request"
    assert httpx.get(f"{dashboard_url}/dashboard/nope.js").status_code == 404
    # the page itself: no script or style from anywhere but the API
    html = httpx.get(f"{dashboard_url}/dashboard/").text
    assert "http://" not in html and "https://" not in html and "//cdn" not in html
    # off unless asked for: the package's API (no GRIDX_API_DASHBOARD) does not serve it
    assert httpx.get(f"{stack.url}/dashboard/overview").status_code == 404
